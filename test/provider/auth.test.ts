// provider/list and provider/auth over each transport: the stored key lands in a 0600
// credentials file, takes effect without a restart, and never appears in any response, event,
// log line (debug level) or the SQLite files.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { credentialOf, reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { databaseText } from '../helpers/pg-database.mjs';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

for (const transport of RPC_TRANSPORTS) {
  t.test(`provider auth over ${transport}`, async (t) => {
    const KEY = `sk-ant-api03-SECRET-${transport}-${Math.random().toString(36).slice(2)}`;
    const api = await startAnthropicServer();
    t.teardown(() => api.close());
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ providers: { anthropic: { maxRetries: 0 } } }));
    const opened = await open(transport, { dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: '', AGENTD_LOG_LEVEL: 'debug' } });
    const { client } = opened;
    let closed = false;
    t.teardown(() => (closed ? undefined : opened.close()));
    const seen: string[] = [];
    const call = async (method: string, params?: Json) => {
      const r = await client.call(method, params);
      seen.push(JSON.stringify(r));
      return r;
    };
    await client.initialize();
    await call('session/subscribe', {});

    const before = (await call('provider/list', {})).result.providers;
    t.match(before.find((p: Json) => p.id === 'anthropic'), { authenticated: false, authSource: null, authMethods: ['apiKey'] });
    t.match(before.find((p: Json) => p.id === 'echo'), { authenticated: true, authSource: 'none' });

    const auth = await call('provider/auth', { providerId: 'anthropic', apiKey: KEY });
    t.same(auth.result, { providerId: 'anthropic', authenticated: true });
    const file = join(dataDir, 'credentials.json');
    t.equal(statSync(file).mode & 0o777, 0o600, 'credentials file is 0600');
    t.match(readFileSync(file, 'utf8'), KEY, 'the key is stored there');
    const after = (await call('provider/list', {})).result.providers;
    t.match(after.find((p: Json) => p.id === 'anthropic'), { authenticated: true, authSource: 'apiKey' });

    // Takes effect at once: the next model call carries it.
    const s = (await call('session/create', { provider: 'anthropic', workspaceRoot: tempDir('agentd-ws-') })).result;
    api.script(reply.text(['authorized']));
    const ok = await call('session/message', { sessionId: s.id, content: 'hello' });
    t.same(ok.result.content, [{ type: 'text', text: 'authorized' }]);
    t.equal(credentialOf(api.requests[0]), KEY);
    // A provider-side auth failure is a typed error without the key.
    api.script(reply.error(401, 'authentication_error', {}, 'invalid x-api-key'));
    const denied = await call('session/message', { sessionId: s.id, content: 'again' });
    t.match(denied.error, { code: -32017, data: { provider: 'anthropic', status: 401, type: 'authentication_error' } });

    const refusals = [
      await call('provider/auth', { providerId: 'echo', apiKey: KEY }),
      await call('provider/auth', { providerId: 'nope', apiKey: KEY }),
      await call('provider/auth', { providerId: 'anthropic', apiKey: KEY, extra: KEY }),
      await call('provider/auth', { providerId: 'anthropic', apiKey: [KEY] }),
    ];
    t.same(refusals.map((r) => r.error?.code), [-32602, -32010, -32602, -32602]);
    // Replace the key: the new one is used, the old one forgotten.
    await call('provider/auth', { providerId: 'anthropic', apiKey: `${KEY}-2` });
    api.script(reply.text(['second']));
    await call('session/message', { sessionId: s.id, content: 'third' });
    t.equal(credentialOf(api.requests.at(-1)!), `${KEY}-2`);

    await client.waitFor(() => client.events(s.id).filter((e: Json) => e.type === 'turn.completed').length >= 2, 5000, 'the last turn.completed');
    await call('shutdown');
    await opened.close();
    closed = true;

    const wire = seen.join('\n') + JSON.stringify(client.notifications) + JSON.stringify(client.orphans);
    t.ok(client.events().length > 10, 'events were received');
    t.notOk(wire.includes(KEY), 'no response or event carries the key');
    const logs = opened.stderr();
    t.ok(logs.length > 0, 'the server logged (debug)');
    t.notOk(logs.includes(KEY), 'no log line carries the key');
    for (const name of readdirSync(dataDir)) {
      if (name === 'credentials.json') continue;
      const bytes = readFileSync(join(dataDir, name));
      t.notOk(bytes.includes(KEY), `${name} does not contain the key`);
    }
    const cluster = process.env.AGENTD_TEST_PG;
    if (cluster) t.notOk((await databaseText(cluster, dataDir)).includes(KEY), 'no row of the PostgreSQL database contains the key');
    else t.ok(readdirSync(dataDir).includes('agentd.db'), 'the SQLite database was among the files read');
  });
}
