// Thousands of seeded bad inputs over stdio and WebSocket: every one gets a typed error, the
// server stays up, and what existed before is intact.
import t from 'tap';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';
import { fullTurn, fuzzCases, runRpcFuzz } from '../helpers/fuzz-inputs.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StdioClient, tempDir, WsClient, type RpcClient } from '../helpers/rpc-client.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const PER_KIND = Number(process.env.FUZZ_PER_KIND ?? 120);

async function snapshot(c: RpcClient, ids: string[]) {
  return Promise.all(ids.map((id) => c.request('session/get', { sessionId: id })));
}

for (const transport of RPC_TRANSPORTS) {
  t.test(`fuzz over ${transport} (seed ${SEED})`, async (t) => {
    // The fuzzer sends far faster than the default WebSocket rate limit allows (tested elsewhere).
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ security: { rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } } }));
    const { client, close } = await open(transport, { dataDir });
    t.teardown(close);
    await client.initialize();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await client.request('session/create', { name: `keep${i}` });
      await client.request('session/message', { sessionId: s.id, content: `keep me ${i}` });
      ids.push(s.id);
    }
    const before = await snapshot(client, ids);
    const cases = fuzzCases(SEED, PER_KIND, ids[0]);
    t.ok(cases.length >= 1000, `${cases.length} cases`);
    const stats = await runRpcFuzz(client, cases, 120_000);
    const failures = stats.failures;
    t.equal(stats.answered, cases.length, 'every input answered (silent ones: a request after it served)');
    t.same(failures.slice(0, 10), [], 'every bad input got its typed error');
    // Alive, and nothing was lost or changed.
    t.same(await snapshot(client, ids), before, 'sessions and messages intact');
    const list = await client.request('session/list', {});
    t.ok(list.sessions.length >= 3);
    if (client instanceof StdioClient) t.equal(client.proc.exitCode, null, 'server still running');
    if (client instanceof WsClient) t.equal(client.ws.readyState, 1, 'socket still open');
    await fullTurn(client);
  });
}

t.test('websocket: invalid UTF-8 in a text frame closes with 1007; the server stays up', async (t) => {
  const { client, another, close } = await open('websocket');
  t.teardown(close);
  await client.initialize();
  const ws = (client as WsClient).ws;
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  // Write a masked text frame with bytes that are not UTF-8, bypassing the ws client's checks.
  const payload = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  (ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  t.equal(await closed, 1007);
  const fresh = await another();
  await fresh.initialize();
  t.same(await fresh.request('session/list', {}), { sessions: [], nextCursor: null });
});
