/**
 * A throwaway PostgreSQL cluster for the team-deployment tests: `initdb` into a temp dir and
 * `pg_ctl start` on a free loopback port (as the `postgres` user when running as root: initdb
 * refuses root). Binaries from PATH or /usr/lib/postgresql/<v>/bin. When none can start, the
 * reason is returned so the test skips saying why.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface Postgres {
  /** postgres://postgres@127.0.0.1:<port>/<db> of a new, empty database. */
  newDatabase(): Promise<string>;
  stop(): void;
}

function binDir(): string | undefined {
  const onPath = (() => {
    try { return execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim(); } catch { return ''; }
  })();
  if (onPath && existsSync(join(onPath, '..', 'pg_ctl'))) return join(onPath, '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts a cluster, or says why it cannot. */
export async function startPostgres(): Promise<Postgres | { skip: string }> {
  const bin = binDir();
  if (!bin) return { skip: 'PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin; apt-get install postgresql)' };
  const root = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (root) {
    try {
      uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    } catch {
      return { skip: 'running as root and there is no postgres user to run initdb as' };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'agentd-pg-'));
  chmodSync(dir, 0o700);
  if (uid !== undefined) chownSync(dir, uid, gid!);
  const as = (cmd: string, args: string[]) => (root ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
    : execFileSync(join(bin, cmd), args, { stdio: 'pipe' }));
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-w', 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    return { skip: `PostgreSQL would not start: ${(e.stderr?.toString() || e.message).trim().slice(0, 300)}` };
  }
  let n = 0;
  return {
    async newDatabase() {
      const db = `agentd_test_${process.pid}_${++n}`;
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      await c.connect();
      try { await c.query(`CREATE DATABASE ${db}`); } finally { await c.end(); }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    stop() {
      try { as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* already gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
