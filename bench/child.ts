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
 *   child.js objects N JSON   holds N parsed copies of JSON in a Map; prints the heap growth per
 *                      copy (RSS moves in steps too coarse for a few MB).
 */
import { createServer } from 'node:http';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { WebSocketServer } from 'ws';

const [mode, ...args] = process.argv.slice(2);

/** A `session/event` notification params object whose whole frame is `size` bytes. */
function eventParams(size: number) {
  const empty = JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: { pad: '' } }).length;
  return { pad: 'x'.repeat(Math.max(0, size - empty)) };
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const count = Number(u.searchParams.get('count'));
    const size = Number(u.searchParams.get('size'));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const data = JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) }); // `size` bytes of JSON
    for (let i = 0; i < count; i++) {
      if (!res.write(`id: ${i}\nevent: message.delta\ndata: ${data}\n\n`)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
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
