/**
 * Builds the OpenAPI 3.1 document of the /v1 bridge from the manifest and the schema definitions:
 * one operation per method with a `rest` mapping, plus the manifest's `http` routes (the SSE
 * streams, health and this document). Called by generate.ts; the result is committed as
 * protocol/generated/openapi.json and served at GET /v1/openapi.json.
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

export function buildOpenApi(definitions: Record<string, JsonSchema>, manifest: Manifest, errors: Record<string, unknown>) {
  const schemas = toComponents(definitions) as Record<string, unknown>;
  const errorResponse = {
    description: 'A typed error: `error.code` is a protocol error code (see the ErrorObject schema and the README\'s error table).',
    content: { 'application/json': { schema: ref('ErrorBody') } },
  };
  const errorResponses = { '4XX': errorResponse, '5XX': errorResponse };
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
      description: `JSON-RPC method \`${method}\`: path parameters and the ${rest.method === 'GET' || rest.method === 'DELETE' ? 'query' : 'JSON body'} are merged into its params.`,
      tags: [entry.group],
      parameters,
      responses: {
        [String(rest.status ?? 200)]: { description: 'Success.', content: { 'application/json': { schema: ref(entry.result!) } } },
        ...(rest.asyncStatus ? { [String(rest.asyncStatus)]: { description: 'Accepted (`Prefer: respond-async`); the reply arrives on the event stream.', content: { 'application/json': { schema: ref('TurnAccepted') } } } } : {}),
        ...errorResponses,
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
    add(rest.method, rest.path, op);
  }

  const eventTypes = Object.keys(manifest.events).map((t) => `\`${t}\``).join(', ');
  for (const [name, route] of Object.entries(manifest.http ?? {}).filter((e): e is [string, HttpRoute] => typeof e[1] === 'object')) {
    const op: Record<string, unknown> = { operationId: name, summary: route.summary, tags: ['http'] };
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
      op.description = `Served by \`${route.stream}\`. Each message: \`event:\` the event type (${eventTypes}), \`id:\` the event's ${route.position === 'seq' ? '`seq`' : '`id`'}, \`data:\` the Event (schema Event) as one line of JSON. A comment line (\`: heartbeat\`) every 15 s.`;
      op.parameters = parameters;
      op.responses = {
        200: { description: 'The event stream (text/event-stream); it stays open until the client closes it.', content: { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events whose `data:` lines are Event objects.' } } } },
        ...errorResponses,
      };
    } else if (route.result) {
      op.responses = { 200: { description: 'Success.', content: { 'application/json': { schema: ref(route.result) } } }, ...errorResponses };
    } else {
      op.responses = { 200: { description: 'This document.', content: { 'application/json': { schema: { type: 'object', description: 'An OpenAPI 3.1 document.' } } } }, ...errorResponses };
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
    paths,
    components: { schemas },
  };
}
