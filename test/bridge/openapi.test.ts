// The OpenAPI document: valid OpenAPI 3.1 for an independent validator, served at
// /v1/openapi.json without a key, and its paths are exactly the routes the bridge registers; each
// route lists its concrete error statuses, the bearer scheme, the Idempotency-Key header and (SSE)
// its typed events.
import t from 'tap';
import SwaggerParser from '@apidevtools/swagger-parser';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../bridge/app.js';
import { Core } from '../../server/core.js';
import { createLogger } from '../../server/log.js';
import { spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { AGENTD, ROOT, spawnHttp, tempDir } from '../helpers/rpc-client.js';

/** `agentd key create` in a data directory; returns the key it prints once. */
function createKey(dataDir: string): string {
  const r = spawnSync(process.execPath, [AGENTD, 'key', 'create', '--name', 'openapi', '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' } });
  if (r.status !== 0) throw new Error(`key create failed: ${r.stderr}`);
  return r.stdout.trim();
}

const committed = JSON.parse(readFileSync(join(ROOT, 'protocol', 'generated', 'openapi.json'), 'utf8'));

type Op = { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>; parameters?: Array<{ name: string; in: string }>; security?: unknown[] };
const errorsJson = JSON.parse(readFileSync(join(ROOT, 'protocol', 'errors.json'), 'utf8')) as Record<string, { code: number; http: number } | string>;
const statusOf = (name: string) => (errorsJson[name] as { http: number }).http;
const ops = () => Object.entries(committed.paths as Record<string, Record<string, Op>>).flatMap(([path, byVerb]) => Object.entries(byVerb).map(([verb, op]) => ({ path, verb, op })));

t.test('the committed document is valid OpenAPI 3.1', async (t) => {
  const api = await SwaggerParser.validate(structuredClone(committed));
  t.equal((api as { openapi: string }).openapi, '3.1.0');
  t.ok(committed.components.schemas.ErrorBody, 'ErrorBody schema');
  t.ok(committed.paths['/v1/session/{sessionId}/events'].get.responses['200'].content['text/event-stream'], 'SSE route is text/event-stream');
  t.ok(committed.paths['/v1/session/{sessionId}/message'].post.responses['202'], 'respond-async 202');
});

t.test('each operation lists its concrete error statuses, all with the one error body', async (t) => {
  for (const { path, verb, op } of ops()) {
    const errors = Object.entries(op.responses).filter(([s]) => !/^2/.test(s));
    t.notOk(op.responses['4XX'] || op.responses['5XX'], `${verb} ${path}: no 4XX/5XX ranges`);
    t.ok(errors.length >= 5, `${verb} ${path}: ${errors.map(([s]) => s).join(' ')}`);
    for (const [status, r] of errors) {
      t.ok(/^[45]\d\d$/.test(status), `${verb} ${path}: ${status} is a concrete status`);
      t.equal(r.content?.['application/json'].schema.$ref, '#/components/schemas/ErrorBody', `${verb} ${path} ${status}: ErrorBody`);
    }
  }
  const get = committed.paths['/v1/session/{sessionId}'].get as Op;
  t.ok(get.responses[String(statusOf('NotFound'))], 'session/get documents its NotFound status');
  const message = committed.paths['/v1/session/{sessionId}/message'].post as Op;
  for (const name of ['SessionBusy', 'ProviderError', 'Timeout', 'LimitExceeded']) t.ok(message.responses[String(statusOf(name))], `session/message documents ${name}`);
  t.notOk((committed.paths['/v1/session'].get as Op).responses['404'], 'session/list has no 404');
});

t.test('auth is declared: a bearer scheme on every route but the document itself', async (t) => {
  const schemes = committed.components.securitySchemes as Record<string, { type: string; scheme: string }>;
  const [name] = Object.keys(schemes);
  t.same(schemes[name], { ...schemes[name], type: 'http', scheme: 'bearer' });
  t.same(committed.security, [{ [name]: [] }, {}], 'bearer, or none where the server needs no key');
  for (const { path, verb, op } of ops()) {
    if (path === '/v1/openapi.json') t.same(op.security, [], 'the document is public');
    else {
      t.equal(op.security, undefined, `${verb} ${path} uses the document-wide security`);
      t.ok(op.responses['401'], `${verb} ${path} documents 401`);
    }
  }
});

t.test('SSE routes describe each event type and its data schema', async (t) => {
  const { eventTable } = await import('../../protocol/index.js');
  const schemas = committed.components.schemas as Record<string, { oneOf?: Array<{ $ref: string }>; allOf?: Array<{ properties?: { type: { const: string }; data: { $ref: string } } }> }>;
  for (const path of ['/v1/session/{sessionId}/events', '/v1/events']) {
    t.equal(committed.paths[path].get.responses['200'].content['text/event-stream'].schema.$ref, '#/components/schemas/TypedEvent', path);
  }
  const variants = schemas.TypedEvent.oneOf!.map((r) => schemas[r.$ref.split('/').pop()!].allOf![1].properties!);
  t.same(Object.fromEntries(variants.map((v) => [v.type.const, v.data.$ref.split('/').pop()])), eventTable, 'one variant per event type, data from the manifest');
});

t.test('the Idempotency-Key header is documented where it is honoured', async (t) => {
  const { methodTable, schemaBundle } = await import('../../protocol/index.js');
  const defs = schemaBundle.definitions as Record<string, { properties?: Record<string, unknown> }>;
  const honoured = Object.values(methodTable).filter((m) => m.rest && defs[m.params].properties?.idempotencyKey).map((m) => `${m.rest!.method} ${m.rest!.path}`);
  t.ok(honoured.length >= 4, honoured.join(', '));
  for (const { path, verb, op } of ops()) {
    const has = (op.parameters ?? []).some((p) => p.name === 'Idempotency-Key' && p.in === 'header');
    t.equal(has, honoured.includes(`${verb.toUpperCase()} ${path}`), `${verb} ${path}`);
  }
});

t.test('the bridge registers exactly the documented routes', async (t) => {
  const core = new Core({ dataDir: tempDir(), log: createLogger('silent') });
  t.teardown(() => core.close());
  const app = createApp(core);
  type Layer = { route?: { path: string; methods: Record<string, boolean> } };
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  const registered = new Set<string>();
  const walk = (layers: Layer[]) => {
    for (const l of layers) {
      if (l.route) {
        for (const [verb, on] of Object.entries(l.route.methods)) {
          if (on && verb !== '_all') registered.add(`${verb.toUpperCase()} ${l.route.path.replace(/:(\w+)/g, '{$1}')}`);
        }
      }
      const inner = (l as { handle?: { stack?: Layer[] } }).handle?.stack;
      if (inner) walk(inner);
    }
  };
  walk(stack);
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(committed.paths as Record<string, object>)) {
    for (const verb of Object.keys(ops)) documented.add(`${verb.toUpperCase()} ${path}`);
  }
  t.ok(registered.size > 10, `found ${registered.size} registered routes`);
  t.same([...registered].filter((r) => !documented.has(r)).sort(), [], 'every registered route is documented');
  t.same([...documented].filter((r) => !registered.has(r)).sort(), [], 'every documented route is registered');
});

t.test('GET /v1/openapi.json serves the document, without a key even once keys exist', async (t) => {
  const dataDir = tempDir();
  const key = createKey(dataDir);
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const res = await fetch(`${server.url}/v1/openapi.json`);
  t.equal(res.status, 200);
  const doc = await res.json();
  t.same(doc.servers, [{ url: server.url }], 'servers names this server');
  t.same({ ...doc, servers: committed.servers }, committed, 'otherwise the committed document');
  await SwaggerParser.validate(doc);
  t.equal((await fetch(`${server.url}/v1/session`)).status, 401, 'the routes still need the key');
  t.equal((await fetch(`${server.url}/v1/health`)).status, 401, 'and so does health');
  t.equal((await fetch(`${server.url}/v1/session`, { headers: { authorization: `Bearer ${key}` } })).status, 200, 'with the key');
  // fetch cannot set Host: node:http can.
  const rebound = await new Promise<number>((resolve, reject) => {
    httpGet(`${server.url}/v1/openapi.json`, { headers: { host: 'evil.example' } }, (r) => { r.resume(); resolve(r.statusCode!); }).on('error', reject);
  });
  t.equal(rebound, 403, 'Host is still checked');
});
