// config/get and config/update over stdio, WebSocket and REST + SSE: secrets redacted, the
// failing field named on a refused update (the old config stays), config.updated, and the change
// in effect for the next session. Transcripts agree.
// The scenario lives here so that test/conformance/config.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import type { Scenario } from '../conformance.js';
import type { Outcome } from '../driver.js';

export const config: Scenario = async (d, rec, t) => {
  await d.initialize();
  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };
  await d.subscribe(null);
  await rec.call('get empty', 'config/get', {});
  const doc = {
    defaultModel: 'echo-slow',
    limits: { maxSteps: 5 },
    approvals: { rules: [{ tool: 'run_command', match: 'git status*', action: 'allow' }], default: 'ask' },
    mcpServers: { remote: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer s3cret' } } },
    providers: { anthropic: { oauth: { authorizationUrl: 'http://a/auth', tokenUrl: 'http://a/token', clientId: 'id', clientSecret: 'cs3cret' } } },
  };
  const up = await rec.call('update', 'config/update', { config: doc });
  t.notOk(JSON.stringify(up).includes('s3cret'), 'no secret in the answer');
  await rec.call('get after update', 'config/get', {});
  const ev = await d.waitForEvent(null, 'config.updated');
  t.notOk(JSON.stringify(ev).includes('s3cret'), 'no secret in the event');
  rec.note('config.updated', ev.data);
  rec.note('new session model', (await d.request('session/create', {})).model);
  expectError(await rec.call('refused: bad limit', 'config/update', { config: { limits: { maxSteps: 0 } } }), -32602, 400, 'bad limit');
  expectError(await rec.call('refused: command and url', 'config/update', { config: { mcpServers: { x: { command: 'a', url: 'http://h/' } } } }), -32602, 400, 'both');
  expectError(await rec.call('refused: missing config', 'config/update', {}), -32602, 400, 'missing');
  await rec.call('get after refusals', 'config/get', {});
};
