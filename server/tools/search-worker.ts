/**
 * The body of list_files and grep, run in a worker thread (server/tools/search.ts) so that a
 * glob or regular expression that backtracks badly, or a huge tree, never blocks the server's
 * event loop: the main thread ends the worker at the time limit. Every result is checked
 * against the workspace root here: a listed entry's directory must really lie inside the root,
 * and grep reads each file through readInWorkspace (no symlink followed out of the root).
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parentPort } from 'node:worker_threads';
import picomatch from 'picomatch';
import { glob } from 'tinyglobby';
import { display, isHidden, isInside, readInWorkspace } from './workspace.js';

export type SearchJob =
  | { kind: 'list'; root: string; hidden: readonly string[]; dir: string; pattern: string; max: number }
  | { kind: 'grep'; root: string; hidden: readonly string[]; target: string; isDir: boolean; pattern: string; flags: string; glob?: string; max: number };

export type SearchReply = { ok: true; text: string } | { ok: false; error: string };

const IGNORE = ['**/node_modules/**', '**/.git/**'];
/** Largest file grep loads. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Files grep looks at, at most, per call. */
const MAX_GREP_FILES = 20_000;
const MAX_GREP_LINE = 500;
/** Total characters of grep output. */
const MAX_GREP_OUTPUT = 256 * 1024;

/** Whether the real directory of `abs` lies inside the root (cached per directory). */
function confined(root: string, hidden: readonly string[], abs: string, cache: Map<string, boolean>): boolean {
  if (!isInside(root, abs) || isAbsolute(relative(root, abs)) || isHidden(hidden, abs)) return false;
  const dir = dirname(abs);
  let ok = cache.get(dir);
  if (ok === undefined) {
    try {
      const real = realpathSync(dir);
      ok = isInside(root, real) && !isHidden(hidden, real);
    } catch {
      ok = false;
    }
    cache.set(dir, ok);
  }
  return ok;
}

async function list(job: Extract<SearchJob, { kind: 'list' }>): Promise<string> {
  const found = await glob(job.pattern, { cwd: job.dir, onlyFiles: true, dot: true, ignore: IGNORE, followSymbolicLinks: false, expandDirectories: false });
  const cache = new Map<string, boolean>();
  let outside = 0;
  const files: string[] = [];
  for (const f of found) {
    const abs = resolve(job.dir, f);
    if (confined(job.root, job.hidden, abs, cache)) files.push(relative(job.dir, abs));
    else outside++;
  }
  files.sort();
  const shown = files.slice(0, job.max);
  const more = files.length - shown.length;
  const note = (more > 0 ? `\n[${more} more not shown]` : '') + (outside ? `\n[${outside} entries outside the workspace left out]` : '');
  return (files.length ? shown.join('\n') : 'No files match.') + note;
}

async function grep(job: Extract<SearchJob, { kind: 'grep' }>): Promise<string> {
  const re = new RegExp(job.pattern, job.flags);
  let files: string[];
  if (job.isDir) {
    files = (await glob('**/*', { cwd: job.target, onlyFiles: true, dot: true, ignore: IGNORE, followSymbolicLinks: false, absolute: true, expandDirectories: false })).sort();
    if (job.glob) {
      const match = picomatch(job.glob, { dot: true });
      files = files.filter((f) => match(display(job.root, f)) || match(display(job.target, f)));
    }
  } else files = [job.target];
  const out: string[] = [];
  let size = 0;
  let stopped = '';
  const skipped = Math.max(0, files.length - MAX_GREP_FILES);
  for (const f of files.slice(0, MAX_GREP_FILES)) {
    let text: string;
    try {
      const { data } = await readInWorkspace(job.root, display(job.root, f), MAX_FILE_BYTES, job.hidden);
      if (data.includes(0)) continue;
      text = data.toString('utf8');
    } catch {
      continue; // binary, too large, unreadable, hard-linked, or a symlink out of the root
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!re.test(lines[i])) continue;
      if (out.length >= job.max) { stopped = `\n[stopped after ${job.max} matches]`; break; }
      const line = lines[i].length > MAX_GREP_LINE ? `${lines[i].slice(0, MAX_GREP_LINE)}…` : lines[i];
      const entry = `${display(job.root, f)}:${i + 1}:${line}`;
      if (size + entry.length > MAX_GREP_OUTPUT) { stopped = `\n[stopped after ${MAX_GREP_OUTPUT} characters of output]`; break; }
      size += entry.length + 1;
      out.push(entry);
    }
    if (stopped) break;
  }
  const note = stopped + (skipped ? `\n[${skipped} files not searched; narrow path or glob]` : '');
  return (out.length ? out.join('\n') : 'No matches.') + note;
}

// One job at a time: the main thread sends the next only after this one's reply.
parentPort?.on('message', (job: SearchJob) => {
  (job.kind === 'list' ? list(job) : grep(job)).then(
    (text) => parentPort!.postMessage({ ok: true, text } satisfies SearchReply),
    (err) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) } satisfies SearchReply),
  );
});
