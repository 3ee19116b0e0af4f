/** Ids: a prefix, a time part that sorts, and randomness. */
import { randomBytes } from 'node:crypto';

export function newId(prefix: 'ses' | 'msg' | 'turn' | 'perm' | 'sub'): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

export const now = () => new Date().toISOString();
