/**
 * A peer is one client connection, whatever its transport: its lifecycle state, capabilities
 * and event subscriptions. The core talks to peers only through this class.
 */
import type { ClientCapabilities } from '../../protocol/index.js';
import type { EventSink } from '../events/follow.js';
import type { PublishedEvent } from '../events/log.js';
import type { RateSubject } from '../security/rate.js';

export type TransportKind = 'stdio' | 'websocket' | 'rest';
let counter = 0;

export abstract class Peer implements EventSink {
  readonly id = `peer_${++counter}`;
  abstract readonly transport: TransportKind;
  /** LSP lifecycle: requests other than initialize are refused while `new`. */
  state: 'new' | 'initialized' | 'shutdown' = 'new';
  capabilities: ClientCapabilities = {};
  clientInfo?: { name: string; version?: string };
  /** Who is calling, as the access guard admitted it (`key:<id>` with an API key, `ip:<addr>` without). */
  principal?: string;
  /** Whom rate limits count this client against (HTTP transports; stdio has none). */
  rate?: RateSubject;
  /** Active subscriptions by session id ('*' for all events), each with its unsubscribe function. */
  readonly subscriptions = new Map<string, () => void>();
  closed = false;
  /** Aborted when the peer goes away: requests and turns waiting on it stop. */
  readonly lifetime = new AbortController();
  private closeHandlers: Array<() => void> = [];

  abstract deliver(e: PublishedEvent): void;
  abstract writable(): Promise<void>;
  /** A server-to-client request; absent when the transport cannot carry one (REST). */
  request?(method: string, params: unknown, signal?: AbortSignal): Promise<unknown>;

  onClose(fn: () => void) {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  /** Ends every subscription and tells whoever asked; idempotent. */
  protected markClosed() {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort();
    for (const off of this.subscriptions.values()) off();
    this.subscriptions.clear();
    for (const fn of this.closeHandlers.splice(0)) fn();
  }
}
