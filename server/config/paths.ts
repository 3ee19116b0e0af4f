/** Where agentd keeps its data: --data-dir, else $AGENTD_HOME, else the XDG data dir (~/.local/share/agentd). An empty value counts as unset (never the current directory). */
import envPaths from 'env-paths';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export function resolveDataDir(flag?: string): string {
  const dir = resolve(flag || process.env.AGENTD_HOME || envPaths('agentd', { suffix: '' }).data);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
