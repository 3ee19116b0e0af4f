/**
 * What the scripted model servers (anthropic-server.ts, openai-server.ts) share: a loopback HTTP
 * server with a queue of scripted replies, each request's JSON body, and the loop that plays a
 * streamed reply's steps (waits, a dropped connection, a hang) around the frames of each wire format.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The steps of a stream that are no frame of its wire format. */
export type ControlStep =
  | { delay: number }
  /** Destroy the socket here (connection lost mid-stream). */
  | { drop: true }
  /** Stop writing and keep the connection open until the client goes away. */
  | { hang: true };

export interface ScriptedServer<R> {
  port: number;
  /** Queues replies, served in order. */
  script(...replies: R[]): void;
  /** Replies not yet served. */
  pending(): number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1; `handle` gets each request with its body parsed as JSON (null when empty
 * or not JSON) and `next()`, the next scripted reply (undefined when none is left). A handler that
 * throws destroys the response.
 */
export async function startScriptedServer<R>(
  handle: (req: IncomingMessage, res: ServerResponse, body: Json, next: () => R | undefined) => Promise<void> | void,
): Promise<ScriptedServer<R>> {
  const queue: R[] = [];
  const sockets = new Set<Socket>();
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Json = null;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* null */ }
    await handle(req, res, body, () => queue.shift());
  };
  const server = createServer((req, res) => { serve(req, res).catch(() => res.destroy()); });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    script: (...replies) => { queue.push(...replies); },
    pending: () => queue.length,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A 200 event stream with `headers`, playing `steps`: `frame` gives the text of each frame step. */
export async function playStream<S extends object>(res: ServerResponse, headers: Record<string, string>, steps: Array<S | ControlStep>, frame: (step: S) => string): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  res.flushHeaders();
  for (const step of steps) {
    if (res.destroyed) return;
    if ('delay' in step) await new Promise((resolve) => setTimeout(resolve, step.delay));
    else if ('drop' in step) { res.socket?.destroy(); return; }
    else if ('hang' in step) return; // left open; closed by the client or close()
    else res.write(frame(step as S));
  }
  res.end();
}
