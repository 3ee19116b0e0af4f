/**
 * Builds the OpenAPI 3.1 document of the /v1 bridge from the manifest and the schema definitions:
 * one operation per method with a `rest` mapping, plus the manifest's `http` routes (the SSE
 * streams, health and this document). Called by generate.ts; the result is committed as
 * protocol/generated/openapi.json and served at GET /v1/openapi.json (without auth: it holds no secret).
 *
 * Each operation lists its concrete error statuses (from protocol/errors.json `http`, for the
 * manifest's `commonErrors` plus the method's own `errors`), all with the one ErrorBody schema.
 * The SSE routes describe their events as `TypedEvent`, one variant per event type with its data
 * schema from the manifest: OpenAPI 3.1 has no per-item schema for text/event-stream (3.2's
 * `itemSchema`, which the validators and generators here do not read yet), so the stream's schema
 * is the schema of one message's `data:`.
 */
import type { HttpRoute, JsonSchema, Manifest } from './manifest.js';

const toComponents = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(toComponents);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/definitions/', '#/components/schemas/') : toComponents(v);
    }
    return out;
  }
  return node;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const camel = (method: string) => method.replace(/\/(\w)/g, (_, c: string) => c.toUpperCase());

type ParamsDef = { properties?: Record<string, JsonSchema>; required?: string[] };

type ErrorSpec = { code: number; http: number; description: string };

const pascal = (s: string) => s.split(/[/.$_-]+/).filter(Boolean).map((p) => p[0].toUpperCase() + p.slice(1)).join('');

/** The name of an API key's security scheme (`Authorization: Bearer <key>`). */
const BEARER = 'bearerKey';

export function buildOpenApi(definitions: Record<string, JsonSchema>, manifest: Manifest, errors: Record<string, ErrorSpec | string>) {
  const schemas = toComponents(definitions) as Record<string, unknown>;
  const errorTable = Object.fromEntries(Object.entries(errors).filter((e): e is [string, ErrorSpec] => typeof e[1] === 'object'));

  /** One response per concrete status the operation can answer, each naming its codes; the body is always ErrorBody. */
  const errorResponses = (own: string[] = [], opts: { body?: boolean; auth?: boolean } = {}) => {
    const names = [...new Set([...(manifest.commonErrors ?? []), ...own])].filter((n) => opts.auth !== false || n !== 'Unauthorized');
    const byStatus = new Map<number, string[]>();
    for (const n of names) byStatus.set(errorTable[n].http, [...(byStatus.get(errorTable[n].http) ?? []), `${errorTable[n].code} ${n}`]);
    // The bridge's own status for a body that is not JSON (bridge/app.ts), whatever the route.
    if (opts.body !== false) byStatus.set(415, ['-32600 InvalidRequest (the body is not application/json)']);
    return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => [String(status), {
      description: `Error ${codes.join(', ')}.`,
      content: { 'application/json': { schema: ref('ErrorBody') } },
    }]));
  };

  // One schema per event type: the Event with its `type` fixed and its `data` typed (manifest `events`).
  const variants: Record<string, string> = {};
  for (const [type, data] of Object.entries(manifest.events)) {
    const name = `${pascal(type)}Event`;
    if (definitions[name]) throw new Error(`event schema ${name} collides with a definition`);
    variants[type] = name;
    schemas[name] = {
      description: `The \`${type}\` event.`,
      allOf: [ref('Event'), { type: 'object', required: ['type', 'data'], properties: { type: { const: type }, data: ref(data) } }],
    };
  }
  schemas.TypedEvent = {
    description: 'An Event whose `data` is typed by its `type`: what each SSE message\'s `data:` line carries (its `event:` field is the same `type`).',
    oneOf: Object.values(variants).map(ref),
    discriminator: { propertyName: 'type', mapping: Object.fromEntries(Object.entries(variants).map(([t, n]) => [t, `#/components/schemas/${n}`])) },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (method: string, path: string, op: Record<string, unknown>) => {
    paths[path] = { ...(paths[path] ?? {}), [method.toLowerCase()]: op };
  };
  const pathParameters = (path: string, props: Record<string, JsonSchema>) =>
    [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name, in: 'path', required: true,
      description: (props[name]?.description as string) ?? name,
      schema: { type: 'string' },
    }));

  for (const [method, entry] of Object.entries(manifest.methods)) {
    if (!entry.rest) continue;
    const { rest } = entry;
    const paramsDef = definitions[entry.params] as ParamsDef;
    const props = paramsDef.properties ?? {};
    const parameters: Array<Record<string, unknown>> = pathParameters(rest.path, props);
    const inPath = parameters.map((p) => p.name as string);
    const op: Record<string, unknown> = {
      operationId: camel(method),
      summary: entry.summary,
      description: `JSON-RPC method \`${method}\`: path parameters and the ${rest.method === 'GET' || rest.method === 'DELETE' ? 'query' : 'JSON body'} are merged into its params.${entry.admin ? ' Needs an admin API key (403 Forbidden otherwise).' : ''}`,
      tags: [entry.group],
      parameters,
      responses: {
        [String(rest.status ?? 200)]: { description: 'Success.', content: { 'application/json': { schema: ref(entry.result!) } } },
        ...(rest.asyncStatus ? { [String(rest.asyncStatus)]: { description: 'Accepted (`Prefer: respond-async`); the reply arrives on the event stream.', content: { 'application/json': { schema: ref('TurnAccepted') } } } } : {}),
        ...errorResponses(entry.errors),
      },
    };
    const bodyProps = Object.fromEntries(Object.entries(props).filter(([k]) => !inPath.includes(k)));
    if (rest.method === 'GET' || rest.method === 'DELETE') {
      for (const [name, schema] of Object.entries(bodyProps)) {
        parameters.push({ name, in: 'query', required: (paramsDef.required ?? []).includes(name), description: schema.description, schema: toComponents(schema) });
      }
    } else {
      const required = (paramsDef.required ?? []).filter((r) => !inPath.includes(r));
      const bodySchema = { ...(toComponents(paramsDef) as object), properties: toComponents(bodyProps), required };
      op.requestBody = { required: required.length > 0, content: { 'application/json': { schema: bodySchema } } };
    }
    if (rest.asyncStatus) parameters.push({ name: 'Prefer', in: 'header', required: false, description: '`respond-async`: answer 202 with a TurnAccepted at once instead of waiting for the turn.', schema: { type: 'string' } });
    if (props.idempotencyKey) {
      parameters.push({
        name: 'Idempotency-Key', in: 'header', required: false,
        description: 'The `idempotencyKey` param as a header: a retry with the same key and params returns the first outcome (stored 24 h) without acting again; the same key with other params is a Conflict. A body that names another key is InvalidParams.',
        schema: toComponents(props.idempotencyKey),
      });
    }
    add(rest.method, rest.path, op);
  }

  const eventTypes = Object.keys(manifest.events).map((t) => `\`${t}\``).join(', ');
  for (const [name, route] of Object.entries(manifest.http ?? {}).filter((e): e is [string, HttpRoute] => typeof e[1] === 'object')) {
    const op: Record<string, unknown> = { operationId: name, summary: route.summary, tags: ['http'] };
    // A public route (this document) needs no key.
    if (route.public) op.security = [];
    const errs = errorResponses(route.errors, { auth: !route.public });
    if (route.stream) {
      const streamDef = definitions[manifest.methods[route.stream].params] as ParamsDef;
      const props = streamDef.properties ?? {};
      const parameters: Array<Record<string, unknown>> = pathParameters(route.path, props);
      for (const q of route.query ?? []) parameters.push({ name: q, in: 'query', required: false, description: props[q]?.description, schema: toComponents(props[q]) });
      parameters.push({
        name: 'Last-Event-ID', in: 'header', required: false,
        description: `Resume after this ${route.position === 'seq' ? 'seq' : 'event id'} (what the last \`id:\` field carried); takes precedence over \`since\`.`,
        schema: { type: 'string', pattern: '^[0-9]+$' },
      });
      op.description = `Served by \`${route.stream}\`. Each message: \`event:\` the event type (${eventTypes}), \`id:\` the event's ${route.position === 'seq' ? '`seq`' : '`id`'}, \`data:\` the Event as one line of JSON (schema TypedEvent: its \`type\` decides the schema of its \`data\`). A comment line (\`: heartbeat\`) every 15 s.`;
      op.parameters = parameters;
      op.responses = {
        200: {
          description: 'The event stream (text/event-stream); it stays open until the client closes it. The schema is that of one message\'s `data:` line.',
          content: { 'text/event-stream': { schema: ref('TypedEvent') } },
        },
        ...errs,
      };
    } else if (route.result) {
      op.responses = { 200: { description: 'Success.', content: { 'application/json': { schema: ref(route.result) } } }, ...errs };
    } else {
      op.responses = { 200: { description: 'This document.', content: { 'application/json': { schema: { type: 'object', description: 'An OpenAPI 3.1 document.' } } } }, ...errs };
    }
    add(route.method, route.path, op);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'agentd REST + SSE bridge',
      version: '1.0',
      description: 'REST mapping of the agentd JSON-RPC protocol onto the same handlers. Every error body is an ErrorBody; error codes: '
        + Object.keys(errors).filter((k) => !k.startsWith('$')).join(', ') + '.',
    },
    servers: [{ url: 'http://127.0.0.1:4096' }],
    // Optional as a whole: a server on loopback without any API key takes requests without one.
    security: [{ [BEARER]: [] }, {}],
    paths,
    components: {
      schemas,
      securitySchemes: {
        [BEARER]: {
          type: 'http', scheme: 'bearer',
          description: 'An API key (`agentd key create --name N` prints it once): `Authorization: Bearer <key>`. Required off loopback and, on loopback, once any key exists (or with `security.requireKey`). Browsers\' WebSockets pass it as the subprotocol `agentd.bearer.<key>` next to `agentd`.',
        },
      },
    },
  };
}
