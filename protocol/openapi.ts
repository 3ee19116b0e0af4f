/**
 * Builds the OpenAPI 3.1 document of the /v1 bridge from the manifest and the schema definitions.
 * Called by generate.ts; the result is committed as protocol/generated/openapi.json.
 */
import type { JsonSchema, Manifest } from './manifest.js';

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

export function buildOpenApi(definitions: Record<string, JsonSchema>, manifest: Manifest, errors: Record<string, unknown>) {
  const schemas: Record<string, unknown> = toComponents(definitions) as Record<string, unknown>;
  schemas.ErrorBody = {
    type: 'object', additionalProperties: false, required: ['error'],
    description: 'Every error response has this body.',
    properties: { error: ref('ErrorObject') },
  };
  const errorResponse = { description: 'A typed error (see ErrorObject.code).', content: { 'application/json': { schema: ref('ErrorBody') } } };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [method, entry] of Object.entries(manifest.methods)) {
    if (!entry.rest) continue;
    const { rest } = entry;
    const pathParams = [...rest.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const paramsDef = definitions[entry.params] as { properties?: Record<string, JsonSchema>; required?: string[] };
    const props = paramsDef.properties ?? {};
    const parameters: unknown[] = pathParams.map((name) => ({
      name, in: 'path', required: true,
      description: (props[name]?.description as string) ?? name,
      schema: { type: 'string' },
    }));
    const op: Record<string, unknown> = {
      operationId: method.replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()),
      summary: entry.summary,
      description: `JSON-RPC method \`${method}\`.`,
      tags: [entry.group],
      parameters,
      responses: {
        [String(rest.status ?? 200)]: { description: 'Success.', content: { 'application/json': { schema: ref(entry.result!) } } },
        ...(rest.asyncStatus ? { [String(rest.asyncStatus)]: { description: 'Accepted (Prefer: respond-async); the reply arrives on the event stream.', content: { 'application/json': { schema: ref('TurnAccepted') } } } } : {}),
        '4XX': errorResponse,
        '5XX': errorResponse,
      },
    };
    const bodyProps = Object.fromEntries(Object.entries(props).filter(([k]) => !pathParams.includes(k)));
    if (rest.method === 'GET' || rest.method === 'DELETE') {
      for (const [name, schema] of Object.entries(bodyProps)) {
        parameters.push({ name, in: 'query', required: (paramsDef.required ?? []).includes(name), description: schema.description, schema: toComponents(schema) });
      }
    } else {
      const bodySchema = { ...toComponents(paramsDef) as object, properties: toComponents(bodyProps), required: (paramsDef.required ?? []).filter((r) => !pathParams.includes(r)) };
      op.requestBody = { required: bodySchema.required.length > 0, content: { 'application/json': { schema: bodySchema } } };
    }
    if (rest.asyncStatus) parameters.push({ name: 'Prefer', in: 'header', required: false, description: '`respond-async` returns 202 at once.', schema: { type: 'string' } });
    const path = rest.path;
    paths[path] = { ...(paths[path] ?? {}), [rest.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'agentd REST + SSE bridge', version: '1.0', description: 'REST mapping of the agentd JSON-RPC protocol. Error codes: ' + Object.keys(errors).filter((k) => !k.startsWith('$')).join(', ') + '.' },
    servers: [{ url: 'http://127.0.0.1:4096' }],
    paths,
    components: { schemas },
  };
}
