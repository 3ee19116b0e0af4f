// `agentd auth login` (the ACP terminal auth method): provider and key from stdin when piped,
// stored as provider/auth stores it; then the ACP prompt on that provider no longer needs auth.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { baseEnv } from '../helpers/acp.js';
import { AGENTD, tempDir } from '../helpers/rpc-client.js';

function login(args: string[], input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [AGENTD, 'auth', 'login', ...args], { env: { ...process.env, ...baseEnv, ANTHROPIC_API_KEY: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stderr }));
    p.stdin.end(input);
  });
}

t.test('piped: a provider by number or id, then the key; stored in credentials.json, never printed', async (t) => {
  const dataDir = tempDir();
  const r = await login(['--data-dir', dataDir], 'anthropic\nsk-secret-1\n');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /stored the API key for anthropic/);
  t.notMatch(r.stderr, /sk-secret-1/, 'the key is not echoed');
  t.match(readFileSync(join(dataDir, 'credentials.json'), 'utf8'), /sk-secret-1/);
  const byFlag = await login(['--data-dir', dataDir, '--provider', 'anthropic'], 'sk-secret-2\n');
  t.equal(byFlag.code, 0, byFlag.stderr);
  t.match(readFileSync(join(dataDir, 'credentials.json'), 'utf8'), /sk-secret-2/);
});

t.test('bad input: unknown provider, a provider without keys, no key', async (t) => {
  const dataDir = tempDir();
  t.equal((await login(['--data-dir', dataDir], 'nope\nk\n')).code, 2, 'unknown provider: usage');
  t.equal((await login(['--data-dir', dataDir, '--provider', 'echo'], 'k\n')).code, 2, 'echo takes no key');
  t.equal((await login(['--data-dir', dataDir, '--provider', 'anthropic'], '')).code, 2, 'no key');
  t.equal((await login(['--data-dir', dataDir], '99\n')).code, 2, 'a number out of range');
});
