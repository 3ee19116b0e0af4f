/**
 * API keys for HTTP and WebSocket clients. A key is shown once at creation; only its SHA-256
 * is stored (kv namespace `apikey`). Verification compares digests in constant time.
 * Each key belongs to a user and may be an admin key (keys and config). A key stored before
 * users existed has neither field: it reads as an admin key of user `default` (so a
 * single-user deployment keeps every right it had).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';
import { DEFAULT_USER, type Caller } from './caller.js';

const NS = 'apikey';

export interface KeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: string;
  /** Absent on keys created before users existed: `default`. */
  user?: string;
  /** Absent on keys created before users existed: true. */
  admin?: boolean;
}

/** A key as listed: never its hash; user and admin always set. */
export interface KeyInfo { id: string; name: string; user: string; admin: boolean; createdAt: string }

const info = (r: KeyRecord): KeyInfo => ({ id: r.id, name: r.name, user: r.user ?? DEFAULT_USER, admin: r.admin ?? r.user === undefined, createdAt: r.createdAt });

/** The caller a key admits. */
export const callerOf = (k: KeyInfo): Caller => ({ user: k.user, admin: k.admin });

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

export class ApiKeys {
  constructor(private store: Store) {}

  /**
   * Creates a key; the returned `key` is the only time the secret exists outside the client.
   * Without a user: an admin key of user `default`, as every key was before users existed.
   */
  async create(name: string, owner?: { user: string; admin?: boolean }): Promise<KeyInfo & { key: string }> {
    const key = `agentd_${randomBytes(32).toString('base64url')}`;
    const rec: KeyRecord = {
      id: `key_${randomBytes(6).toString('hex')}`, name, hash: digest(key).toString('hex'), createdAt: new Date().toISOString(),
      user: owner?.user ?? DEFAULT_USER, admin: owner ? owner.admin === true : true,
    };
    await this.store.kvSet(NS, rec.id, JSON.stringify(rec));
    return { ...info(rec), key };
  }

  /** Every key, oldest first. */
  async list(): Promise<KeyInfo[]> {
    return (await this.records()).map(info).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Whether some key belongs to this user. */
  async hasUser(user: string): Promise<boolean> {
    return (await this.records()).some((r) => (r.user ?? DEFAULT_USER) === user);
  }

  async count(): Promise<number> {
    return (await this.store.kvList(NS)).length;
  }

  /** Revokes by id or name; returns how many keys were removed. */
  async revoke(idOrName: string): Promise<number> {
    const gone = (await this.records()).filter((r) => r.id === idOrName || r.name === idOrName);
    for (const r of gone) await this.store.kvDelete(NS, r.id);
    return gone.length;
  }

  /** Whether the key with this id still exists (one lookup; checked on every request of a keyed connection). */
  async has(id: string): Promise<boolean> {
    return (await this.store.kvGet(NS, id)) !== undefined;
  }

  /** The key's record when `presented` is a valid key. Every stored digest is compared, in constant time. */
  async verify(presented: string): Promise<KeyInfo | undefined> {
    const d = digest(presented);
    let match: KeyRecord | undefined;
    for (const r of await this.records()) {
      if (timingSafeEqual(d, Buffer.from(r.hash, 'hex'))) match = r;
    }
    return match && info(match);
  }

  async ids(): Promise<string[]> {
    return (await this.store.kvList(NS)).map((r) => r.key);
  }

  private async records(): Promise<KeyRecord[]> {
    return (await this.store.kvList(NS)).map((r) => JSON.parse(r.value) as KeyRecord);
  }
}

/** What the revocation watch needs of a connection. */
export interface KeyedPeer { principal?: string; closed: boolean; revoke(): void }

export const keyIdOf = (principal: string | undefined) => (principal?.startsWith('key:') ? principal.slice(4) : undefined);

/**
 * Ends connections whose key was revoked, also by another process on the same data dir
 * (`agentd key revoke` deletes the row; nothing tells this process). While any open connection
 * was admitted with a key, the stored key ids are read every `intervalMs` (one small query) and
 * each connection whose key is gone is revoked: its WebSocket closes with 4001, its SSE stream
 * ends, its requests in flight fail with Unauthorized. Returns the stop function.
 */
export function watchRevocations(keys: ApiKeys, peers: () => Iterable<KeyedPeer>, intervalMs = 250): () => void {
  let checking = false;
  const check = async () => {
    let live: Set<string> | undefined;
    for (const p of peers()) {
      const id = keyIdOf(p.principal);
      if (!id || p.closed) continue;
      live ??= new Set(await keys.ids());
      if (!live.has(id)) p.revoke();
    }
  };
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    check().catch(() => { /* the store is closing or unreachable: the next tick tries again */ }).finally(() => { checking = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
