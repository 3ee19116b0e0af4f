/**
 * Confinement to a session's workspace root. Every path a tool touches goes through
 * `resolveInWorkspace`: it is resolved against the root, every existing component is resolved
 * through symlinks (realpath), and the result must still lie inside the root. Escaping
 * (`../`, an absolute path elsewhere, a symlink pointing outside, a dangling symlink) is a
 * ToolError, which becomes an error result for the model: the file is never opened.
 */
import { lstatSync, realpathSync } from 'node:fs';
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

/** `p` relative to the root, for messages (`.` for the root itself). */
export function display(root: string, p: string): string {
  return relative(root, p) || '.';
}

/**
 * The real absolute path of `p` (relative to `root`, or absolute), guaranteed inside `root`.
 * `root` must itself be a real path (sessions store it resolved). The path need not exist
 * (for writes); its existing part is resolved through symlinks.
 */
export function resolveInWorkspace(root: string, p: string): string {
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
  return full;
}
