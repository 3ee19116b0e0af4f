/**
 * The PostgreSQL side of the PostgreSQL store (server/store/pg.ts): a worker thread holding the
 * node-postgres connections. The main thread calls it synchronously (Atomics.wait on a shared
 * flag, then receiveMessageOnPort), so the Store interface stays synchronous. Besides answering
 * calls, the worker renews this node's lease (heartbeat) and LISTENs for other nodes' events and
 * commands, posting each notification to the main thread (parentPort).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { MIGRATIONS, MIGRATE_LOCK } from './pg-schema.js';

interface PgWorkerData {
  url: string;
  /** Int32Array over a SharedArrayBuffer: set to 1 (and notified) once a reply is posted. */
  flag: Int32Array;
  port: MessagePort;
  leaseMs: number;
}

export type PgCall =
  | { op: 'init' }
  | { op: 'query'; sql: string; params: unknown[] }
  | { op: 'begin' } | { op: 'commit' } | { op: 'rollback' }
  | { op: 'close' };

export type PgReply = { ok: unknown } | { err: string; code?: string };

/** Notifications forwarded to the main thread. */
export interface PgNotice { channel: string; payload: string }

// int8 (event ids, seqs, node ids) as JS numbers: they stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

const { url, flag, port, leaseMs } = workerData as PgWorkerData;
const main = new pg.Client({ connectionString: url });
const beat = new pg.Client({ connectionString: url });
const listen = new pg.Client({ connectionString: url });
let nodeId = 0;
let timer: NodeJS.Timeout | undefined;

for (const c of [main, beat, listen]) c.on('error', (err) => parentPort!.postMessage({ channel: 'error', payload: String(err) } satisfies PgNotice));

async function init(): Promise<number> {
  await Promise.all([main.connect(), beat.connect(), listen.connect()]);
  // Two nodes starting at once: the advisory lock makes one migrate while the other waits.
  await main.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
  try {
    await main.query('CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL)');
    const r = await main.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
    const at = Number(r.rows[0]?.value ?? 0);
    for (let v = at; v < MIGRATIONS.length; v++) {
      await main.query('BEGIN');
      try {
        await main.query(MIGRATIONS[v]);
        await main.query("INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(v + 1)]);
        await main.query('COMMIT');
      } catch (err) {
        await main.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await main.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
  }
  const n = await main.query<{ id: number }>('INSERT INTO nodes (pid) VALUES ($1) RETURNING id', [process.pid]);
  nodeId = n.rows[0].id;
  timer = setInterval(() => {
    beat.query('UPDATE nodes SET heartbeat = now() WHERE id = $1', [nodeId]).catch((err) =>
      parentPort!.postMessage({ channel: 'error', payload: `heartbeat: ${String(err)}` } satisfies PgNotice));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  listen.on('notification', (m) => parentPort!.postMessage({ channel: m.channel, payload: m.payload ?? '' } satisfies PgNotice));
  await listen.query('LISTEN agentd_events');
  await listen.query('LISTEN agentd_commands');
  return nodeId;
}

async function run(call: PgCall): Promise<unknown> {
  switch (call.op) {
    case 'init': return init();
    case 'query': return (await main.query(call.sql, call.params)).rows;
    case 'begin': await main.query('BEGIN'); return null;
    case 'commit': await main.query('COMMIT'); return null;
    case 'rollback': await main.query('ROLLBACK'); return null;
    case 'close':
      if (timer) clearInterval(timer);
      // A clean stop gives the lease up at once: other nodes need not wait for it to expire.
      if (nodeId) await main.query('DELETE FROM nodes WHERE id = $1', [nodeId]).catch(() => {});
      await Promise.allSettled([main.end(), beat.end(), listen.end()]);
      return null;
  }
}

port.on('message', (call: PgCall) => {
  run(call).then(
    (ok) => port.postMessage({ ok } satisfies PgReply),
    (err: Error & { code?: string }) => port.postMessage({ err: err.message, code: err.code } satisfies PgReply),
  ).finally(() => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
