// A client generated from the served document, as an outside tool would make one: with an API key
// set, openapi-typescript reads the running server's /v1/openapi.json (no key needed for that) into
// a temp dir, a program written against those types with openapi-fetch is type-checked (tsc) and
// run through the seed scenario: create a session, send a message, read its events over SSE (typed
// by TypedEvent), delete it; errors come back as the typed ErrorBody with the documented statuses.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENTD, ROOT, spawnHttp, tempDir } from '../helpers/rpc-client.js';

const node = (args: string[], cwd: string, timeout = 60_000) =>
  spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' } });

/** The program a user would write against the generated types (checked by tsc before it runs). */
const CLIENT = `
import createClient from 'openapi-fetch';
import { createParser } from 'eventsource-parser';
import type { components, paths } from './schema.js';

type TypedEvent = components['schemas']['TypedEvent'];
type ErrorBody = components['schemas']['ErrorBody'];
const [baseUrl, key] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl, headers: { Authorization: \`Bearer \${key}\` } });
const fail = (what: string, error: ErrorBody | undefined, status: number): never => {
  throw new Error(\`\${what}: HTTP \${status} \${JSON.stringify(error)}\`);
};

const created = await client.POST('/v1/session', { body: { name: 'generated' }, headers: { 'Idempotency-Key': 'seed-1' } });
if (!created.data) fail('create', created.error, created.response.status);
const session = created.data!;
const sessionId: string = session.id;

// The session's events from the start, typed by their type.
const stream = await client.GET('/v1/session/{sessionId}/events', { params: { path: { sessionId }, query: { since: 0 } }, parseAs: 'stream' });
if (!stream.response.ok || !stream.data) fail('events', stream.error, stream.response.status);
const events: TypedEvent[] = [];
const done = (async () => {
  const reader = stream.data!.pipeThrough(new TextDecoderStream()).getReader();
  let finished = false;
  const parser = createParser({ onEvent: (m) => {
    const e = JSON.parse(m.data) as TypedEvent;
    if (m.event !== e.type) throw new Error(\`event: \${m.event} but type \${e.type}\`);
    events.push(e);
    if (e.type === 'turn.completed') finished = true;
  } });
  while (!finished) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended before turn.completed');
    parser.feed(value);
  }
  await reader.cancel();
})();

const message = await client.POST('/v1/session/{sessionId}/message', { params: { path: { sessionId } }, body: { content: 'Hello!' } });
if (!message.data) fail('message', message.error, message.response.status);
await done;
const reply = message.data!;
// SessionMessageResult: the assistant Message, or a TurnAccepted when the turn was started async.
if (!('role' in reply)) throw new Error('expected the completed message, got ' + JSON.stringify(reply));
const text = reply.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
// Typed data: a delta's text is reachable without casts.
const deltas = events.flatMap((e) => (e.type === 'message.delta' && e.data.delta.type === 'text_delta' ? [e.data.delta.text] : []));

const again = await client.POST('/v1/session', { body: { name: 'generated' }, headers: { 'Idempotency-Key': 'seed-1' } });
const deleted = await client.DELETE('/v1/session/{sessionId}', { params: { path: { sessionId } } });
const gone = await client.GET('/v1/session/{sessionId}', { params: { path: { sessionId } } });
const anonymous = await createClient<paths>({ baseUrl }).GET('/v1/session');
const badParams = await client.POST('/v1/session/{sessionId}/message', { params: { path: { sessionId: 'x' } }, body: {} as { content: string } });

console.log(JSON.stringify({
  session: { id: sessionId, status: created.response.status },
  reply: { status: message.response.status, role: reply.role, text },
  types: events.map((e) => e.type),
  deltas: deltas.join(''),
  retry: again.data?.id,
  deleted: deleted.data,
  gone: { status: gone.response.status, code: gone.error?.error.code },
  anonymous: { status: anonymous.response.status, code: anonymous.error?.error.code },
  badParams: { status: badParams.response.status, error: badParams.error?.error },
}));
`;

t.test('a client generated from /v1/openapi.json runs the seed scenario with a key set', async (t) => {
  const dataDir = tempDir();
  const created = node([AGENTD, 'key', 'create', '--name', 'generated', '--data-dir', dataDir], ROOT);
  t.equal(created.status, 0, created.stderr);
  const key = created.stdout.trim();
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());

  const dir = tempDir('agentd-openapi-client-');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true, skipLibCheck: true, types: ['node'] },
    files: ['client.ts'],
  }));
  writeFileSync(join(dir, 'client.ts'), CLIENT);

  const gen = node([join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), `${server.url}/v1/openapi.json`, '-o', 'schema.d.ts'], dir);
  t.equal(gen.status, 0, `openapi-typescript: ${gen.stderr}`);
  const tsc = node([join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir, 120_000);
  t.equal(tsc.status, 0, `the program type-checks against the generated types: ${tsc.stdout}${tsc.stderr}`);

  const run = node([join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'client.ts', server.url, key], dir);
  t.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  t.match(out.session, { id: /^ses_/, status: 201 });
  t.same(out.reply, { status: 200, role: 'assistant', text: 'Echo: Hello!' });
  t.equal(out.types[0], 'session.created', 'replayed from the start');
  for (const type of ['message.created', 'turn.started', 'message.delta', 'message.completed', 'turn.completed']) t.ok(out.types.includes(type), type);
  t.equal(out.deltas, 'Echo: Hello!', 'typed delta data');
  t.equal(out.retry, out.session.id, 'the Idempotency-Key header returned the first outcome');
  t.same(out.deleted, { sessionId: out.session.id, deleted: true });
  t.same(out.gone, { status: 404, code: -32010 });
  t.same(out.anonymous, { status: 401, code: -32013 });
  t.equal(out.badParams.status, 400);
  t.match(out.badParams.error, { code: -32602, data: { field: 'content', reason: 'is required', errors: [{ field: 'content', reason: 'is required' }] } });
});

t.test('a WebSocket upgrade without the key gets a JSON 401 body', async (t) => {
  const dataDir = tempDir();
  t.equal(node([AGENTD, 'key', 'create', '--name', 'ws', '--data-dir', dataDir], ROOT).status, 0);
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const res = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(`${server.url}/rpc`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({ status: r.statusCode!, type: String(r.headers['content-type']), body }));
    });
    req.on('upgrade', () => reject(new Error('upgraded without a key')));
    req.on('error', reject);
    req.end();
  });
  t.equal(res.status, 401);
  t.match(res.type, /application\/json/);
  t.match(JSON.parse(res.body), { error: { code: -32013, message: /API key/ } });
});
