/**
 * Outbound path of a connection (JSON-RPC over WebSocket or stdio, and SSE): a vscode-jsonrpc
 * MessageWriter that batches. Messages queue as text (shared event strings, never copied per
 * peer) and go out together once per event-loop turn, at most BATCH_BYTES per socket write, so
 * the socket of a slow reader holds one batch and the rest stays in the queue as references.
 * Two bounds: per connection (the queue plus the transport's own buffer, `limits.sendBufferBytes`)
 * and process-wide (SendBudget, `limits.totalSendBufferBytes`, over every connection of every
 * transport); a peer that overflows is disconnected rather than growing memory or slowing the others.
 */
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

export interface Sink {
  /** Write one batch of texts; false when the transport wants us to wait for drain. */
  write(batch: string[]): boolean;
  /** Bytes the transport still holds. */
  buffered(): number;
  /** Call back once when the transport drained. */
  onceDrain(cb: () => void): void;
  /** Close the transport (overflow or end). */
  close(reason: string): void;
}

/** Bytes handed to the transport in one write: bounds what a stalled socket holds beyond our queue. */
export const BATCH_BYTES = 64 * 1024;

/** Why a writer was disconnected: its own buffer, or the process-wide one. */
export type Overflow = 'connection' | 'total';

/** How long a disconnected slow reader may still take its close reason before its socket is destroyed. */
export const OVERFLOW_GRACE_MS = 1000;

/** The close reason a disconnected slow reader is given (WebSocket close reason, SSE error event). */
export const overflowReason = (why: Overflow) => why === 'connection'
  ? 'client not reading: its send buffer is full (limits.sendBufferBytes)'
  : 'client not reading: the server-wide send buffer is full (limits.totalSendBufferBytes)';

/**
 * The process-wide bound on bytes buffered for slow readers. Each writer's charge is what it
 * holds (its queue plus its transport's buffer), refreshed on every write and drain. When the
 * total passes the cap, the stalled writers (waiting for their socket to drain) holding the most
 * are disconnected until it fits.
 * A shared event string queued by many peers counts once per peer: a conservative bound.
 */
export class SendBudget {
  private charges = new Map<BatchingWriter, number>();
  private total = 0;

  constructor(private cap: () => number) {}

  get bytes(): number { return this.total; }
  get writers(): number { return this.charges.size; }

  /** Records what `w` holds now; enforces the cap when the total passes it. */
  charge(w: BatchingWriter, held: number) {
    this.total += held - (this.charges.get(w) ?? 0);
    this.charges.set(w, held);
    if (this.total > this.cap()) this.enforce();
  }

  release(w: BatchingWriter) {
    const held = this.charges.get(w);
    if (held === undefined) return;
    this.total -= held;
    this.charges.delete(w);
  }

  private enforce() {
    // Charges can be stale (sockets drained since): recount exactly before disconnecting anyone.
    this.total = 0;
    for (const w of this.charges.keys()) {
      const held = w.held();
      this.charges.set(w, held);
      this.total += held;
    }
    const cap = this.cap();
    if (this.total <= cap) return;
    // Only readers that stopped taking data (waiting for drain) are candidates: every peer holds
    // this loop turn's batch until it flushes, a fast one included.
    const biggest = [...this.charges].filter(([w]) => w.stalled).sort((a, b) => b[1] - a[1]);
    for (const [w, held] of biggest) {
      if (this.total <= cap) break;
      w.overflow('total', held);
    }
  }
}

export class BatchingWriter extends AbstractMessageWriter implements MessageWriter {
  private queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private scheduled = false;
  private waitingDrain = false;
  private drainWaiters: Array<() => void> = [];
  closed = false;

  constructor(
    private sink: Sink,
    private maxBufferedBytes: number,
    private onOverflow: (bytes: number, why: Overflow) => void,
    private budget?: SendBudget,
  ) {
    super();
  }

  write(msg: Message): Promise<void> {
    this.writeText(JSON.stringify(msg));
    return Promise.resolve();
  }

  /** The transport asked us to wait for drain: this reader is not keeping up. */
  get stalled(): boolean {
    return this.waitingDrain;
  }

  /** What this connection holds: queued text plus the transport's buffer. */
  held(): number {
    return this.queuedBytes + this.sink.buffered();
  }

  /** Queue an already-serialized text (a JSON-RPC message, an SSE message). */
  writeText(text: string): void {
    if (this.closed) return;
    this.queuedBytes += text.length;
    const held = this.held();
    if (held > this.maxBufferedBytes) return this.overflow('connection', held);
    this.queue.push(text);
    this.budget?.charge(this, held);
    if (this.closed) return; // the budget disconnected us
    if (!this.scheduled && !this.waitingDrain) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Disconnects this peer for holding too much; the transport's callback closes it with the reason. */
  overflow(why: Overflow, bytes: number) {
    if (this.closed) return;
    this.end();
    this.onOverflow(bytes, why);
  }

  /** True when the queue is small enough to add a page of replay. */
  get hasRoom(): boolean {
    return !this.waitingDrain && this.held() < this.maxBufferedBytes / 4;
  }

  /** Resolves once the outbound buffer has room again (or the writer closed). */
  writable(): Promise<void> {
    if (this.closed || this.hasRoom) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Takes up to BATCH_BYTES (at least one text) off the queue. */
  private take(): string[] {
    let end = this.head;
    let bytes = 0;
    while (end < this.queue.length && (end === this.head || bytes + this.queue[end].length <= BATCH_BYTES)) bytes += this.queue[end++].length;
    const batch = this.queue.slice(this.head, end);
    this.queuedBytes -= bytes;
    if (end === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (end > 4096 && end * 2 > this.queue.length) {
      this.queue = this.queue.slice(end);
      this.head = 0;
    } else this.head = end;
    return batch;
  }

  private get pending(): boolean { return this.head < this.queue.length; }

  private flush() {
    this.scheduled = false;
    if (this.closed || !this.pending) return this.wake();
    const batch = this.take();
    let ok: boolean;
    try {
      ok = this.sink.write(batch);
    } catch (err) {
      this.fireError(err);
      return;
    }
    if (this.closed) return;
    this.budget?.charge(this, this.held());
    if (!ok) {
      this.waitingDrain = true;
      this.sink.onceDrain(() => {
        this.waitingDrain = false;
        if (this.closed) return;
        this.budget?.charge(this, this.held());
        if (this.pending) this.flush();
        else this.wake();
      });
    } else if (this.pending) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    } else this.wake();
  }

  private wake() {
    if (!this.drainWaiters.length || !(this.closed || this.hasRoom)) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.budget?.release(this);
    this.wake();
  }
}
