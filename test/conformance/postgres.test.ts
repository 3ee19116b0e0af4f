// The conformance scenarios on PostgreSQL (a throwaway cluster, a fresh database per transport):
// (a) one node, over stdio, WebSocket and REST + SSE, every scenario of test/conformance/*.test.ts
// that needs no SQLite-only setup; (b) two nodes on one database, the client on node A over the
// transport under test and every turn on node B (test/helpers/two-nodes.ts): deltas, tool calls,
// approvals answered on A, cancel from A, resubscribe with `since` on either node. Within a
// deployment the transcripts agree across transports; the two-node transcripts equal the
// one-node ones.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startAnthropicServer } from '../helpers/anthropic-server.js';
import { conformance, type Scenario } from '../helpers/conformance.js';
import { everythingHttp } from '../helpers/mcp.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { approvals } from '../helpers/scenarios/approval.js';
import { changes } from '../helpers/scenarios/changes.js';
import { config } from '../helpers/scenarios/config.js';
import { core } from '../helpers/scenarios/core.js';
import { mcp } from '../helpers/scenarios/mcp.js';
import { resubscribe } from '../helpers/scenarios/resubscribe.js';
import { control } from '../helpers/scenarios/session-control.js';
import { openTwoNodes } from '../helpers/two-nodes.js';

// Seven scenarios on one node and three on two, each over three transports: about 80 s here.
t.setTimeout(300_000);

const pg = await startPostgres();
if ('skip' in pg) {
  t.plan(0, `skipped: ${pg.skip}`);
} else {
  t.teardown(() => pg.stop());
  const api = await startAnthropicServer();
  const web = await everythingHttp();
  t.teardown(async () => { await api.close(); await web.stop(); });
  const files = tempDir('agentd-conf-fs-');
  writeFileSync(join(files, 'note.txt'), 'a note\n');
  const env = { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-test' };
  /** Each transport's server (or both nodes) on a database of its own. */
  const onPg = async () => ({ env, args: ['--store', await pg.newDatabase()] });

  const oneNode: Array<[string, Scenario]> = [
    ['core scenario', core], ['approvals', approvals], ['config', config], ['resubscribe', resubscribe],
    ['session control', control(api)], ['changes', changes(api)], ['mcp', mcp(web, files)],
  ];
  const twoNodes: Array<[string, Scenario]> = [['core scenario', core], ['approvals', approvals], ['resubscribe', resubscribe]];

  const single = new Map<string, Map<string, Json>>();
  for (const [name, scenario] of oneNode) single.set(name, await conformance(t, `${name} on PostgreSQL`, scenario, onPg));
  for (const [name, scenario] of twoNodes) {
    const two = await conformance(t, `${name} on two nodes (client on A, turns on B)`, scenario, onPg, undefined, openTwoNodes);
    await t.test(`${name}: two nodes = one node`, async (t) => {
      for (const [transport, tr] of two) {
        const one = single.get(name)?.get(transport);
        t.ok(one, `one node over ${transport} produced a transcript`);
        t.equal(tr.length, one?.length, `${transport}: as many steps`);
        for (let i = 0; i < Math.max(tr.length, one?.length ?? 0); i++) t.same(tr[i], one?.[i], `${transport} at step ${tr[i]?.step ?? one?.[i]?.step}`);
      }
    });
  }
}
