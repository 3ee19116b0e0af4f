/**
 * A Core in the test process: on SQLite in its data dir, or in the PostgreSQL pass
 * (AGENTD_TEST_PG) on that data dir's own database, as the spawned servers are (pg-agentd.mjs).
 */
import { Core, type CoreOptions } from '../../server/core.js';
import { databaseFor } from './pg-database.mjs';

export async function openCore(opts: CoreOptions & { dataDir: string }): Promise<Core> {
  const cluster = process.env.AGENTD_TEST_PG;
  return cluster ? Core.open({ ...opts, store: await databaseFor(cluster, opts.dataDir) }) : new Core(opts);
}
