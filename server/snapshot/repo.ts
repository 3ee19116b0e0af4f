/**
 * One workspace's shadow repository: a git object store in the data directory (`--git-dir`
 * there, `--work-tree` at the workspace root) that records the workspace as trees. It honours
 * the workspace's `.gitignore` files, never records a `.git` (the user's repository, or a nested
 * one) nor the data directory, skips files above the size limit and beyond the file-count limit
 * (reported), and restores a tree exactly: bytes, modes, symlinks, created files removed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { lstat, realpath, rmdir, unlink, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Git, nulSplit } from './git.js';

export interface Skipped { path: string; reason: 'size' | 'count' | 'type' | 'name' }
export interface Snapshot { tree: string; files: number; skipped: Skipped[]; skippedCount: number }
export type FileStatus = 'added' | 'modified' | 'deleted';
export interface Change { path: string; status: FileStatus }
export interface FileStat extends Change { additions: number; deletions: number; binary?: boolean }
export interface FileDiff extends FileStat { patch?: string; patchTruncated?: boolean }

export interface RepoLimits { maxFileBytes: number; maxFiles: number; timeoutMs: number }

/** Skipped paths kept per snapshot (the rest are counted). */
const SKIPPED_LISTED = 100;
/** Paths a listing may print before the count limit cuts it off (per allowed file). */
const LIST_BYTES_PER_FILE = 4096;
/** Bounds of session/diff: files with a patch, bytes of one patch, bytes of all patches. */
const MAX_PATCHED_FILES = 500;
const MAX_PATCH_BYTES = 256 * 1024;
const MAX_TOTAL_PATCH_BYTES = 8 * 1024 * 1024;

const STATUS: Record<string, FileStatus> = { A: 'added', M: 'modified', D: 'deleted', T: 'modified' };

/** A gitignore pattern that matches exactly one path from the root. */
const literalPattern = (rel: string) => '/' + rel.split(sep).join('/').replace(/[\\*?[\]!#\s]/g, (c) => `\\${c}`);

export class ShadowRepo {
  private readonly git: Git;
  private ready = false;

  constructor(readonly gitDir: string, readonly root: string, private hidden: readonly string[], private limits: () => RepoLimits, bin?: string) {
    this.git = new Git(gitDir, root, bin);
  }

  private async init() {
    if (this.ready) return;
    if (!existsSync(join(this.gitDir, 'HEAD'))) {
      mkdirSync(this.gitDir, { recursive: true, mode: 0o700 });
      const template = join(this.gitDir, '..', '.empty-template');
      mkdirSync(template, { recursive: true });
      await this.git.run(['init', '--quiet', `--template=${template}`], { timeoutMs: this.limits().timeoutMs });
    }
    // Never recorded: any `.git` (the user's repository, nested ones), the data directory.
    const excludes = ['.git'];
    for (const h of this.hidden) {
      const rel = relative(this.root, h);
      if (rel && !rel.startsWith('..') && !rel.startsWith(sep)) excludes.push(literalPattern(rel));
    }
    mkdirSync(join(this.gitDir, 'info'), { recursive: true });
    writeFileSync(join(this.gitDir, 'info', 'exclude'), excludes.join('\n') + '\n');
    // Bytes exactly as they are: no end-of-line conversion, no filters, whatever .gitattributes says.
    writeFileSync(join(this.gitDir, 'info', 'attributes'), '* -text -eol -filter -ident -working-tree-encoding -export-subst\n');
    this.ready = true;
  }

  /** Records the workspace as it is now. */
  async snapshot(): Promise<Snapshot> {
    await this.init();
    const { maxFiles, maxFileBytes, timeoutMs } = this.limits();
    // Files recorded before come first, so new files past the count limit never push them out.
    const bound = { timeoutMs, maxBytes: Math.max(1, maxFiles) * LIST_BYTES_PER_FILE, truncate: true };
    const cached = await this.git.run(['ls-files', '-z', '--cached', '--deduplicate'], bound);
    const others = await this.git.run(['ls-files', '-z', '--others', '--exclude-standard'], bound);
    const listed = { truncated: cached.truncated || others.truncated };
    const cut = (r: { stdout: Buffer; truncated: boolean }) => { const p = nulSplit(r.stdout); if (r.truncated) p.pop(); return p; }; // the last one may be cut
    const paths = [...cut(cached), ...cut(others)];
    const keep: string[] = [];
    const drop: string[] = [];
    const skipped: Skipped[] = [];
    let skippedCount = 0;
    const skip = (path: string, reason: Skipped['reason']) => {
      skippedCount++;
      if (skipped.length < SKIPPED_LISTED) skipped.push({ path, reason });
      drop.push(path);
    };
    const dirs = new Map<string, Promise<boolean>>();
    const insideDir = (d: string) => {
      let p = dirs.get(d);
      if (!p) {
        const abs = d === '.' ? this.root : join(this.root, d);
        p = realpath(abs).then((r) => r === abs, () => false);
        dirs.set(d, p);
      }
      return p;
    };
    const stats = new Array<Awaited<ReturnType<typeof lstat>> | null>(paths.length);
    for (let i = 0; i < paths.length; i += 64) {
      await Promise.all(paths.slice(i, i + 64).map(async (p, j) => {
        // A path below a symlinked directory is not the workspace's (and a missing one is gone).
        if (!(await insideDir(dirname(p)))) { stats[i + j] = null; return; }
        stats[i + j] = await lstat(join(this.root, p)).catch(() => null);
      }));
    }
    paths.forEach((p, i) => {
      const st = stats[i];
      if (p.includes('\uFFFD')) return skip(p, 'name'); // not valid UTF-8: cannot be named back to git exactly
      if (!st) { keep.push(p); return; } // gone: update-index --remove drops it
      if (st.isDirectory()) return skip(p, 'type'); // a nested repository
      if (!st.isFile() && !st.isSymbolicLink()) return skip(p, 'type');
      if (st.isFile() && st.size > maxFileBytes) return skip(p, 'size');
      if (keep.length >= maxFiles) return skip(p, 'count');
      keep.push(p);
    });
    if (listed.truncated) { skippedCount++; if (skipped.length < SKIPPED_LISTED) skipped.push({ path: '…', reason: 'count' }); }
    if (drop.length) await this.git.run(['update-index', '-z', '--force-remove', '--stdin'], { input: drop.join('\0') + '\0', timeoutMs });
    if (keep.length) await this.git.run(['update-index', '-z', '--add', '--remove', '--stdin'], { input: keep.join('\0') + '\0', timeoutMs });
    const tree = (await this.git.run(['write-tree'], { timeoutMs, maxBytes: 1024 })).stdout.toString('utf8').trim();
    return { tree, files: keep.length, skipped, skippedCount };
  }

  /** What changed from tree `a` to tree `b`, with line counts. */
  async stats(a: string, b: string): Promise<FileStat[]> {
    await this.init();
    const { timeoutMs } = this.limits();
    if (a === b) return [];
    const [ns, num] = await Promise.all([
      this.git.run(['diff-tree', '-r', '-z', '--no-renames', '--name-status', a, b], { timeoutMs }),
      this.git.run(['diff-tree', '-r', '-z', '--no-renames', '--numstat', a, b], { timeoutMs }),
    ]);
    const counts = new Map<string, { additions: number; deletions: number; binary: boolean }>();
    const n = nulSplit(num.stdout);
    // `-z --numstat`: "<added>\t<deleted>\t<path>" NUL-terminated (binary files: "-\t-").
    for (const line of n) {
      const m = /^(-|\d+)\t(-|\d+)\t([\s\S]*)$/.exec(line);
      if (m) counts.set(m[3], { additions: m[1] === '-' ? 0 : Number(m[1]), deletions: m[2] === '-' ? 0 : Number(m[2]), binary: m[1] === '-' });
    }
    const parts = nulSplit(ns.stdout);
    const out: FileStat[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const status = STATUS[parts[i][0]] ?? 'modified';
      const path = parts[i + 1];
      const c = counts.get(path) ?? { additions: 0, deletions: 0, binary: false };
      out.push({ path, status, additions: c.additions, deletions: c.deletions, ...(c.binary ? { binary: true } : {}) });
    }
    return out;
  }

  /** `stats` plus a unified diff per text file (bounded: see the limits above). */
  async diff(a: string, b: string): Promise<FileDiff[]> {
    const files: FileDiff[] = await this.stats(a, b);
    const { timeoutMs } = this.limits();
    let total = 0;
    let patched = 0;
    for (const f of files) {
      if (f.binary) continue;
      if (patched >= MAX_PATCHED_FILES || total >= MAX_TOTAL_PATCH_BYTES) { f.patchTruncated = true; f.patch = ''; continue; }
      const r = await this.git.run(['diff-tree', '-p', '--no-color', '--no-ext-diff', '--no-textconv', '--no-renames', '--full-index', a, b, '--', f.path], {
        timeoutMs, maxBytes: MAX_PATCH_BYTES, truncate: true,
      });
      f.patch = r.stdout.toString('utf8');
      if (r.truncated) f.patchTruncated = true;
      total += r.stdout.length;
      patched++;
    }
    return files;
  }

  /**
   * Makes the workspace match tree `target`, given that it matches `current` now (a snapshot
   * just taken): files only in `current` are removed, the others written from `target` with
   * their modes. Returns what changed, as seen from `current`.
   */
  async restore(current: string, target: string): Promise<Change[]> {
    const changes = (await this.stats(current, target)).map(({ path, status }) => ({ path, status }));
    if (!changes.length) return [];
    const { timeoutMs } = this.limits();
    const removed = changes.filter((c) => c.status === 'deleted');
    for (const c of removed) await this.remove(c.path);
    const write = changes.filter((c) => c.status !== 'deleted');
    if (write.length) {
      const tmp = await mkdtemp(join(this.gitDir, 'restore-'));
      try {
        const indexFile = join(tmp, 'index');
        await this.git.run(['read-tree', target], { indexFile, timeoutMs });
        await this.git.run(['checkout-index', '-f', '-z', '--stdin'], { indexFile, input: write.map((c) => c.path).join('\0') + '\0', timeoutMs });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    return changes;
  }

  /** Removes one recorded file (never through a symlinked directory), then its emptied parents. */
  private async remove(path: string) {
    const abs = join(this.root, path);
    const dir = dirname(abs);
    if ((await realpath(dir).catch(() => '')) !== dir) return;
    const st = await lstat(abs).catch(() => null);
    if (!st || st.isDirectory()) return;
    await unlink(abs);
    for (let d = dir; d !== this.root && d.startsWith(this.root + sep); d = dirname(d)) {
      try { await rmdir(d); } catch { break; }
    }
  }
}
