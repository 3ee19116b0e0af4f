/**
 * Runs list_files and grep jobs in worker threads (server/tools/search-worker.ts), at most
 * MAX_WORKERS at a time, each ended at its time limit (limits.searchTimeoutMs) or on cancel.
 * A regular expression such as `(a+)+$` may take exponential time in JavaScript's backtracking
 * engine; in a worker it only costs that worker, which is terminated (V8 interrupts a running
 * regular expression). Idle workers are kept for the next job (a worker start costs far more
 * than a small search), unref'd so they never keep the process alive, and ended when idle.
 */
import { Worker } from 'node:worker_threads';
import type { SearchJob, SearchReply } from './search-worker.js';
import { ToolError } from './workspace.js';

/** Workers running at once, server-wide; more jobs wait their turn. */
const MAX_WORKERS = 4;
/** Heap of one worker. */
const WORKER_HEAP_MB = 256;
/** An idle worker is ended after this long. */
const IDLE_MS = 30_000;

// The worker sits next to this module: .ts under the test runner, .js in dist/ and in the bundle.
const WORKER_URL = new URL(`./search-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

let running = 0;
const waiting: Array<() => void> = [];
const idle: Array<{ worker: Worker; timer: NodeJS.Timeout }> = [];

async function slot(signal: AbortSignal): Promise<() => void> {
  if (running < MAX_WORKERS) running++;
  else {
    // A finishing job hands its slot straight to the first waiter (running stays the same).
    await new Promise<void>((resolve, reject) => {
      const go = () => { signal.removeEventListener('abort', stop); resolve(); };
      const stop = () => { waiting.splice(waiting.indexOf(go), 1); reject(new ToolError('cancelled')); };
      waiting.push(go);
      signal.addEventListener('abort', stop, { once: true });
    });
  }
  return () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
}

function take(): Worker {
  const kept = idle.pop();
  if (kept) {
    clearTimeout(kept.timer);
    kept.worker.ref();
    return kept.worker;
  }
  return new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB }, stdout: true, stderr: true });
}

function giveBack(worker: Worker) {
  worker.unref();
  const entry = { worker, timer: setTimeout(() => { idle.splice(idle.indexOf(entry), 1); void worker.terminate(); }, IDLE_MS).unref() };
  idle.push(entry);
}

export async function runSearch(job: SearchJob, timeoutMs: number, signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw new ToolError('cancelled');
  const release = await slot(signal);
  try {
    const worker = take();
    return await new Promise<string>((resolve, reject) => {
      const what = job.kind === 'list' ? 'list_files' : 'grep';
      let settled = false;
      const end = (reusable: boolean, fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (reusable) giveBack(worker);
        else void worker.terminate();
        fn();
      };
      const timer = setTimeout(() => end(false, () => reject(new ToolError(
        `${what} stopped: it took longer than the time limit of ${timeoutMs} ms (limits.searchTimeoutMs). ` +
        (job.kind === 'grep' ? 'The pattern may backtrack badly (nested quantifiers such as (a+)+); simplify it, or narrow path or glob.' : 'Narrow the pattern or path.'),
      ))), timeoutMs);
      const onAbort = () => end(false, () => reject(new ToolError('cancelled')));
      const onMessage = (m: SearchReply) => end(true, () => (m.ok ? resolve(m.text) : reject(new ToolError(`${what} failed: ${m.error}`))));
      const onError = (err: Error) => end(false, () => reject(new ToolError(`${what} failed: ${err.message}`)));
      const onExit = (code: number) => end(false, () => reject(new ToolError(`${what} failed: the search ended (exit ${code})`)));
      signal.addEventListener('abort', onAbort, { once: true });
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage(job);
    });
  } finally {
    release();
  }
}
