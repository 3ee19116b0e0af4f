/**
 * `agentd trust [DIR]`, `agentd trust --list`, `agentd trust --revoke DIR`: the user's side of
 * workspace trust (server/config/trust.ts). Trusting shows what the file would change and asks
 * (y/N) on a terminal; without one it needs --yes.
 */
import { createInterface } from 'node:readline/promises';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { resolveDataDir } from './paths.js';
import { ConfigService, PROJECT_FILE } from './service.js';
import { readProjectFile, TrustStore, workspaceKey } from './trust.js';

export interface TrustFlags { dataDir?: string; list?: boolean; revoke?: string; yes?: boolean; json?: boolean }

const out = (s: string) => process.stdout.write(s);
const short = (v: unknown) => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
};

/** Returns the exit code (0 done, 1 refused or failed). */
export async function runTrust(dirArg: string | undefined, o: TrustFlags): Promise<number> {
  const dataDir = resolveDataDir(o.dataDir);
  const store = new TrustStore(dataDir);
  if (o.list) {
    const rows = store.list().map((r) => {
      let state = 'missing';
      try {
        const f = readProjectFile(join(r.path, PROJECT_FILE));
        state = !f ? 'missing' : f.hash === r.hash ? 'trusted' : 'changed';
      } catch {
        state = 'unreadable';
      }
      return { ...r, state };
    });
    if (o.json) out(`${JSON.stringify(rows)}\n`);
    else for (const r of rows) out(`${r.path}\t${r.state}\t${r.hash}\t${r.trustedAt}\n`);
    return 0;
  }
  if (o.revoke !== undefined) {
    if (!store.revoke(o.revoke)) {
      process.stderr.write(`agentd: ${workspaceKey(o.revoke)} is not trusted\n`);
      return 1;
    }
    process.stderr.write(`trust revoked for ${workspaceKey(o.revoke)} (a running server keeps what it applied until it restarts)\n`);
    return 0;
  }

  const dir = workspaceKey(resolve(dirArg ?? process.cwd()));
  const file = join(dir, PROJECT_FILE);
  if (!existsSync(file)) {
    process.stderr.write(`agentd: there is no ${PROJECT_FILE} in ${dir}\n`);
    return 1;
  }
  // Reads and validates both layers as the server would (an invalid file is refused, naming the field).
  const config = new ConfigService(dataDir, dir);
  const state = config.projectState();
  if (state.trusted) {
    out(`${file} is already trusted (sha256 ${state.hash})\n`);
    return 0;
  }
  out(`${file}\nsha256 ${state.hash}\n`);
  const entries = config.ignoredEntries();
  if (entries.length) {
    out('Untrusted, these keys are ignored; trusting applies them:\n');
    for (const e of entries) out(`  ${e.key}: ${short(e.value)}\n`);
  } else out('Every key of this file already applies untrusted; trusting changes nothing now, but keeps later reads of this exact content trusted.\n');
  if (!o.yes) {
    if (!process.stdin.isTTY) {
      process.stderr.write('agentd: not trusting without confirmation: stdin is not a terminal (pass --yes to trust non-interactively)\n');
      return 1;
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Trust this workspace's ${PROJECT_FILE}? It can run commands and change where your keys go. [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('not trusted\n');
      return 1;
    }
  }
  const rec = new TrustStore(dataDir).trust(dir, state.hash!);
  process.stderr.write(`trusted ${rec.path} (sha256 ${rec.hash}); servers started there from now on apply the whole file\n`);
  return 0;
}
