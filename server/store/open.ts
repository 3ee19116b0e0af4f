/**
 * Picks and opens the store: `agentd serve --store`, else AGENTD_DATABASE_URL, else config
 * `store.url`, else SQLite (agentd.db in the data directory). A `postgres://` or `postgresql://`
 * URL opens the PostgreSQL store (several nodes on one database).
 */
import { join } from 'node:path';
import type { StoreConfig } from '../../protocol/index.js';
import { DEFAULT_STORE } from '../config/defaults.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** The store URL in force: the flag, the environment, the config, the default. */
export function storeUrl(flag: string | undefined, config: StoreConfig | undefined): string {
  return flag || process.env.AGENTD_DATABASE_URL || config?.url || DEFAULT_STORE.url;
}

/** True for a URL that names PostgreSQL. */
function isPostgres(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The SQLite store, opened at once; a postgres:// URL needs openStore (Core.open). */
export function openSqliteStore(dataDir: string, url: string): Store {
  if (url === 'sqlite') return new SqliteStore(join(dataDir, 'agentd.db'));
  if (isPostgres(url)) throw new Error('a PostgreSQL store opens asynchronously: use Core.open');
  throw new Error(`--store: expected "sqlite" or a postgres:// URL, got ${JSON.stringify(url.slice(0, 40))}`);
}

export async function openStore(dataDir: string, url: string, config: StoreConfig | undefined, onError: (message: string, level?: 'error' | 'warn') => void): Promise<Store> {
  if (!isPostgres(url)) return openSqliteStore(dataDir, url);
  // Loaded only here: a SQLite server never pays for node-postgres at start.
  const { PgStore } = await import('./pg.js');
  return PgStore.open({ url, leaseMs: (config?.leaseSeconds ?? DEFAULT_STORE.leaseSeconds) * 1000, onError });
}
