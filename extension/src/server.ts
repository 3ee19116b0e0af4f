/**
 * Where the agentd server comes from: a configured executable, or the bundled one run by Node.
 * Kept free of the `vscode` module so it is easy to test.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ServerCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export interface ServerSettings {
  serverPath: string;
  nodePath: string;
  dataDir: string;
  /** False in a window VS Code does not trust: the server must not read the workspace's agentd.json. */
  projectConfig?: boolean;
}

/** `node` on PATH, if any. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The command line for `agentd serve --stdio`. The bundled server needs Node 20+ with the ABI its
 * native SQLite module was built for: a configured node, else `node` on PATH, else the editor's
 * runtime (as Node, via ELECTRON_RUN_AS_NODE).
 */
export function serverCommand(s: ServerSettings, extensionPath: string, env: NodeJS.ProcessEnv = process.env): ServerCommand {
  const dataArgs = [...(s.dataDir ? ['--data-dir', s.dataDir] : []), ...(s.projectConfig === false ? ['--no-project-config'] : [])];
  if (s.serverPath) return { command: s.serverPath, args: ['serve', '--stdio', ...dataArgs], env };
  const bundled = join(extensionPath, 'dist', 'server', 'agentd.cjs');
  const node = s.nodePath || findOnPath('node', env.PATH) || process.execPath;
  return { command: node, args: [bundled, 'serve', '--stdio', ...dataArgs], env: { ...env, ELECTRON_RUN_AS_NODE: '1' } };
}
