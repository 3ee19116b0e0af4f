/**
 * Runs git for the snapshot store, and only that way: `execFile`-style (no shell), with the git
 * dir and work tree explicit, a sanitized environment (no inherited GIT_* variables, no system or
 * global config, no hooks, no fsmonitor, no pager, no prompts), literal pathspecs, a timeout and
 * a bound on what it may print. A hostile workspace cannot reach the shadow repository's config
 * (it lives in the data directory), and the workspace's own `.git` is never read or written.
 */
import { spawn } from 'node:child_process';

/** Settings given on every command line (they win over any config file). */
const SAFE_CONFIG = [
  'core.hooksPath=/dev/null', 'core.fsmonitor=false', 'core.autocrlf=false', 'core.safecrlf=false', 'core.symlinks=true',
  'core.filemode=true', 'core.quotepath=off', 'core.untrackedCache=false', 'core.excludesFile=/dev/null',
  'core.attributesFile=/dev/null', 'core.precomposeUnicode=false', 'core.longpaths=false', 'gc.auto=0', 'maintenance.auto=false',
  'commit.gpgSign=false', 'diff.noprefix=false', 'diff.mnemonicPrefix=false', 'diff.renames=false',
  'advice.addEmbeddedRepo=false', 'safe.directory=*', 'protocol.allow=never',
].flatMap((c) => ['-c', c]);

export interface GitRunOptions {
  /** Data written to stdin, then closed. */
  input?: string | Buffer;
  /** Another index file (a temporary one), instead of the repository's. */
  indexFile?: string;
  /** Give up after this long (the process group is killed). */
  timeoutMs?: number;
  /** Most stdout bytes kept; beyond it the process is killed and the call fails (unless `truncate`). */
  maxBytes?: number;
  /** On too much output: stop there and resolve with what came (`truncated: true`) instead of failing. */
  truncate?: boolean;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
}

export interface GitResult { stdout: Buffer; code: number; truncated: boolean }

export class GitError extends Error {
  constructor(message: string, readonly code?: number | null) { super(message); }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const STDERR_BYTES = 4096;

/** The environment git runs with: PATH and nothing of git's from the caller. */
function gitEnv(gitDir: string, workTree: string, indexFile?: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    LC_ALL: 'C',
    GIT_DIR: gitDir,
    GIT_WORK_TREE: workTree,
    ...(indexFile ? { GIT_INDEX_FILE: indexFile } : {}),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_COUNT: '0',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_PAGER: 'cat',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_AUTHOR_NAME: 'agentd', GIT_AUTHOR_EMAIL: 'agentd@localhost', GIT_COMMITTER_NAME: 'agentd', GIT_COMMITTER_EMAIL: 'agentd@localhost',
  };
}

/** A git binary bound to one shadow repository and one work tree. */
export class Git {
  constructor(readonly gitDir: string, readonly workTree: string, private bin = 'git') {}

  run(args: string[], o: GitRunOptions = {}): Promise<GitResult> {
    return runGit(this.bin, [`--git-dir=${this.gitDir}`, `--work-tree=${this.workTree}`, ...SAFE_CONFIG, ...args], gitEnv(this.gitDir, this.workTree, o.indexFile), this.workTree, o);
  }
}

/** `git --version`, or undefined when no git runs here. */
export async function gitVersion(bin = 'git'): Promise<string | undefined> {
  try {
    const r = await runGit(bin, ['--version'], { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }, '/', { timeoutMs: 10_000, maxBytes: 4096 });
    const m = /git version (\S+)/.exec(r.stdout.toString('utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

function runGit(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, o: GitRunOptions): Promise<GitResult> {
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  const ok = o.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(bin, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, shell: false });
    } catch (err) {
      reject(new GitError(`git did not start: ${(err as Error).message}`));
      return;
    }
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    let truncated = false;
    let settled = false;
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); } };
    const timer = setTimeout(() => { if (!settled) { settled = true; kill(); reject(new GitError(`git ${args.find((a) => !a.startsWith('-')) ?? ''} timed out after ${o.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)); } }, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      if (truncated) return;
      if (size + d.length > maxBytes) {
        out.push(d.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        kill();
        return;
      }
      out.push(d);
      size += d.length;
    });
    child.stderr!.on('data', (d: Buffer) => { if (err.length < STDERR_BYTES) err += d.toString('utf8').slice(0, STDERR_BYTES - err.length); });
    child.stdin!.on('error', () => { /* git exited before reading all of stdin: its exit code says why */ });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new GitError(`git did not start: ${e.message}`));
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stdout = Buffer.concat(out, size);
      if (truncated) {
        if (o.truncate) resolve({ stdout, code: code ?? -1, truncated: true });
        else reject(new GitError(`git printed more than ${maxBytes} bytes`));
        return;
      }
      if (code === null || !ok.includes(code)) {
        reject(new GitError(`git ${args.filter((a) => !a.startsWith('-'))[0] ?? ''} failed (${code}): ${err.trim().split('\n').slice(-3).join(' ')}`, code));
        return;
      }
      resolve({ stdout, code, truncated: false });
    });
    child.stdin!.end(o.input ?? '');
  });
}

/** NUL-separated output as strings (the last empty piece dropped). */
export const nulSplit = (b: Buffer): string[] => {
  const s = b.toString('utf8');
  const parts = s.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
};
