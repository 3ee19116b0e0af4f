/**
 * Idempotency keys for mutating requests (`idempotencyKey` in params; REST maps the
 * `Idempotency-Key` header onto it). The first outcome of a key is stored in the store's kv
 * table, so it holds across reconnects and restarts: a retry with the same key and the same
 * params gets that outcome again without acting; the same key with other params (or another
 * method) is a Conflict. A retry that arrives while the first is still running waits for it.
 *
 * Outcomes that mean "nothing was done, try again" (busy, shutting down, rate limited, limit
 * reached, timeout, internal error) are not stored, so a retry acts. Records expire after
 * `IDEMPOTENCY_TTL_MS`.
 */
import { createHash } from 'node:crypto';
import { ErrorCodes, type ErrorObject } from '../../protocol/index.js';
import type { Store } from '../store/store.js';
import { RpcError } from './errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const NS = 'idempotency';

/** Errors a retry should run again: the action did not happen. */
const TRANSIENT = new Set<number>([
  ErrorCodes.SessionBusy, ErrorCodes.ShuttingDown, ErrorCodes.StoreUnavailable, ErrorCodes.RateLimited, ErrorCodes.LimitExceeded,
  ErrorCodes.Timeout, ErrorCodes.InternalError, ErrorCodes.ServerNotInitialized, ErrorCodes.Unauthorized,
  // Refused by this node (session affinity): the retry goes to the session's node, which must run it.
  ErrorCodes.WrongNode,
]);

interface Record_ {
  /** Hash of method + params (without the key). */
  fp: string;
  at: number;
  result?: unknown;
  error?: ErrorObject;
}

/** Canonical JSON: object keys sorted, so param order does not matter. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export class IdempotencyCache {
  private inflight = new Map<string, { fp: string; done: Promise<unknown> }>();

  constructor(private store: Store, private ttlMs = IDEMPOTENCY_TTL_MS) {}

  /** The stored key of a request, when its params carry one: scoped by API key principal (`key:<id>`). */
  static keyOf(params: unknown, principal?: string): string | undefined {
    const k = (params as { idempotencyKey?: unknown } | null)?.idempotencyKey;
    if (typeof k !== 'string' || !k.length) return undefined;
    return principal?.startsWith('key:') ? `${principal}\n${k}` : k;
  }

  /** Runs `act` once per key: a retry gets the first outcome (result or typed error) again. */
  async run(method: string, key: string, params: unknown, act: () => Promise<unknown>): Promise<unknown> {
    const { idempotencyKey: _k, ...rest } = params as Record<string, unknown>;
    const fp = createHash('sha256').update(`${method}\n${canonical(rest)}`).digest('base64url');
    const joined = () => {
      const running = this.inflight.get(key);
      if (running && running.fp !== fp) throw this.conflict(key);
      return running?.done;
    };
    const early = joined();
    if (early) return early;
    const stored = await this.get(key);
    // A retry that arrived while the record was read runs once too.
    const running = joined();
    if (running) return running;
    if (stored) {
      if (stored.fp !== fp) throw this.conflict(key);
      if (stored.error) throw new RpcError(stored.error.code as RpcError['code'], stored.error.message, stored.error.data as Record<string, unknown> | undefined);
      return stored.result;
    }
    const done = act().then(
      async (result) => { await this.put(key, { fp, at: Date.now(), result }); return result; },
      async (err: unknown) => {
        if (err instanceof RpcError && !TRANSIENT.has(err.code)) await this.put(key, { fp, at: Date.now(), error: err.toJSON() });
        throw err;
      },
    );
    this.inflight.set(key, { fp, done });
    try {
      return await done;
    } finally {
      this.inflight.delete(key);
    }
  }

  /** Drops expired records (run at start). */
  async prune(nowMs = Date.now()): Promise<number> {
    let n = 0;
    for (const { key, value } of await this.store.kvList(NS)) {
      let at = 0;
      try { at = (JSON.parse(value) as Record_).at; } catch { /* unreadable: drop */ }
      if (!(nowMs - at < this.ttlMs)) { await this.store.kvDelete(NS, key); n++; }
    }
    return n;
  }

  private async get(key: string): Promise<Record_ | undefined> {
    const raw = await this.store.kvGet(NS, key);
    if (!raw) return undefined;
    try {
      const rec = JSON.parse(raw) as Record_;
      return Date.now() - rec.at < this.ttlMs ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  private async put(key: string, rec: Record_) {
    try {
      await this.store.kvSet(NS, key, JSON.stringify(rec));
    } catch { /* store closed during shutdown: the outcome simply is not remembered */ }
  }

  private conflict(key: string) {
    return RpcError.conflict('idempotency key was already used with different params', { idempotencyKey: key.slice(key.lastIndexOf('\n') + 1) });
  }
}
