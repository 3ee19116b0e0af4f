// The agentd command of the test suite's PostgreSQL pass (AGENTD_TEST_PG=postgres://user@host:port,
// set by test/postgres-pass.sh): the data dir's own database on that one cluster goes in
// AGENTD_DATABASE_URL (test/helpers/pg-database.mjs), then bin/agentd.js runs unchanged. A command
// given a store (`--store`, AGENTD_DATABASE_URL) keeps it.
import { databaseFor } from './pg-database.mjs';

const cluster = process.env.AGENTD_TEST_PG;
const args = process.argv.slice(2);
const chosen = process.env.AGENTD_DATABASE_URL || args.some((a) => a === '--store' || a.startsWith('--store='));
if (cluster && !chosen) {
  const at = args.indexOf('--data-dir');
  const dir = at >= 0 ? args[at + 1] : args.find((a) => a.startsWith('--data-dir='))?.slice(11) ?? process.env.AGENTD_HOME ?? 'agentd-default';
  process.env.AGENTD_DATABASE_URL = await databaseFor(cluster, dir);
}
await import('../../bin/agentd.js');
