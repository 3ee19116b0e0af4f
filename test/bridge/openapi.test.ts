// The OpenAPI document: valid OpenAPI 3.1 for an independent validator, served at
// /v1/openapi.json, and its paths are exactly the routes the bridge registers.
import t from 'tap';
import SwaggerParser from '@apidevtools/swagger-parser';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../bridge/app.js';
import { Core } from '../../server/core.js';
import { createLogger } from '../../server/log.js';
import { ROOT, spawnHttp, tempDir } from '../helpers/rpc-client.js';

const committed = JSON.parse(readFileSync(join(ROOT, 'protocol', 'generated', 'openapi.json'), 'utf8'));

t.test('the committed document is valid OpenAPI 3.1', async (t) => {
  const api = await SwaggerParser.validate(structuredClone(committed));
  t.equal((api as { openapi: string }).openapi, '3.1.0');
  t.ok(committed.components.schemas.ErrorBody, 'ErrorBody schema');
  for (const [path, ops] of Object.entries(committed.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
    for (const [verb, op] of Object.entries(ops)) {
      t.ok(op.responses['4XX'] && op.responses['5XX'], `${verb.toUpperCase()} ${path} documents the error body`);
    }
  }
  t.ok(committed.paths['/v1/session/{sessionId}/events'].get.responses['200'].content['text/event-stream'], 'SSE route is text/event-stream');
  t.ok(committed.paths['/v1/session/{sessionId}/message'].post.responses['202'], 'respond-async 202');
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

t.test('GET /v1/openapi.json serves the document', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const res = await fetch(`${server.url}/v1/openapi.json`);
  t.equal(res.status, 200);
  const doc = await res.json();
  t.same(doc.servers, [{ url: server.url }], 'servers names this server');
  t.same({ ...doc, servers: committed.servers }, committed, 'otherwise the committed document');
  await SwaggerParser.validate(doc);
});
