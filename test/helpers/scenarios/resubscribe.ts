// Resubscribing with `since` (a conformance scenario; test/conformance/postgres.test.ts runs it on
// one node and on two nodes of one database): after a streamed turn and a tool call, a
// subscription from 0 and one from the middle of the first turn replay exactly the stored events
// after that point, in seq order, once each, equal to what was seen live, on this node and on the
// other one (node B of two nodes; the same node when there is one); the next turn then arrives
// live on both streams, once.
import type { Scenario } from '../conformance.js';
import type { Driver } from '../driver.js';
import { tempDir, type Json } from '../rpc-client.js';
import type { TwoNodes } from '../two-nodes.js';

const seqsAfter = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + 1 + i);

export const resubscribe: Scenario = async (d, rec, t) => {
  await d.initialize();
  const nodes: Array<[string, Driver]> = [['this node', d], ['the other node', (d as Partial<TwoNodes>).nodeB ?? d]];
  const ws = tempDir('agentd-ws-');
  /** Events as recorded: the workspace (a temp dir of each run) by name. */
  const masked = (events: Json[]) => JSON.parse(JSON.stringify(events).split(ws).join('<workspace>'));
  const s = await d.request('session/create', { name: 'resume', workspaceRoot: ws, policy: { default: 'allow' } });
  await d.subscribe(s.id, s.lastSeq);
  await rec.call('a streamed turn', 'session/message', { sessionId: s.id, content: 'one two three four' });
  await rec.call('a tool call', 'session/message', { sessionId: s.id, content: '/tool write_file {"path":"a.txt","content":"x"}' });
  await d.waitForEvent(s.id, 'turn.completed', () => d.events(s.id).filter((e) => e.type === 'turn.completed').length === 2);
  const end = d.events(s.id).filter((e) => e.type === 'turn.completed')[1];
  const live = d.events(s.id);
  t.same(live.map((e) => e.seq), seqsAfter(s.lastSeq, end.seq), 'live: every seq after the subscription, once, in order');
  t.ok(live.some((e) => e.type === 'tool.completed'), 'the tool call is in the stream');
  const mid = live.find((e) => e.type === 'message.delta').seq;

  for (const [where, n] of nodes) {
    for (const since of [0, mid]) {
      await n.subscribe(s.id, since);
      await n.waitForEvent(s.id, 'turn.completed', (e) => e.seq === end.seq);
      const got = n.events(s.id);
      t.same(got.map((e) => e.seq), seqsAfter(since, end.seq), `${where}, since ${since}: every seq after it, once, in order`);
      t.same(got.filter((e) => e.seq > s.lastSeq), live.filter((e) => e.seq > since), `${where}, since ${since}: the very events seen live`);
      rec.note(`replay on ${where} since ${since === 0 ? '0' : 'mid-turn'}`, masked(got));
    }
  }

  // After the replays, the next turn arrives live on both streams, once each.
  await rec.call('the next turn', 'session/message', { sessionId: s.id, content: 'five six' });
  for (const [where, n] of nodes) {
    const next = await n.waitForEvent(s.id, 'turn.completed', (e) => e.seq > end.seq);
    const after = n.events(s.id).filter((e: Json) => e.seq > end.seq);
    t.same(after.map((e) => e.seq), seqsAfter(end.seq, next.seq), `${where}: the next turn live, no gap, no repeat`);
    rec.note(`live on ${where} after the replays`, masked(after));
  }
};
