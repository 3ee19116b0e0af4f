/**
 * Whether the process that owns a turn still runs. On SQLite the owner is a pid on this machine; on
 * PostgreSQL a node, alive while its lease is fresh, and also known dead at once when it ran in this
 * machine's pid namespace (same host, boot and namespace: `machineId`) under a pid that is gone, or
 * that is now ours (an earlier process of a restarted container): a node restarted after a crash
 * recovers its own turns without waiting out the lease, as a SQLite server does.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** True while a process with this pid exists. */
export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid < 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Host, boot and pid namespace: two processes with the same id see each other's pids; undefined where that cannot be told (not Linux). */
export function machineId(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${hostname()} ${boot} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}
