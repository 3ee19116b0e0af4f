// Rate limits protect a server others can reach: off loopback by default, never /v1/health, every
// loopback address one client, and a config update may not lock its caller out.
import t from 'tap';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

const withConfig = (config: object) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};

/** One request from a chosen source address. */
function send(url: string, path: string, o: { method?: string; body?: object; localAddress?: string } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = o.body ? JSON.stringify(o.body) : undefined;
    const req = request(`${url}${path}`, {
      method: o.method ?? 'GET', localAddress: o.localAddress,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

t.test('by default a loopback client is never rate limited', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const statuses = new Set<number>();
  for (let i = 0; i < 700; i++) statuses.add((await send(server.url, '/v1/session')).status);
  t.same([...statuses], [200], '700 requests in a minute, no 429 (the default limit is 600)');
});

t.test('with limits on loopback: /v1/health is exempt and 127.0.0.0/8 is one client', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ security: { rateLimit: { loopback: true, requestsPerMinute: 6 } } }) });
  t.teardown(() => server.stop());
  for (let i = 0; i < 20; i++) t.equal((await send(server.url, '/v1/health')).status, 200, `health ${i + 1}`);
  const seen: number[] = [];
  for (const localAddress of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.1.2.3']) {
    for (let i = 0; i < 2; i++) seen.push((await send(server.url, '/v1/session', { localAddress })).status);
  }
  t.same(seen, [200, 200, 200, 200, 200, 200, 429, 429], 'the limit counts every loopback address together');
});

t.test('a config update that would lock its caller out is refused, naming the field', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ security: { rateLimit: { loopback: true, requestsPerMinute: 100 } } }) });
  t.teardown(() => server.stop());
  for (let i = 0; i < 5; i++) await send(server.url, '/v1/session');
  for (const rpm of [1, 5, 6]) {
    const r = await send(server.url, '/v1/config', { method: 'PUT', body: { config: { security: { rateLimit: { loopback: true, requestsPerMinute: rpm } } } } });
    t.equal(r.status, 400, `requestsPerMinute ${rpm}: refused`);
    t.equal(r.body.error.data.field, 'config.security.rateLimit.requestsPerMinute');
  }
  const ok = await send(server.url, '/v1/config', { method: 'PUT', body: { config: { security: { rateLimit: { loopback: true, requestsPerMinute: 50 } } } } });
  t.equal(ok.status, 200, 'a limit the caller is under is accepted');
  // Turning limits off loopback is never a lock-out for a loopback caller.
  const off = await send(server.url, '/v1/config', { method: 'PUT', body: { config: { security: { rateLimit: { requestsPerMinute: 1 } } } } });
  t.equal(off.status, 200, 'requestsPerMinute 1 for remote clients only: accepted from loopback');
  t.equal((await send(server.url, '/v1/session')).status, 200, 'and the local client is not limited');

  const ws = await WsClient.connect(server.wsUrl);
  t.teardown(() => ws.close());
  await ws.initialize();
  const r = await ws.call('config/update', { config: { security: { rateLimit: { loopback: true, requestsPerMinute: 1 } } } });
  t.equal(r.error?.code, -32602, 'over WebSocket too');
  t.equal(r.error?.data.field, 'config.security.rateLimit.requestsPerMinute');
});
