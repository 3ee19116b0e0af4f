/**
 * A peer is one client connection, whatever its transport: its lifecycle state, capabilities
 * and event subscriptions. The core talks to peers only through this class.
 */
import type { ClientCapabilities } from '../../protocol/index.js';
import type { EventSink } from '../events/follow.js';
import type { PublishedEvent } from '../events/log.js';
import { RpcError } from './errors.js';
import type { RateSubject } from '../security/rate.js';
import type { Caller } from '../security/caller.js';

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
  /** The user and rights of that key; absent for the local user (stdio, loopback without keys): full rights. */
  caller?: Caller;
  /** Whom rate limits count this client against (HTTP transports; stdio has none). */
  rate?: RateSubject;
  /** Active subscriptions by session id ('*' for all events), each with its unsubscribe function. */
  readonly subscriptions = new Map<string, () => void>();
  closed = false;
  /** Aborted when the peer goes away: requests and turns waiting on it stop. */
  readonly lifetime = new AbortController();
  private closeHandlers: Array<() => void> = [];
  /** Aborted (reason: Unauthorized) when the API key this peer was admitted with is revoked. */
  readonly revocation = new AbortController();

  abstract deliver(e: PublishedEvent): void;
  abstract writable(): Promise<void>;
  /** A server-to-client request; absent when the transport cannot carry one (REST). */
  request?(method: string, params: unknown, signal?: AbortSignal): Promise<unknown>;

  get revoked(): boolean {
    return this.revocation.signal.aborted;
  }

  /**
   * The peer's API key was revoked: requests in flight fail with Unauthorized (the dispatcher
   * races them against `revocation`), then the transport ends the connection (closeRevoked).
   */
  revoke() {
    if (this.revoked || this.closed) return;
    this.revocation.abort(RpcError.unauthorized('the API key was revoked'));
    this.closeRevoked();
  }

  /** How the transport ends a revoked connection; by default, as if the client had gone. */
  protected closeRevoked() {
    this.markClosed();
  }

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
