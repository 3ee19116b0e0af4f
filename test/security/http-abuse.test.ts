// The HTTP port under abuse (node:net raw sockets): refused upgrades reset by the client, h2c
// upgrade requests, malformed paths, resets at every phase, slowloris, half-open connections,
// invalid WebSocket frames, pipelining, request smuggling. After each class, the same server
// process still serves a full turn. FUZZ_PER_KIND scales the repeated cases.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnHttp, tempDir, type HttpServer } from '../helpers/rpc-client.js';
import { fullTurn, hostOf, rawConnect, rawSse, rawWs, upgradeRequest, wsFrame, type Raw } from '../helpers/raw-http.js';

const PER_KIND = Math.max(1, Math.min(50, Math.ceil(Number(process.env.FUZZ_PER_KIND ?? 100) / 100)));

const withConfig = (config: object) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};

/** The server is alive: its process runs and it answers a new connection. */
async function alive(server: HttpServer): Promise<boolean> {
  try {
    const res = await fetch(`${server.url}/v1/health`);
    await res.arrayBuffer();
    return server.proc.exitCode === null && server.proc.signalCode === null;
  } catch {
    return false;
  }
}

/** Sends `bytes`, waits for the whole answer head, then resets the connection (RST). */
async function answerThenReset(server: HttpServer, bytes: string): Promise<string> {
  const c = await rawConnect(server.url);
  c.write(bytes);
  const text = await c.until((s) => s.includes('\r\n\r\n'), 5000, 'refusal');
  c.socket.resetAndDestroy();
  await c.closed;
  // Let the server read the reset before the next request looks at it.
  await new Promise((r) => setTimeout(r, 50));
  return text;
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);

/** Server-to-client frames after the 101 head: [opcode, payload]. */
function serverFrames(text: string): Array<[number, Buffer]> {
  const buf = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
  const out: Array<[number, Buffer]> = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    let n = buf[o + 1] & 0x7f;
    let h = 2;
    if (n === 126) { n = buf.readUInt16BE(o + 2); h = 4; } else if (n === 127) { n = Number(buf.readBigUInt64BE(o + 2)); h = 10; }
    if (o + h + n > buf.length) break;
    out.push([buf[o] & 0x0f, buf.subarray(o + h, o + h + n)]);
    o += h + n;
  }
  return out;
}
const closeCodeOf = (text: string) => {
  const f = serverFrames(text).find(([op]) => op === 8);
  return f && f[1].length >= 2 ? f[1].readUInt16BE(0) : undefined;
};

// One server process for every class (the slowloris case needs its short headers timeout).
let shared: HttpServer;
t.before(async () => { shared = await spawnHttp({ env: { AGENTD_HEADERS_TIMEOUT_MS: '600' } }); });
t.teardown(() => shared.stop());

t.test('refused WebSocket upgrades, reset by the client, never kill the server', async (t) => {
  const server = shared;
  const host = hostOf(server.url);
  const cases: Array<[string, string, number]> = [
    ['another path (404)', upgradeRequest(server.url, '/nope'), 404],
    ['a foreign Host (403)', upgradeRequest(server.url, '/rpc').replace(`Host: ${host}`, 'Host: evil.example'), 403],
    ['a foreign Origin (403)', upgradeRequest(server.url, '/rpc', ['Origin: http://evil.example']), 403],
    ['a bad Sec-WebSocket-Key (ws refuses, 400)', upgradeRequest(server.url, '/rpc').replace(/Sec-WebSocket-Key: \S+/, 'Sec-WebSocket-Key: x'), 400],
  ];
  for (const [what, bytes, status] of cases) {
    for (let i = 0; i < PER_KIND; i++) {
      const text = await answerThenReset(server, bytes);
      if (i === 0) {
        t.equal(statusOf(text), status, `${what}: status`);
        if (status !== 400) t.match(JSON.parse(bodyOf(text)), { error: { code: Number } }, `${what}: the error body`);
      }
    }
    t.ok(await alive(server), `${what}: alive after the reset`);
  }
  // A reset before the refusal is even written.
  for (let i = 0; i < PER_KIND; i++) {
    const c = await rawConnect(server.url);
    c.write(upgradeRequest(server.url, '/nope'));
    c.socket.resetAndDestroy();
  }
  t.ok(await alive(server), 'alive after resets racing the refusal');
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('a refused upgrade for a missing key (401) or over the rate limit (429), then reset', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ security: { requireKey: true } }) });
  t.teardown(() => server.stop());
  const text = await answerThenReset(server, upgradeRequest(server.url));
  t.equal(statusOf(text), 401);
  t.equal(JSON.parse(bodyOf(text)).error.code, -32013);
  t.ok(await alive(server), 'alive after the reset');

  const limited = await spawnHttp({ dataDir: withConfig({ security: { rateLimit: { loopback: true, messagesPerSecond: 1, burst: 1 } } }) });
  t.teardown(() => limited.stop());
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push(statusOf(await answerThenReset(limited, upgradeRequest(limited.url))));
  t.equal(statuses[0], 101, 'the first upgrade is admitted');
  t.ok(statuses.slice(1).includes(429), `then 429 (${statuses})`);
  t.ok(await alive(limited), 'alive after the resets');
});

t.test('a plain request with an Upgrade header other than websocket (h2c) is served by the REST bridge', async (t) => {
  const server = shared;
  const host = hostOf(server.url);
  const h2c = ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'];
  const c = await rawConnect(server.url);
  const body = JSON.stringify({ name: 'h2c' });
  // Three pipelined requests, each asking for h2c: all answered in order on the one connection.
  c.write([`GET /v1/health HTTP/1.1`, `Host: ${host}`, ...h2c, '', ''].join('\r\n'));
  c.write([`POST /v1/session HTTP/1.1`, `Host: ${host}`, ...h2c, 'Content-Type: application/json', `Content-Length: ${body.length}`, '', body].join('\r\n'));
  c.write([`GET /v1/session HTTP/1.1`, `Host: ${host}`, ...h2c, 'Connection: close', '', ''].join('\r\n'));
  await c.closed;
  const heads = [...c.text().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  t.same(heads, [200, 201, 200], 'health, create, list');
  t.match(c.text(), /"status":"ok"/);
  t.match(c.text(), /"name":"h2c"/);

  const curl = spawnSync('curl', ['-s', '--http2', `${server.url}/v1/health`], { encoding: 'utf8', timeout: 10_000 });
  if (curl.error) t.comment('curl not found: skipped');
  else t.match(JSON.parse(curl.stdout), { status: 'ok' }, 'curl --http2 gets the health answer');
  t.ok(await alive(server));
});

t.test('a path with malformed percent-encoding answers a typed 400', async (t) => {
  const server = shared;
  for (const path of ['/v1/session/%ZZ', '/v1/session/%E0%A4%A/message', '/%ZZ', '/v1/%', '/v1/session/abc%ZZdef/events']) {
    const res = await fetch(`${server.url}${path}`, { method: path.endsWith('message') ? 'POST' : 'GET' });
    t.equal(res.status, 400, `${path}: 400`);
    t.equal((await res.json()).error.code, -32600, `${path}: InvalidRequest`);
  }
});

t.test('resets at every phase of a request, then a full turn', async (t) => {
  const server = shared;
  const host = hostOf(server.url);
  const s = await (await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
  const phases: Array<[string, (c: Raw) => Promise<void>]> = [
    ['request line', async (c) => c.write('GET /v1/hea')],
    ['headers', async (c) => c.write(`GET /v1/health HTTP/1.1\r\nHost: ${host}\r\nX-Half: of a hea`)],
    ['body', async (c) => c.write(`POST /v1/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`)],
    ['chunked body', async (c) => c.write(`POST /v1/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"nam\r\n3\r\ne":`)],
    ['after 101', async (c) => { c.write(upgradeRequest(server.url)); await c.until((x) => x.includes('\r\n\r\n')); }],
    ['mid WebSocket frame', async (c) => {
      c.write(upgradeRequest(server.url));
      await c.until((x) => x.includes('\r\n\r\n'));
      const f = wsFrame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '1.0' } }));
      c.write(f.subarray(0, 20));
    }],
    ['mid SSE', async (c) => {
      c.write(`GET /v1/session/${s.id}/events HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      await c.until((x) => x.includes(': connected'));
      void fetch(`${server.url}/v1/session/${s.id}/message`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ content: 'a b c d e f g' }) });
      await c.until((x) => x.includes('message.delta'));
    }],
  ];
  for (const [phase, run] of phases) {
    for (let i = 0; i < PER_KIND; i++) {
      const c = await rawConnect(server.url);
      await run(c);
      c.socket.resetAndDestroy();
      await c.closed;
    }
    t.equal(await fullTurn(server.url), '', `reset in ${phase}: a full turn still works`);
  }
});

t.test('slowloris: headers trickled in are cut off by the headers timeout', async (t) => {
  const server = shared;
  const c = await rawConnect(server.url);
  c.write(`GET /v1/health HTTP/1.1\r\nHost: ${hostOf(server.url)}\r\n`);
  const started = Date.now();
  const drip = setInterval(() => c.write('X-Drip: 1\r\n'), 100);
  t.teardown(() => clearInterval(drip));
  await Promise.race([c.closed, new Promise((r) => setTimeout(r, 8000))]);
  clearInterval(drip);
  t.ok(c.isClosed(), `the server closed the connection (after ${Date.now() - started} ms)`);
  t.match(c.text(), /^HTTP\/1\.1 408/, '408 Request Timeout');
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('half-open connections: the client ends its side while the server streams', async (t) => {
  const server = shared;
  const s = await (await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
  const sse = await rawSse(server.url, `/v1/session/${s.id}/events`);
  const ws = await rawWs(server.wsUrl, s.id);
  sse.socket.end();
  ws.socket.end();
  const reply = await fetch(`${server.url}/v1/session/${s.id}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'half open' }) });
  t.equal(reply.status, 200);
  await Promise.all([sse.closed, ws.closed].map((p) => Promise.race([p, new Promise((r) => setTimeout(r, 5000))])));
  t.ok(ws.isClosed(), 'the WebSocket that ended its side is closed');
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('invalid WebSocket frames close that connection with the right code', async (t) => {
  const server = shared;
  const cases: Array<[string, Buffer, number]> = [
    ['a reserved opcode', wsFrame('{}', { opcode: 0x3 }), 1002],
    ['an unmasked client frame', wsFrame('{}', { mask: false }), 1002],
    ['an oversized length', wsFrame(Buffer.alloc(16), { declaredLength: 2 ** 40 }), 1009],
    ['invalid UTF-8 in a text frame', wsFrame(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007],
    ['a continuation without a start', wsFrame('{}', { opcode: 0x0 }), 1002],
    ['a fragmented control frame', wsFrame('x', { opcode: 0x9, fin: false }), 1002],
  ];
  for (const [what, frame, code] of cases) {
    for (let i = 0; i < PER_KIND; i++) {
      const c = await rawWs(server.wsUrl);
      c.write(frame);
      await Promise.race([c.closed, c.until((x) => closeCodeOf(x) !== undefined, 5000, 'close frame').catch(() => undefined)]);
      if (i === 0) t.equal(closeCodeOf(c.text()), code, `${what}: close ${code}`);
      c.socket.destroy();
    }
  }
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('pipelined requests are answered in order', async (t) => {
  const server = shared;
  const host = hostOf(server.url);
  const c = await rawConnect(server.url);
  const body = '{"name":"piped"}';
  c.write([
    `GET /v1/health HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `POST /v1/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `GET /v1/nope HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /v1/session HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  ].join(''));
  await c.closed;
  t.same([...c.text().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), [200, 201, 404, 200]);
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('conflicting Content-Length and Transfer-Encoding are refused with 400, never smuggled', async (t) => {
  const server = shared;
  const host = hostOf(server.url);
  const before = (await (await fetch(`${server.url}/v1/session`)).json()).sessions.length;
  const smuggled = `GET /v1/session HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const variants = [
    `Content-Length: 5\r\nTransfer-Encoding: chunked`,
    `Transfer-Encoding: chunked\r\nContent-Length: 5`,
    `Content-Length: 5\r\nContent-Length: 40`,
    `Transfer-Encoding: chunked, identity`,
    `Transfer-Encoding: xchunked\r\nContent-Length: 5`,
  ];
  for (const headers of variants) {
    const c = await rawConnect(server.url);
    c.write(`POST /v1/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n${headers}\r\n\r\n0\r\n\r\n${smuggled}`);
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 5000))]);
    const statuses = [...c.text().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    t.same(statuses, [400], `${headers.replace(/\r\n/g, ' + ')}: one 400, nothing smuggled`);
    t.ok(c.isClosed(), 'and the connection is closed');
  }
  const list = await (await fetch(`${server.url}/v1/session`)).json();
  t.equal(list.sessions.length, before, 'no request got through');
  t.equal(await fullTurn(server.url), '', 'a full turn still works');
});

t.test('the one server process survived every class', async (t) => {
  t.ok(await alive(shared));
  t.equal(await fullTurn(shared.url), '');
});
