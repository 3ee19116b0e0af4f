/**
 * Every child process the server starts on a tool's behalf, so none outlives the server.
 * Tools spawn through `spawn` (or `register` a child they started themselves, with
 * `detached: true` so it leads its own process group); shutdown kills each whole group.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class ProcessRegistry {
  private children = new Set<ChildProcess>();

  get size(): number {
    return this.children.size;
  }

  /** Spawns a child as the leader of a new process group and tracks it until it exits. */
  spawn(command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return this.register(nodeSpawn(command, args, { ...opts, detached: true }));
  }

  /** Tracks a child until it exits. Spawn it with `detached: true` so its whole group can be killed. */
  register(child: ChildProcess): ChildProcess {
    if (child.exitCode !== null || child.signalCode !== null) return child;
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Kills a child's process group (falling back to the child alone). */
  kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try { child.kill(signal); } catch { /* already gone */ }
    }
  }

  /** Kills every tracked process group: SIGTERM, then SIGKILL after `graceMs`. Resolves when all exited. */
  async killAll(graceMs = 1000): Promise<void> {
    const live = [...this.children];
    if (!live.length) return;
    const exited = Promise.all(live.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    for (const c of live) this.kill(c, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const c of live) this.kill(c, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([exited, forced]);
    clearTimeout(timer);
    // A group may hold grandchildren after its leader exited: make sure they go too.
    for (const c of live) this.kill(c, 'SIGKILL');
  }
}
