/**
 * Confinement to a session's workspace root. Every path a tool touches goes through
 * `resolveInWorkspace`: it is resolved against the root, every existing component is resolved
 * through symlinks (realpath), and the result must still lie inside the root. Escaping
 * (`../`, an absolute path elsewhere, a symlink pointing outside, a dangling symlink) is a
 * ToolError, which becomes an error result for the model: the file is never opened.
 *
 * Checking a name and then opening it by name is a race (another process swaps the file for a
 * symlink in between), so the file tools open what they checked: `openParent` walks from the
 * root one component at a time, each opened with O_NOFOLLOW relative to the directory opened
 * before it (through Linux's /proc/self/fd/N, which acts like openat(2)), and the last
 * component is opened (or created, or renamed onto) relative to that pinned directory, again
 * without following a symlink. A swapped-in symlink then fails with ELOOP instead of being
 * followed. Files with more than one hard link are refused: where the other links are cannot
 * be known, so such a file may really live outside.
 */
import { constants as C, existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { open, type FileHandle, lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** A failure the model should see as the tool's (error) result. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Whether `p` lies in one of the directories tools never see (the data directory, when it sits inside a workspace). */
export function isHidden(hidden: readonly string[], p: string): boolean {
  return hidden.some((h) => isInside(h, p));
}

/** `p` relative to the root, for messages (`.` for the root itself). */
export function display(root: string, p: string): string {
  return relative(root, p) || '.';
}

/**
 * The real absolute path of `p` (relative to `root`, or absolute), guaranteed inside `root`.
 * `root` must itself be a real path (sessions store it resolved). The path need not exist
 * (for writes); its existing part is resolved through symlinks.
 */
export function resolveInWorkspace(root: string, p: string, hidden: readonly string[] = []): string {
  if (typeof p !== 'string' || p.includes('\0')) throw new ToolError('Invalid path');
  const abs = resolve(root, p);
  if (!isInside(root, abs)) throw new ToolError(`Path is outside the workspace: ${p}`);
  const rest: string[] = [];
  let existing = abs;
  let real: string;
  for (;;) {
    try {
      real = realpathSync(existing);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ToolError(`Cannot resolve ${p}: ${code ?? (err as Error).message}`);
      let dangling = false;
      try {
        dangling = lstatSync(existing).isSymbolicLink();
      } catch { /* really absent */ }
      // A symlink whose target does not exist: writing through it could create a file anywhere.
      if (dangling) throw new ToolError(`Path is a symlink to a missing target: ${p}`);
      const parent = dirname(existing);
      if (parent === existing) throw new ToolError(`Cannot resolve ${p}`);
      rest.unshift(basename(existing));
      existing = parent;
    }
  }
  const full = rest.length ? join(real, ...rest) : real;
  if (!isInside(root, full) || isAbsolute(relative(root, full))) throw new ToolError(`Path is outside the workspace (through a symlink): ${p}`);
  if (isHidden(hidden, full)) throw new ToolError(`Path is in agentd's data directory, which tools cannot reach: ${p}`);
  return full;
}

/** Linux: /proc/self/fd/N/name resolves `name` inside the directory open as fd N, whatever its path is now. */
const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');
const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** The real path of an open file descriptor (Linux), or undefined where that cannot be asked. */
export function fdPath(fd: number): string | undefined {
  if (!PROC_FD) return undefined;
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** A directory inside the workspace, held open: its entries are reached through the handle, not by name. */
export class PinnedDir {
  constructor(readonly handle: FileHandle, readonly path: string) {}

  /** A path naming `name` in this very directory (not in whatever now has its name). */
  entry(name: string): string {
    return PROC_FD ? `/proc/self/fd/${this.handle.fd}/${name}` : join(this.path, name);
  }

  close() {
    return this.handle.close().catch(() => {});
  }
}

const raced = (p: string) => new ToolError(`Path changed while it was being opened (a symlink appeared): ${p}`);

/**
 * Opens the parent directory of `full` (a path from resolveInWorkspace), walking down from the
 * root without following symlinks. `create` makes missing directories on the way.
 */
export async function openParent(root: string, full: string, shown: string, create: boolean): Promise<PinnedDir> {
  const parts = relative(root, dirname(full)).split(sep).filter(Boolean);
  let dir = new PinnedDir(await open(root, C.O_RDONLY | C.O_DIRECTORY), root);
  try {
    for (const part of parts) {
      const path = join(dir.path, part);
      let h: FileHandle;
      try {
        h = await open(dir.entry(part), O_DIR);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && create) {
          await mkdir(dir.entry(part)).catch((e) => { if (e.code !== 'EEXIST') throw e; });
          h = await open(dir.entry(part), O_DIR).catch((e) => { throw e.code === 'ELOOP' ? raced(shown) : e; });
        } else if (code === 'ENOENT') throw new ToolError(`File not found: ${shown}`);
        else if (code === 'ELOOP') throw raced(shown);
        else if (code === 'ENOTDIR') throw new ToolError(`Not a directory: ${display(root, path)}`);
        else throw err;
      }
      await dir.close();
      dir = new PinnedDir(h, path);
    }
    // Where /proc cannot pin directories, at least check where the walk ended up.
    if (!PROC_FD && realpathSync(dir.path) !== dir.path) throw raced(shown);
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/** Refuses a file agentd cannot prove lies inside the root. */
function checkOpened(root: string, fd: number, st: { nlink: number; isFile(): boolean; isDirectory(): boolean }, shown: string, hidden: readonly string[]) {
  if (st.isDirectory()) throw new ToolError(`${shown} is a directory`);
  if (!st.isFile()) throw new ToolError(`${shown} is not a regular file`);
  if (st.nlink > 1) throw new ToolError(`${shown} has ${st.nlink} hard links; agentd cannot tell where the others are, so it does not read or write it`);
  const real = fdPath(fd);
  if (real !== undefined && (!isInside(root, real) || isHidden(hidden, real))) throw new ToolError(`Path is outside the workspace: ${shown}`);
}

/** Reads a regular file inside the root, opened without following a symlink; at most `maxBytes`. */
export async function readInWorkspace(root: string, path: string, maxBytes: number, hidden: readonly string[] = []): Promise<{ file: string; data: Buffer }> {
  const file = resolveInWorkspace(root, path, hidden);
  const shown = display(root, file);
  if (file === root) throw new ToolError(`${shown} is a directory`);
  const dir = await openParent(root, file, path, false);
  let h: FileHandle;
  try {
    // O_NONBLOCK: a FIFO must not hang a thread of the pool.
    h = await open(dir.entry(basename(file)), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ToolError(`File not found: ${path}`);
    if (code === 'ELOOP') throw raced(path);
    if (code === 'EISDIR') throw new ToolError(`${shown} is a directory`);
    throw err;
  } finally {
    await dir.close();
  }
  try {
    const st = await h.stat();
    checkOpened(root, h.fd, st, shown, hidden);
    if (st.size > maxBytes) throw new ToolError(`${shown} is too large (${st.size} bytes, limit ${maxBytes})`);
    const data = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) {
      const { bytesRead } = await h.read(data, n, st.size - n, n);
      if (!bytesRead) break;
      n += bytesRead;
    }
    return { file, data: data.subarray(0, n) };
  } finally {
    await h.close();
  }
}

/**
 * Writes a whole file inside the root: into a temp file created (O_EXCL, O_NOFOLLOW) in the
 * pinned parent directory, then renamed over the name. rename replaces a directory entry and
 * never follows a symlink, so nothing outside can be written. An existing file keeps its mode.
 */
export async function writeInWorkspace(root: string, path: string, content: string | Buffer, hidden: readonly string[] = []): Promise<string> {
  const file = resolveInWorkspace(root, path, hidden);
  const shown = display(root, file);
  if (file === root) throw new ToolError(`${shown} is a directory`);
  const dir = await openParent(root, file, path, true);
  const name = basename(file);
  const tmp = `.agentd-${randomBytes(6).toString('hex')}.tmp`;
  let created = false;
  try {
    let mode = 0o666;
    const st = await lstat(dir.entry(name)).catch((e) => { if (e.code === 'ENOENT') return undefined; throw e; });
    if (st) {
      if (st.isSymbolicLink()) throw raced(path);
      if (st.isDirectory()) throw new ToolError(`${shown} is a directory`);
      if (!st.isFile()) throw new ToolError(`${shown} is not a regular file`);
      if (st.nlink > 1) throw new ToolError(`${shown} has ${st.nlink} hard links; agentd cannot tell where the others are, so it does not read or write it`);
      mode = st.mode & 0o7777;
    }
    const h = await open(dir.entry(tmp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
    created = true;
    try {
      if (st) await h.chmod(mode); // the umask must not change an existing file's mode
      await h.writeFile(content);
    } finally {
      await h.close();
    }
    await rename(dir.entry(tmp), dir.entry(name));
    created = false;
    return file;
  } finally {
    if (created) await unlink(dir.entry(tmp)).catch(() => {});
    await dir.close();
  }
}

/** Longest glob pattern accepted. */
const MAX_PATTERN = 1000;

/**
 * Refuses a glob that could name something outside its directory, however it is spelled: an
 * absolute path, a backslash (an escape such as `\.\./` or a Windows separator), or a `..`
 * segment anywhere, brace and extglob alternatives included (`{..,x}`, `**\/../`, `@(..)`,
 * `[.][.]`). Results are checked against the root as well; this only refuses early and clearly.
 */
export function checkPattern(pattern: string, field: string): void {
  const no = (why: string) => new ToolError(`${field} ${why}: ${pattern}`);
  if (pattern.length > MAX_PATTERN) throw no(`is longer than ${MAX_PATTERN} characters`);
  if (pattern.includes('\0')) throw no('contains a NUL character');
  if (pattern.includes('\\')) throw no('must not contain a backslash (use [*] to match a special character literally)');
  if (pattern.startsWith('/') || pattern.startsWith('~') || /^[A-Za-z]:/.test(pattern)) throw no('must be relative to the directory listed');
  // Segments between separators and alternative delimiters, with class and extglob punctuation removed.
  for (const seg of pattern.split(/[/{},|()]/)) {
    if (seg.replace(/[[\]!@+^]/g, '') === '..') throw no('must not contain a .. segment');
  }
}
