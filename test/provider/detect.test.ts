// Local model servers found on loopback without configuration: a fake Chat Completions server
// on a port given by `providerDetection.ports` is offered as `ollama` (detected) over stdio,
// WebSocket and REST, runs a turn, goes away on refresh once it stops; detection off in config
// (or AGENTD_DETECT_LOCAL=0, as every other test runs) offers nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver, TRANSPORTS } from '../helpers/driver.js';
import { closedPort, reply, startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';

const config = (ports: Json, extra: Json = {}) => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ providerDetection: { ports, timeoutMs: 1000, ...extra } }));
  return dataDir;
};

for (const transport of TRANSPORTS) {
  t.test(`detection over ${transport}`, async (t) => {
    const fake = await startOpenAIServer({ models: [{ id: 'llama3.2:latest', object: 'model', owned_by: 'library' }] });
    let closed = false;
    t.teardown(() => (closed ? undefined : fake.close()));
    const [p1, p2] = [await closedPort(), await closedPort()];
    const dataDir = config({ ollama: fake.port, lmstudio: p1, llamacpp: p2 });
    const d = await openDriver(transport, { dataDir, env: { AGENTD_DETECT_LOCAL: '1' } });
    t.teardown(() => d.close());
    await d.initialize();

    const { providers } = await d.request('provider/list', {});
    const ollama = providers.find((p: Json) => p.id === 'ollama');
    t.match(ollama, { detected: true, type: 'openai-compatible', baseUrl: `http://127.0.0.1:${fake.port}/v1`, models: ['llama3.2:latest'], modelsSource: 'endpoint', authenticated: true, authSource: 'none' });
    t.notOk(providers.some((p: Json) => p.id === 'lmstudio' || p.id === 'llamacpp'), 'nothing on the other ports');
    t.ok(fake.requests.some((r) => r.method === 'GET' && r.path === '/v1/models'), 'asked GET /v1/models');

    const s = await d.request('session/create', { provider: 'ollama' });
    t.equal(s.model, 'llama3.2:latest', 'default model: the first the server lists');
    fake.script(reply.text(['local ', 'reply']));
    const msg = await d.request('session/message', { sessionId: s.id, content: 'hi' });
    t.same(msg.content, [{ type: 'text', text: 'local reply' }]);
    t.equal(fake.chats().at(-1)!.body.model, 'llama3.2:latest');

    await fake.close();
    closed = true;
    const after = await d.request('provider/list', { refresh: true });
    t.notOk(after.providers.some((p: Json) => p.id === 'ollama'), 'gone after refresh once the server stopped');
  });
}

t.test('detection off in config: nothing is asked or offered', async (t) => {
  const fake = await startOpenAIServer();
  t.teardown(() => fake.close());
  const d = await openDriver('stdio', { dataDir: config({ ollama: fake.port }, { enabled: false }), env: { AGENTD_DETECT_LOCAL: '1' } });
  t.teardown(() => d.close());
  await d.initialize();
  const { providers } = await d.request('provider/list', { refresh: true });
  t.notOk(providers.some((p: Json) => p.detected), 'no detected provider');
  t.equal(fake.requests.length, 0, 'the port was never asked');
});

t.test('AGENTD_DETECT_LOCAL=0 turns it off too', async (t) => {
  const fake = await startOpenAIServer();
  t.teardown(() => fake.close());
  const d = await openDriver('stdio', { dataDir: config({ ollama: fake.port }), env: { AGENTD_DETECT_LOCAL: '0' } });
  t.teardown(() => d.close());
  await d.initialize();
  const { providers } = await d.request('provider/list', { refresh: true });
  t.notOk(providers.some((p: Json) => p.detected));
  t.equal(fake.requests.length, 0);
});

t.test('a --stdio server with detection on exits at once on stdin close (detection holds nothing open)', async (t) => {
  // A port that accepts and never answers: detection waits out its timeout.
  const { createServer } = await import('node:net');
  const held = new Set<import('node:net').Socket>();
  const silent = createServer((s) => { held.add(s); s.on('error', () => {}); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { for (const s of held) s.destroy(); silent.close(() => r()); }));
  const port = (silent.address() as { port: number }).port;
  const d = await openDriver('stdio', { dataDir: config({ ollama: port, lmstudio: port, llamacpp: port }, { timeoutMs: 10000 }), env: { AGENTD_DETECT_LOCAL: '1' } });
  const r = await d.initialize();
  t.ok(r.serverInfo, 'initialize answered while detection still waits');
  const t0 = Date.now();
  await d.close();
  t.ok(Date.now() - t0 < 3000, `exited ${Date.now() - t0} ms after stdin closed`);
});
