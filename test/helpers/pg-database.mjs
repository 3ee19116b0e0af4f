// The database of a data dir in the test suite's PostgreSQL pass: one per data dir on the cluster at
// AGENTD_TEST_PG, created on first use, so a restart on the same data dir finds its sessions.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';

/** postgres://…/<the data dir's database>, created if missing. */
export async function databaseFor(cluster, dataDir) {
  const db = `t_${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16)}`;
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
  return `${cluster}/${db}`;
}

/** Every row of every table of the data dir's database, as text (to look for what must not be stored). */
export async function databaseText(cluster, dataDir) {
  const c = new pg.Client({ connectionString: await databaseFor(cluster, dataDir) });
  await c.connect();
  try {
    const { rows } = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
    const parts = [];
    for (const { table_name: name } of rows) {
      const r = await c.query(`SELECT t::text AS row FROM "${name}" t`);
      parts.push(...r.rows.map((x) => x.row));
    }
    return parts.join('\n');
  } finally {
    await c.end();
  }
}
