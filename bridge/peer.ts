/**
 * REST peers. A plain REST request is a peer for the length of one request: already
 * initialized (REST has no `initialize`), without server-to-client requests, aborted when the
 * client goes away before the answer. An SSE stream is a peer for as long as it is open; its
 * events go out through the same bounded, backpressure-aware writer as JSON-RPC frames.
 */
import type { Request, Response } from 'express';
import type { SsePeerDeps } from './deps.js';
import type { PublishedEvent } from '../server/events/log.js';
import { Peer } from '../server/rpc/peer.js';
import { rateSubject } from '../server/security/rate.js';
import type { AdmittedRequest } from '../server/security/guard.js';
import { ErrorCodes } from '../protocol/index.js';
import { BatchingWriter, OVERFLOW_GRACE_MS, overflowReason } from '../server/transport/writer.js';

export class RestPeer extends Peer {
  readonly transport = 'rest' as const;

  constructor(req: Request, res: Response) {
    super();
    this.state = 'initialized';
    this.clientInfo = { name: String(req.headers['user-agent'] ?? 'http') };
    // Set by the access guard (server/serve.ts): scopes idempotency keys per API key.
    this.principal = (req as Request & AdmittedRequest).principal;
    this.caller = (req as Request & AdmittedRequest).caller;
    this.rate = rateSubject(req.socket.remoteAddress, this.principal);
    // 'close' fires after the response finished too; only an unfinished one means the client left.
    res.once('close', () => this.markClosed());
  }

  /** A plain request carries no events. */
  deliver(_e: PublishedEvent): void {}

  writable(): Promise<void> {
    return Promise.resolve();
  }
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

export class SsePeer extends RestPeer {
  private writer: BatchingWriter;

  constructor(core: SsePeerDeps, req: Request, private res: Response, private position: 'seq' | 'id') {
    super(req, res);
    this.writer = new BatchingWriter(
      {
        write: (batch) => {
          this.open();
          // One res.write per batch: the events are shared strings, the join is this batch's only copy.
          return res.write(batch.length === 1 ? batch[0] : batch.join(''));
        },
        buffered: () => res.writableLength,
        onceDrain: (cb) => res.once('drain', cb),
        close: () => res.end(),
      },
      core.config.limits().sendBufferBytes,
      (bytes, why) => {
        core.log.warn({ peer: this.id, bytes, why }, 'SSE client is not reading; disconnecting');
        // The reason goes last, behind what the client has not read; it is cut off shortly after.
        const error = { code: ErrorCodes.LimitExceeded, message: overflowReason(why) };
        if (!res.destroyed) res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
        setTimeout(() => res.destroy(), OVERFLOW_GRACE_MS).unref();
      },
      core.sendBudget,
    );
    this.onClose(() => this.writer.end());
  }

  /** A revoked key ends the stream at once. */
  protected closeRevoked() {
    super.closeRevoked();
    this.res.end();
  }

  /** Sends the status and headers once (before the first event or comment). */
  open() {
    if (this.res.headersSent) return;
    this.res.writeHead(200, SSE_HEADERS);
    this.res.flushHeaders();
  }

  deliver(e: PublishedEvent): void {
    this.writer.writeText(e.sse(this.position));
  }

  /** A comment line (heartbeat, greeting); skipped while the client is behind. */
  comment(text: string) {
    if (this.writer.hasRoom) this.writer.writeText(`: ${text}\n\n`);
  }

  writable(): Promise<void> {
    return this.writer.writable();
  }
}
