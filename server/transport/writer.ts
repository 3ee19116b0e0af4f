/**
 * Outbound path of a JSON-RPC connection: a vscode-jsonrpc MessageWriter that batches.
 * Messages queue as JSON text and go out together once per event-loop turn; the queue plus
 * the transport's own buffer is bounded, and a peer that lets it fill is disconnected
 * rather than growing memory or slowing the others. Pre-serialized event frames skip
 * JSON.stringify (writeText), and SSE text goes through the same queue.
 */
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

export interface Sink {
  /** Write one batch of JSON texts; false when the transport wants us to wait for drain. */
  write(batch: string[]): boolean;
  /** Bytes the transport still holds. */
  buffered(): number;
  /** Call back once when the transport drained. */
  onceDrain(cb: () => void): void;
  /** Close the transport (overflow or end). */
  close(reason: string): void;
}

export class BatchingWriter extends AbstractMessageWriter implements MessageWriter {
  private queue: string[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private waitingDrain = false;
  private drainWaiters: Array<() => void> = [];
  closed = false;

  constructor(private sink: Sink, private maxBufferedBytes: number, private onOverflow: (bytes: number) => void) {
    super();
  }

  write(msg: Message): Promise<void> {
    this.writeText(JSON.stringify(msg));
    return Promise.resolve();
  }

  /** Queue one serialized message: a JSON-RPC message's JSON, or an SSE message's text (bridge/peer.ts). */
  writeText(json: string): void {
    if (this.closed) return;
    this.queuedBytes += json.length;
    if (this.queuedBytes + this.sink.buffered() > this.maxBufferedBytes) {
      const bytes = this.queuedBytes + this.sink.buffered();
      this.end();
      this.onOverflow(bytes);
      return;
    }
    this.queue.push(json);
    if (!this.scheduled && !this.waitingDrain) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** True when the queue is small enough to add a page of replay. */
  get hasRoom(): boolean {
    return !this.waitingDrain && this.queuedBytes + this.sink.buffered() < this.maxBufferedBytes / 4;
  }

  /** Resolves once the outbound buffer has room again (or the writer closed). */
  writable(): Promise<void> {
    if (this.closed || this.hasRoom) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private flush() {
    this.scheduled = false;
    if (this.closed || !this.queue.length) return this.wake();
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    let ok: boolean;
    try {
      ok = this.sink.write(batch);
    } catch (err) {
      this.fireError(err);
      return;
    }
    if (!ok) {
      this.waitingDrain = true;
      this.sink.onceDrain(() => {
        this.waitingDrain = false;
        if (this.queue.length) this.flush();
        else this.wake();
      });
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
    this.queuedBytes = 0;
    this.wake();
  }
}
