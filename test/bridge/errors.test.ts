// REST errors: one body shape, one status table; malformed JSON, wrong content type, oversized
// body, unknown routes and wrong verbs each get a clear 4xx JSON answer, never HTML or a stack.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, methodTable } from '../../protocol/index.js';
import { httpStatus } from '../../bridge/errors.js';
import { ROOT, spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

t.test('every protocol error code has the HTTP status protocol/errors.json gives it', async (t) => {
  const table = JSON.parse(readFileSync(join(ROOT, 'protocol', 'errors.json'), 'utf8')) as Record<string, { code: number; http: number } | string>;
  for (const [name, code] of Object.entries(ErrorCodes)) {
    const spec = table[name];
    const status = typeof spec === 'object' ? spec.http : -1;
    t.ok(status >= 400 && status < 600, `${name} → ${status}`);
    t.equal(httpStatus(code), status);
  }
  t.equal(httpStatus(ErrorCodes.InvalidParams), 400);
  t.equal(httpStatus(ErrorCodes.NotFound), 404);
  t.equal(httpStatus(ErrorCodes.SessionBusy), 409);
  t.equal(httpStatus(ErrorCodes.Unauthorized), 401);
  t.equal(httpStatus(ErrorCodes.Forbidden), 403);
  t.equal(httpStatus(ErrorCodes.RateLimited), 429);
  t.equal(httpStatus(ErrorCodes.NotImplemented), 501);
  t.equal(httpStatus(-1), 500, 'an unknown code is a 500');
});

t.test('bad requests over HTTP', async (t) => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ limits: { maxBodyBytes: 1024 } }));
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const { url } = server;

  /** Sends a request; checks the answer is the JSON error body with this status and code. */
  const expectError = async (what: string, status: number, code: number, path: string, init: RequestInit = {}) => {
    const res = await fetch(url + path, init);
    const text = await res.text();
    t.equal(res.status, status, `${what}: status`);
    t.match(res.headers.get('content-type'), /^application\/json/, `${what}: JSON`);
    t.notMatch(text, /<html|<pre|\n\s+at /i, `${what}: no HTML, no stack`);
    const body = JSON.parse(text);
    t.same(Object.keys(body), ['error'], `${what}: only "error"`);
    t.equal(body.error.code, code, `${what}: code`);
    t.type(body.error.message, 'string');
    return { res, body };
  };
  const json = (method: string, body: string, type = 'application/json'): RequestInit => ({ method, body, headers: { 'Content-Type': type } });

  await expectError('malformed JSON', 400, -32700, '/v1/session', json('POST', '{"name": '));
  await expectError('wrong content type', 415, -32600, '/v1/session', json('POST', 'name=x', 'application/x-www-form-urlencoded'));
  await expectError('text/plain JSON', 415, -32600, '/v1/session', json('POST', '{"name":"x"}', 'text/plain'));
  const big = await expectError('oversized body', 413, -32018, '/v1/session', json('POST', JSON.stringify({ name: 'x'.repeat(5000) })));
  t.equal(big.body.error.data.limit, 1024);
  await expectError('body not an object', 400, -32602, '/v1/session', json('POST', '[1,2]'));
  await expectError('body a string', 400, -32602, '/v1/session', json('POST', '"x"'));
  const bad = await expectError('invalid params', 400, -32602, '/v1/session', json('POST', '{"name": 42}'));
  t.equal(bad.body.error.data.field, 'name');
  await expectError('unknown route', 404, -32601, '/v1/nope');
  await expectError('unknown root', 404, -32601, '/nope'); // / is the chat page (test/web)
  await expectError('unknown nested route', 404, -32601, '/v1/session/x/y/z');
  const wrongVerb = await expectError('wrong verb', 405, -32601, '/v1/session', { method: 'PATCH' });
  t.equal(wrongVerb.res.headers.get('allow'), 'POST, GET, HEAD');
  await expectError('wrong verb on a param route', 405, -32601, '/v1/session/abc', { method: 'PUT' });
  const rpc = await expectError('plain request to the WebSocket path', 426, -32600, '/rpc');
  t.equal(rpc.res.headers.get('upgrade'), 'websocket');
  const head = await fetch(`${url}/v1/events`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD on an SSE route answers at once');
  t.match(head.headers.get('content-type'), /^text\/event-stream/);
  await expectError('unknown session', 404, -32010, '/v1/session/ses_nope');
  await expectError('unknown query field', 400, -32602, '/v1/session?x=1');
  await expectError('path and body disagree', 400, -32602, '/v1/session/ses_a/message', json('POST', '{"sessionId":"ses_b","content":"hi"}'));
  await expectError('bad Last-Event-ID', 400, -32602, '/v1/events', { headers: { 'Last-Event-ID': 'abc' } });
  await expectError('bad since', 400, -32602, '/v1/events?since=-1');
  await expectError('unknown SSE query', 400, -32602, '/v1/events?sessionId=x');

  // Empty bodies are fine where nothing is required (no Content-Type needed).
  const created = await fetch(`${url}/v1/session`, { method: 'POST' });
  t.equal(created.status, 201, 'POST without a body creates with defaults');
  const s = await created.json();
  const cancel = await fetch(`${url}/v1/session/${s.id}/cancel`, { method: 'POST' });
  t.same(await cancel.json(), { sessionId: s.id, cancelled: false });

  // The handler table is complete by type: every client request is served (none answers NotImplemented).
  const ws = await WsClient.connect(server.wsUrl);
  const init = await ws.initialize();
  await ws.close();
  const requests = Object.entries(methodTable).filter(([, m]) => m.kind === 'request' && m.direction === 'clientToServer').map(([name]) => name);
  t.same([...init.capabilities.methods].sort(), requests.sort(), 'every client request has a handler');
});
