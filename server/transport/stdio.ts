/**
 * stdio transport: LSP framing (`Content-Length: N\r\n\r\n` + N bytes of UTF-8 JSON) on
 * stdin/stdout. stdout carries nothing else; logs go to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import type { ConfigService } from '../config/service.js';
import { RpcError } from '../rpc/errors.js';
import { CheckedReader, errorFrame } from '../rpc/frames.js';
import { JsonRpcPeer, type JsonRpcPeerDeps } from '../rpc/jsonrpc-peer.js';
import { BatchingWriter } from './writer.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER = 8192;

/** Parses Content-Length frames; answers bad frames and resynchronizes on the next header. */
class StdioReader extends CheckedReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized frame still to drop as they arrive. */
  private discard = 0;
  /** After a frame whose end is unknown: drop bytes up to the next `Content-Length`. */
  private resync = false;
  private decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(input: Readable, private maxBytes: number, reject: (id: string | number | null, e: RpcError) => void) {
    super(reject);
    input.on('data', (chunk: Buffer) => this.onData(chunk));
    input.on('end', () => this.closed());
    input.on('close', () => this.closed());
    input.on('error', (err) => this.fireError(err));
  }

  private onData(chunk: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.discard > 0) {
        const n = Math.min(this.discard, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.discard -= n;
        if (this.discard > 0) return;
      }
      if (this.resync) {
        const next = this.buf.indexOf('Content-Length');
        if (next < 0) {
          // Keep a tail that may be the start of the next header.
          this.buf = this.buf.subarray(Math.max(0, this.buf.length - 13));
          return;
        }
        this.buf = this.buf.subarray(next);
        this.resync = false;
      }
      const end = this.buf.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buf.length > MAX_HEADER) {
          this.buf = this.buf.subarray(1);
          this.resync = true;
          this.refuse(RpcError.parse('frame header too long'));
          continue;
        }
        return;
      }
      const header = this.buf.subarray(0, end).toString('latin1');
      const lengths = [...header.matchAll(/(?:^|\r\n)content-length:[ \t]*(\d{1,15})[ \t]*(?=\r\n|$)/gi)].map((m) => Number(m[1]));
      const valid = /^(?:[!-9;-~]+:[^\r\n]*(?:\r\n|$))+$/.test(header);
      if (!valid || lengths.length === 0 || lengths.some((n) => n !== lengths[0])) {
        // Without one trustworthy length the body's end is unknown: resynchronize on the next
        // header, which a client that recovers sends after its garbage.
        this.buf = this.buf.subarray(end + 4);
        this.resync = true;
        this.refuse(RpcError.parse(lengths.length > 1 ? 'frame header with conflicting Content-Length values' : 'frame header without a valid Content-Length'));
        continue;
      }
      const length = lengths[0];
      if (length > this.maxBytes) {
        this.buf = this.buf.subarray(end + 4);
        this.discard = length;
        this.refuse(RpcError.tooLarge(this.maxBytes));
        continue;
      }
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      this.buf = this.buf.subarray(end + 4 + length);
      let text: string;
      try {
        text = this.decoder.decode(body);
      } catch {
        this.refuse(RpcError.parse('message is not valid UTF-8'));
        continue;
      }
      this.receive(text);
    }
  }
}

export function stdioFrames(batch: string[]): string {
  let out = '';
  for (const json of batch) out += `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
  return out;
}

export interface StdioOptions {
  input?: Readable;
  output?: Writable;
  onExit(code: number): void;
}

/** Serves one JSON-RPC peer on stdin/stdout. */
/** What the stdio transport needs: a peer's deps and the limits of its buffers. */
export interface StdioDeps extends JsonRpcPeerDeps {
  config: Pick<ConfigService, 'limits'>;
}

export function serveStdio(core: StdioDeps, opts: StdioOptions): JsonRpcPeer {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const limits = core.config.limits();
  const writer = new BatchingWriter(
    {
      write: (batch) => output.write(stdioFrames(batch)),
      buffered: () => output.writableLength,
      onceDrain: (cb) => output.once('drain', cb),
      close: () => output.end(),
    },
    limits.sendBufferBytes,
    (bytes) => {
      core.log.error({ bytes }, 'stdio client is not reading; closing');
      opts.onExit(1);
    },
  );
  const reader = new StdioReader(input, limits.maxBodyBytes, (id, error) => writer.writeText(errorFrame(id, error)));
  const peer = new JsonRpcPeer(core, 'stdio', reader, writer, { exit: (code) => opts.onExit(code) }).start();
  output.on('error', () => opts.onExit(1));
  return peer;
}
