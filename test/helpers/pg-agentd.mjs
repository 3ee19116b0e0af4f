// The agentd command of the test suite's PostgreSQL pass (AGENTD_TEST_PG=postgres://user@host:port,
// set by .ci/run): each data dir gets a database of its own on that one cluster, created on first
// use (so a restart on the same data dir finds its sessions), and named in AGENTD_DATABASE_URL;
// then bin/agentd.js runs unchanged. A command given a store (`--store`, AGENTD_DATABASE_URL)
// keeps it: the SQLite-bound tests pass `--store sqlite`.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';

const cluster = process.env.AGENTD_TEST_PG;
const args = process.argv.slice(2);
const chosen = process.env.AGENTD_DATABASE_URL || args.some((a) => a === '--store' || a.startsWith('--store='));
if (cluster && !chosen) {
  const at = args.indexOf('--data-dir');
  const dir = resolve(at >= 0 ? args[at + 1] : args.find((a) => a.startsWith('--data-dir='))?.slice(11) ?? process.env.AGENTD_HOME ?? 'agentd-default');
  const db = `t_${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
  const c = new pg.Client({ connectionString: `${cluster}/postgres` });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${db}`);
  } catch (err) {
    // It exists (a restart on this data dir: 42P04), or another process made it a moment ago (23505).
    if (err.code !== '42P04' && err.code !== '23505') throw err;
  } finally {
    await c.end();
  }
  process.env.AGENTD_DATABASE_URL = `${cluster}/${db}`;
}
await import('../../bin/agentd.js');
