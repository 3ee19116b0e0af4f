/**
 * Raw-socket clients of the HTTP port (node:net): exact bytes in, every byte out, resets at any
 * point, and readers that stop reading. For the adversarial tests in test/security/ and the
 * slow-reader figure (bench/slow-readers.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { SseStream } from './driver.js';

export interface Raw {
  socket: Socket;
  /** Everything received so far. */
  data(): Buffer;
  text(): string;
  /** Resolves when the received bytes match (or the socket closed: then rejects). */
  until(pred: (text: string) => boolean, ms?: number, what?: string): Promise<string>;
  closed: Promise<void>;
  isClosed(): boolean;
  write(b: string | Buffer): void;
}

/** Opens a TCP connection to the server; `opts.localAddress` picks the source address (127.0.0.2, ...). */
export function rawConnect(url: string, opts: { localAddress?: string } = {}): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), localAddress: opts.localAddress });
    const chunks: Buffer[] = [];
    let size = 0;
    let closed = false;
    const waiters = new Set<() => void>();
    const wake = () => { for (const w of [...waiters]) w(); };
    socket.on('data', (d) => { chunks.push(d); size += d.length; wake(); });
    socket.on('error', () => { /* resets are expected here */ });
    const closedP = new Promise<void>((r) => socket.on('close', () => { closed = true; wake(); r(); }));
    const data = () => (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    const raw: Raw = {
      socket,
      data,
      text: () => data().toString('latin1'),
      closed: closedP,
      isClosed: () => closed,
      write: (b) => { if (!socket.destroyed) socket.write(b); },
      until: (pred, ms = 10_000, what = 'bytes') => new Promise((res, rej) => {
        const check = () => {
          const t = raw.text();
          if (pred(t)) { done(); res(t); } else if (closed) { done(); rej(new Error(`closed before ${what}: ${JSON.stringify(t.slice(0, 300))}`)); }
        };
        const timer = setTimeout(() => { done(); rej(new Error(`timed out waiting for ${what}: ${JSON.stringify(raw.text().slice(0, 300))}`)); }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      }),
    };
    socket.once('connect', () => resolve(raw));
    socket.once('error', reject);
  });
}

export const hostOf = (url: string) => new URL(url).host;

/** A WebSocket upgrade request for `path` with extra header lines. */
export function upgradeRequest(url: string, path = '/rpc', extra: string[] = []): string {
  return [
    `GET ${path} HTTP/1.1`, `Host: ${hostOf(url)}`, 'Connection: Upgrade', 'Upgrade: websocket',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', ...extra, '', '',
  ].join('\r\n');
}

/** One client-to-server WebSocket frame; every field can be made wrong on purpose. */
export function wsFrame(payload: Buffer | string, o: { opcode?: number; fin?: boolean; mask?: boolean; declaredLength?: number } = {}): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const mask = o.mask ?? true;
  const n = o.declaredLength ?? body.length;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | (o.opcode ?? 1)];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    head.push(...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), body]);
  const key = randomBytes(4);
  const masked = Buffer.from(body);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, masked]);
}

const rpc = (id: number | undefined, method: string, params: object) => JSON.stringify({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method, params });

/** A raw WebSocket JSON-RPC client: upgraded, initialized, optionally subscribed to a session. */
export async function rawWs(url: string, sessionId?: string): Promise<Raw> {
  const c = await rawConnect(url);
  c.write(upgradeRequest(url));
  await c.until((t) => t.includes('\r\n\r\n'), 10_000, '101');
  if (!c.text().startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${c.text().slice(0, 100)}`);
  c.write(wsFrame(rpc(1, 'initialize', { protocolVersion: '1.0', clientInfo: { name: 'raw' } })));
  c.write(wsFrame(rpc(undefined, 'initialized', {})));
  if (sessionId) {
    c.write(wsFrame(rpc(2, 'session/subscribe', { sessionId })));
    await c.until((t) => t.includes('"id":2'), 10_000, 'subscribe reply');
  } else await c.until((t) => t.includes('"id":1'), 10_000, 'initialize reply');
  return c;
}

/** A raw SSE client of `path`, open (`: connected` seen). */
export async function rawSse(url: string, path: string, extra: string[] = []): Promise<Raw> {
  const c = await rawConnect(url);
  c.write([`GET ${path} HTTP/1.1`, `Host: ${hostOf(url)}`, 'Accept: text/event-stream', ...extra, '', ''].join('\r\n'));
  await c.until((t) => t.includes(': connected'), 10_000, 'SSE stream');
  return c;
}

/** The server's resident set (and its peak) in bytes, from /proc. */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const post = async (url: string, body: object) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

/**
 * One full turn over REST + SSE on the server at `url`: session/create, the session's event
 * stream, session/message with the echo provider. Resolves to what went wrong ('' when all is well).
 */
export async function fullTurn(url: string, content = 'still serving'): Promise<string> {
  try {
    const s = await post(`${url}/v1/session`, { name: 'after-abuse' });
    if (s.status !== 201) return `session/create answered ${s.status}`;
    const sse = await SseStream.open(`${url}/v1/session/${s.body.id}/events`);
    try {
      const m = await post(`${url}/v1/session/${s.body.id}/message`, { content });
      if (m.status !== 200 || m.body.content?.[0]?.text !== `Echo: ${content}`) return `session/message answered ${m.status} ${JSON.stringify(m.body).slice(0, 200)}`;
      await sse.waitFor(() => sse.events.find((e) => e.type === 'turn.completed'), 10_000, 'turn.completed on SSE');
      const types = sse.events.map((e) => e.type);
      for (const t of ['message.created', 'turn.started', 'message.delta', 'message.completed']) if (!types.includes(t)) return `no ${t} event`;
      return '';
    } finally {
      await sse.close();
    }
  } catch (err) {
    return String(err);
  }
}
