/**
 * API keys for HTTP and WebSocket clients. A key is shown once at creation; only its SHA-256
 * is stored (kv namespace `apikey`). Verification compares digests in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';

const NS = 'apikey';

export interface KeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: string;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

export class ApiKeys {
  constructor(private store: Store) {}

  /** Creates a key; the returned `key` is the only time the secret exists outside the client. */
  create(name: string): { id: string; name: string; key: string; createdAt: string } {
    const key = `agentd_${randomBytes(32).toString('base64url')}`;
    const rec: KeyRecord = { id: `key_${randomBytes(6).toString('hex')}`, name, hash: digest(key).toString('hex'), createdAt: new Date().toISOString() };
    this.store.kvSet(NS, rec.id, JSON.stringify(rec));
    return { id: rec.id, name, key, createdAt: rec.createdAt };
  }

  list(): Array<Omit<KeyRecord, 'hash'>> {
    return this.records().map(({ hash: _hash, ...rest }) => rest);
  }

  count(): number {
    return this.store.kvList(NS).length;
  }

  /** Revokes by id or name; returns how many keys were removed. */
  revoke(idOrName: string): number {
    const gone = this.records().filter((r) => r.id === idOrName || r.name === idOrName);
    for (const r of gone) this.store.kvDelete(NS, r.id);
    return gone.length;
  }

  /** The key's record when `presented` is a valid key. Every stored digest is compared, in constant time. */
  verify(presented: string): Omit<KeyRecord, 'hash'> | undefined {
    const d = digest(presented);
    let match: KeyRecord | undefined;
    for (const r of this.records()) {
      if (timingSafeEqual(d, Buffer.from(r.hash, 'hex'))) match = r;
    }
    if (!match) return undefined;
    const { hash: _hash, ...rest } = match;
    return rest;
  }

  private records(): KeyRecord[] {
    return this.store.kvList(NS).map((r) => JSON.parse(r.value) as KeyRecord);
  }
}
