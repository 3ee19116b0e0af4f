/**
 * The raw baselines, each in its own process as agentd is: the same libraries moving the same
 * number of same-sized messages with no agentd in between.
 *   child.js jsonrpc   vscode-jsonrpc on stdin/stdout; request `go` {count, size} sends `count`
 *                      `session/event` notifications whose frames are `size` bytes of JSON,
 *                      awaiting each send (the library's ordinary use), then answers.
 *   child.js ws        a ws server on a free port (printed); a text message {count, size} makes
 *                      it send `count` frames of `size` bytes, waiting for drain past 1 MB.
 *   child.js sse       a bare node:http server (port printed); GET /?count=&size= streams
 *                      `count` SSE events whose data is `size` bytes of JSON, respecting write()'s
 *                      return value (waiting for drain).
 *   child.js pipe      the best raw pipe writer: request `go` {count, size} (read with vscode-jsonrpc)
 *                      makes it write `count` hand-framed Content-Length frames of `size` bytes of
 *                      JSON to stdout, many frames per write (about BATCH bytes), waiting for
 *                      'drain' whenever write() returns false, then the response frame.
 *   child.js ws-cork   the best raw ws sender: as `ws`, but frames go out in batches of about
 *                      BATCH bytes between socket.cork() and uncork() (the socket is the one
 *                      handed to `handleUpgrade`, ws's public API), waiting for drain between batches.
 *   child.js sse-batch the best raw SSE writer: as `sse`, but many events per res.write() (about
 *                      BATCH bytes), waiting for 'drain' whenever write() returns false.
 *   child.js objects N JSON   holds N parsed copies of JSON in a Map; prints the heap growth per
 *                      copy (RSS moves in steps too coarse for a few MB).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { WebSocketServer, type WebSocket } from 'ws';

/** Bytes per write (pipe, SSE) or per corked batch (ws) of the best raw writers. */
const BATCH = 64 * 1024;

const [mode, ...args] = process.argv.slice(2);

/** A `session/event` notification params object whose whole frame is `size` bytes. */
function eventParams(size: number) {
  const empty = JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: { pad: '' } }).length;
  return { pad: 'x'.repeat(Math.max(0, size - empty)) };
}

/** `ws-cork`: each request {count, size} is answered with `count` frames, a corked batch at a time. */
function serveCorked(ws: WebSocket, socket: Socket) {
  ws.on('message', async (d) => {
    const { count, size } = JSON.parse(d.toString()) as { count: number; size: number };
    const frame = JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: eventParams(size) });
    const perBatch = Math.max(1, Math.floor(BATCH / frame.length));
    for (let sent = 0; sent < count;) {
      socket.cork();
      for (const end = Math.min(count, sent + perBatch); sent < end; sent++) ws.send(frame);
      socket.uncork();
      if (socket.writableNeedDrain) await new Promise<void>((resolve) => socket.once('drain', resolve));
    }
  });
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An SSE server on a free port (printed on stdout) that sends `count` events of `size` bytes of
 * JSON per request (`?count=&size=`); `send` decides how they are written.
 */
function serveSse(send: (res: ServerResponse, count: number, event: (i: number) => string) => Promise<void>) {
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const count = Number(u.searchParams.get('count'));
    const size = Number(u.searchParams.get('size'));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const data = JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) }); // `size` bytes of JSON
    await send(res, count, (i) => `id: ${i}\nevent: message.delta\ndata: ${data}\n\n`);
    res.end();
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
}

if (mode === 'jsonrpc') {
  const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
  conn.onRequest('go', async ({ count, size }: { count: number; size: number }) => {
    const params = eventParams(size);
    for (let i = 0; i < count; i++) await conn.sendNotification('session/event', params);
    return { sent: count };
  });
  conn.onClose(() => process.exit(0));
  conn.listen();
} else if (mode === 'ws') {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false }, () => {
    process.stdout.write(`${(wss.address() as { port: number }).port}\n`);
  });
  wss.on('connection', (ws) => {
    ws.on('message', async (d) => {
      const { count, size } = JSON.parse(d.toString()) as { count: number; size: number };
      const frame = JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: eventParams(size) });
      for (let i = 0; i < count; i++) {
        ws.send(frame);
        if (ws.bufferedAmount > 1 << 20) {
          await new Promise<void>((resolve) => (ws as unknown as { _socket: { once(e: string, cb: () => void): void } })._socket.once('drain', resolve));
        }
      }
    });
  });
} else if (mode === 'sse') {
  serveSse(async (res, count, event) => {
    for (let i = 0; i < count; i++) {
      if (!res.write(event(i))) await new Promise((r) => res.once('drain', r));
    }
  });
} else if (mode === 'pipe') {
  // Requests still arrive through vscode-jsonrpc's reader: only the sending side is hand-made.
  const reader = new StreamMessageReader(process.stdin);
  const out = process.stdout;
  const frame = (msg: object) => {
    const text = JSON.stringify(msg);
    return `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
  };
  const write = (chunk: string) => (out.write(chunk) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', resolve)));
  reader.listen(async (msg) => {
    const m = msg as { id?: number; method?: string; params?: { count: number; size: number } };
    if (m.method !== 'go' || m.id === undefined) return;
    const { count, size } = m.params!;
    const one = frame({ jsonrpc: '2.0', method: 'session/event', params: eventParams(size) });
    const perWrite = Math.max(1, Math.floor(BATCH / one.length));
    const full = one.repeat(perWrite);
    for (let sent = 0; sent < count; sent += perWrite) await write(count - sent >= perWrite ? full : one.repeat(count - sent));
    await write(frame({ jsonrpc: '2.0', id: m.id, result: { sent: count } }));
  });
  reader.onClose(() => process.exit(0));
} else if (mode === 'ws-cork') {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket as Socket, head, (ws) => serveCorked(ws, socket as Socket)));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
} else if (mode === 'sse-batch') {
  serveSse(async (res, count, event) => {
    let chunk = '';
    for (let i = 0; i < count; i++) {
      chunk += event(i);
      if (chunk.length >= BATCH || i === count - 1) {
        const ok = res.write(chunk);
        chunk = '';
        if (!ok) await new Promise((r) => res.once('drain', r));
      }
    }
  });
} else if (mode === 'objects') {
  const n = Number(args[0]);
  const json = args[1];
  gc();
  await sleep(200);
  const before = process.memoryUsage().heapUsed;
  const held = new Map<string, unknown>();
  for (let i = 0; i < n; i++) held.set(`ses_${i}`, JSON.parse(json));
  gc();
  await sleep(500);
  const after = process.memoryUsage().heapUsed;
  process.stdout.write(`${(after - before) / n} ${held.size}\n`);
  process.exit(0);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
