/**
 * Graceful shutdown of a Core, in order, each step bounded so the whole fits `timeoutMs`:
 * 1. stop accepting work (the dispatcher answers ShuttingDown from now on);
 * 2. end running turns as `turn.interrupted` (reason `shutdown`), keeping partial output;
 * 3. run the registered hooks (MCP servers close, ...), in reverse registration order;
 * 4. kill every tool subprocess group still alive;
 * 5. flush the event log and close the store.
 * A turn that does not end in time stays `running` in the store and is recovered as
 * interrupted on the next start (server/session/recovery.ts).
 */
import { timings } from './config/defaults.js';
import type { EventLog } from './events/log.js';
import type { Logger } from './log.js';
import type { Store } from './store/store.js';
import type { ProcessRegistry } from './tools/processes.js';
import type { TurnRunner } from './turn/runner.js';


export type ShutdownHook = () => Promise<void> | void;

/** Resolves when `p` settles or after `ms`, whichever comes first; true when it settled. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, ms)); });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ShutdownDeps {
  /** Raises the server's one stopping signal (the dispatcher refuses work, the recovery sweep ends). */
  stop(): void;
  turns: Pick<TurnRunner, 'running' | 'cancelAll'>;
  processes: Pick<ProcessRegistry, 'killAll'>;
  events: Pick<EventLog, 'settled'>;
  store: Pick<Store, 'close'>;
  log: Logger;
}

export class Shutdown {
  private hooks: Array<{ name: string; run: ShutdownHook }> = [];
  private done?: Promise<void>;

  constructor(private deps: ShutdownDeps) {}

  /** Registers something to close on shutdown (e.g. the MCP client pool). */
  add(name: string, run: ShutdownHook) {
    this.hooks.push({ name, run });
  }

  /** Runs the shutdown once; later calls return the same promise. */
  run(timeoutMs = timings.shutdownTimeoutMs()): Promise<void> {
    return (this.done ??= this.steps(timeoutMs));
  }

  private async steps(timeoutMs: number) {
    const core = this.deps;
    const deadline = Date.now() + timeoutMs;
    const left = (share = 1) => Math.max(0, (deadline - Date.now()) * share);
    core.stop();
    const running = core.turns.running;
    const ending = core.turns.cancelAll('shutdown');
    await within(ending, left(0.5));
    for (const hook of [...this.hooks].reverse()) {
      const ok = await within(Promise.resolve().then(hook.run).catch((err: unknown) => core.log.error({ err: String(err), hook: hook.name }, 'shutdown hook failed')), left(0.5));
      if (!ok) core.log.warn({ hook: hook.name }, 'shutdown hook did not finish in time');
    }
    // Tools that ignored the cancel: their process groups go now, and their turns can end.
    await within(core.processes.killAll(Math.min(1000, left(0.5))), left(0.5));
    if (!(await within(ending, left()))) {
      core.log.warn({ running: core.turns.running }, 'turns did not end in time; they will be recovered on the next start');
    }
    // What was appended is stored before the store closes (bounded: a database that hangs is left).
    if (!(await within(core.events.settled(), Math.max(100, left())))) core.log.warn('events not stored in time at shutdown');
    await within(core.store.close().catch((err: unknown) => core.log.error({ err: String(err) }, 'closing the store failed')), 1000);
    core.log.info({ interruptedTurns: running }, 'shutdown complete');
  }
}
