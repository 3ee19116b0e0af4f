// config/get and config/update over each JSON-RPC transport: validation with the failing field,
// the old config kept on failure, secrets never returned, config.updated, changes applied without
// restart (defaults, MCP servers), persistence in config.json, and agentd.json merged over it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { childPids, EVERYTHING, everythingStdio, writeConfig } from '../helpers/mcp.js';
import { spawnStdio, tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const stored = (dataDir: string) => JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8'));

for (const transport of RPC_TRANSPORTS) {
  t.test(`get, update, validation and secrets over ${transport}`, async (t) => {
    const o = await open(transport);
    t.teardown(o.close);
    const { client, dataDir } = o;
    await client.initialize();
    await client.request('session/subscribe', {});
    t.same((await client.request('config/get', {})).config, {}, 'empty by default');

    const config: Json = {
      defaultModel: 'echo-slow',
      limits: { maxSteps: 3 },
      approvals: { rules: [{ tool: 'run_command', match: 'git status*', action: 'allow' }], timeoutMs: 60_000 },
      providers: { anthropic: { baseUrl: 'http://127.0.0.1:9', oauth: { authorizationUrl: 'http://a/authorize', tokenUrl: 'http://a/token', clientId: 'cid', clientSecret: 'oauth-secret' } } },
      mcpServers: {
        remote: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer header-secret' } },
        local: { command: 'true', env: { API_KEY: 'env-secret' } },
      },
    };
    const updated = await client.request('config/update', { config });
    const text = JSON.stringify(updated);
    for (const secret of ['oauth-secret', 'header-secret', 'env-secret']) t.notOk(text.includes(secret), `${secret} is not returned`);
    t.equal(updated.config.mcpServers.remote.headers.Authorization, '[redacted]');
    t.equal(updated.config.providers.anthropic.oauth.clientSecret, '[redacted]');
    t.equal(updated.config.providers.anthropic.oauth.clientId, 'cid');
    t.same(updated.config.approvals, config.approvals);
    t.same(await client.request('config/get', {}), updated);
    t.same(stored(dataDir), config, 'config.json holds the real values');
    const ev = await client.waitForEvent('config.updated');
    t.equal(ev.sessionId, null);
    t.same(ev.data.config, updated.config, 'config.updated carries the redacted config');

    // Effective without restart.
    const s = await client.request('session/create', {});
    t.equal(s.model, 'echo-slow', 'the new default model applies at once');

    // Sending [redacted] back keeps the stored secret; changing another field works.
    const roundTrip = structuredClone(updated.config);
    roundTrip.limits.maxSteps = 4;
    await client.request('config/update', { config: roundTrip });
    t.equal(stored(dataDir).mcpServers.remote.headers.Authorization, 'Bearer header-secret');
    t.equal(stored(dataDir).providers.anthropic.oauth.clientSecret, 'oauth-secret');
    t.equal(stored(dataDir).limits.maxSteps, 4);

    // Refused updates name the failing field and change nothing.
    const before = await client.request('config/get', {});
    const cases: Array<[Json, string]> = [
      [{ limits: { maxSteps: 0 } }, 'config.limits.maxSteps'],
      [{ bogus: 1 }, 'config.bogus'],
      [{ approvals: { rules: [{ tool: 'x', action: 'maybe' }] } }, 'config.approvals.rules[0].action'],
      [{ mcpServers: { both: { command: 'x', url: 'http://h/mcp' } } }, 'config.mcpServers.both'],
      [{ mcpServers: { web: { url: 'ftp://h/mcp' } } }, 'config.mcpServers.web.url'],
      [{ mcpServers: { web: { url: 'http://h/mcp', args: ['x'] } } }, 'config.mcpServers.web.args'],
      [{ mcpServers: { 'bad name!': { command: 'x' } } }, 'config.mcpServers'],
      [{ mcpServers: { fresh: { url: 'http://h/mcp', headers: { A: '[redacted]' } } } }, 'config.mcpServers.fresh.headers.A'],
    ];
    for (const [bad, field] of cases) {
      const r = await client.call('config/update', { config: bad });
      t.equal(r.error?.code, -32602, `refused: ${JSON.stringify(bad)}`);
      t.equal(r.error?.data.field, field);
    }
    t.same(await client.request('config/get', {}), before, 'the old config stays');
    t.equal(stored(dataDir).limits.maxSteps, 4);
    t.equal(client.events().filter((e) => e.type === 'config.updated').length, 2, 'no event for refused updates');
  });

  t.test(`MCP servers added and removed by config/update over ${transport}`, async (t) => {
    const o = await open(transport);
    t.teardown(o.close);
    const { client, pid } = o;
    await client.initialize();
    await client.request('session/subscribe', {});
    await client.request('config/update', { config: { mcpServers: { everything: everythingStdio({ autoConnect: true }) } } });
    await client.waitForEvent('mcp.updated', (e) => e.data.server.status === 'connected', 30_000);
    t.ok((await client.request('tool/list', {})).tools.some((x: Json) => x.name === 'mcp__everything__echo'));
    t.equal(childPids(pid, EVERYTHING).length, 1);
    await client.request('config/update', { config: {} });
    t.same((await client.request('mcp/list', {})).servers, [], 'removed from mcp/list');
    t.notOk((await client.request('tool/list', {})).tools.some((x: Json) => x.name.startsWith('mcp__')), 'and its tools are gone');
    await client.waitFor(() => childPids(pid, EVERYTHING).length === 0, 10_000, 'the server process to end');
  });

  t.test(`agentd.json in the workspace is merged over the user config over ${transport}`, async (t) => {
    const dataDir = tempDir();
    const workspace = tempDir('agentd-ws-');
    writeConfig(dataDir, { defaultModel: 'echo', limits: { maxSteps: 7, maxSubscriptions: 50 }, approvals: { rules: [{ tool: 'a', action: 'allow' }] } });
    writeFileSync(join(workspace, 'agentd.json'), JSON.stringify({ defaultModel: 'echo-slow', limits: { maxSteps: 2 }, approvals: { rules: [{ tool: 'b', action: 'deny' }] } }));
    const o = await open(transport, { dataDir, cwd: workspace });
    t.teardown(o.close);
    await o.client.initialize();
    const { config } = await o.client.request('config/get', {});
    // Untrusted (test/config/trust.test.ts has the rest): these keys only tighten, so they apply,
    // and the project's deny rule goes before the user's rules instead of replacing them.
    const rules = [{ tool: 'b', action: 'deny' }, { tool: 'a', action: 'allow' }];
    t.same(config, { defaultModel: 'echo-slow', limits: { maxSteps: 2, maxSubscriptions: 50 }, approvals: { rules } },
      'objects merge key by key, scalars are replaced');
    t.equal((await o.client.request('session/create', {})).model, 'echo-slow');
    const after = await o.client.request('config/update', { config: { limits: { maxSubscriptions: 10 } } });
    t.same(after.config, { defaultModel: 'echo-slow', limits: { maxSteps: 2, maxSubscriptions: 10 }, approvals: { rules: [{ tool: 'b', action: 'deny' }] } },
      'the user config no longer has rules: only the project\'s remain');
    t.same(stored(dataDir), { limits: { maxSubscriptions: 10 } }, 'only the user layer is written');
  });
}

t.test('the config survives a restart; a bad config file stops start-up with the field', async (t) => {
  const dataDir = tempDir();
  const a = spawnStdio({ dataDir });
  await a.initialize();
  await a.request('config/update', { config: { defaultModel: 'echo-slow' } });
  await a.close();
  const b = spawnStdio({ dataDir });
  t.teardown(() => b.close());
  await b.initialize();
  t.same((await b.request('config/get', {})).config, { defaultModel: 'echo-slow' });
  await b.close();

  writeConfig(dataDir, { limits: { maxSteps: 'many' } });
  const c = spawnStdio({ dataDir });
  t.equal(await c.exited, 1);
  t.match(c.stderr, /config file .*config\.json is invalid: config\.limits\.maxSteps must be integer/);
  writeFileSync(join(dataDir, 'config.json'), '{nope');
  const d = spawnStdio({ dataDir });
  t.equal(await d.exited, 1);
  t.match(d.stderr, /config\.json is not valid JSON/);
});
