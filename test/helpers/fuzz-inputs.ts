/**
 * Seeded bad inputs for the fuzz suite (fast-check). Each case is the text of one message (or raw
 * bytes) and what a correct server must answer: an error with one of the allowed codes, under
 * the request's id (or id null when the message has no usable id).
 */
import fc from 'fast-check';
import { methodTable } from '../../protocol/index.js';
import type { RpcClient } from './rpc-client.js';

/** A full turn on the echo provider, with its events: proof that a server survived an attack class. */
export async function fullTurn(c: RpcClient, tag = 'alive'): Promise<void> {
  const s = await c.request('session/create', { name: tag });
  await c.request('session/subscribe', { sessionId: s.id });
  const reply = await c.request('session/message', { sessionId: s.id, content: tag });
  if (reply.content?.[0]?.text !== `Echo: ${tag}`) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
  await c.waitForEvent('turn.completed', (e) => e.sessionId === s.id, 5000);
}

export interface FuzzCase {
  kind: string;
  text: string;
  /** The id the error must carry (null: none usable). */
  id: number | string | null;
  /** Acceptable error codes. */
  codes: number[];
  /** A notification or response that must be answered by nothing and harm nothing: a request right after it still gets its result. */
  silent?: boolean;
}

const requests = Object.entries(methodTable as Record<string, { kind: string; direction: string }>)
  .filter(([, m]) => m.kind === 'request' && m.direction === 'clientToServer')
  .map(([name]) => name)
  .filter((name) => name !== 'initialize' && name !== 'shutdown');

const TYPED = [-32600, -32601, -32602, -32010, -32011, -32012, -32016, -32018, -32021, -32800];
const junk = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }));

export function fuzzCases(seed: number, perKind: number, sessionId: string): FuzzCase[] {
  let next = 100_000;
  const id = () => next++;
  const sample = <T>(arb: fc.Arbitrary<T>) => fc.sample(arb, { seed: seed + next, numRuns: perKind });
  const cases: FuzzCase[] = [];
  const push = (kind: string, msg: unknown, i: number | string | null, codes: number[], silent?: boolean) => cases.push({ kind, text: typeof msg === 'string' ? msg : JSON.stringify(msg), id: i, codes, ...(silent ? { silent } : {}) });

  for (const s of sample(fc.string({ minLength: 1 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }))) push('invalid json', s, null, [-32700]);
  for (const cut of sample(fc.integer({ min: 1, max: 60 }))) {
    const full = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'session/get', params: { sessionId } });
    push('truncated', full.slice(0, Math.min(cut, full.length - 1)), null, [-32700]);
  }
  for (const v of sample(junk.filter((v) => v !== '2.0'))) { const i = id(); push('wrong jsonrpc', { jsonrpc: v, id: i, method: 'session/list' }, i, [-32600]); }
  for (const v of sample(fc.oneof(fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }), fc.constant(Infinity)))) {
    push('odd id', `{"jsonrpc":"2.0","id":${v === Infinity ? '1e999' : JSON.stringify(v)},"method":"session/list"}`, null, [-32600]);
  }
  for (const m of sample(fc.string({ minLength: 1, maxLength: 30 }).filter((m) => !(m in methodTable) && !m.startsWith('$/')))) { const i = id(); push('unknown method', { jsonrpc: '2.0', id: i, method: m, params: {} }, i, [-32601]); }
  for (const [method, params] of sample(fc.tuple(fc.constantFrom(...requests), fc.dictionary(fc.constantFrom('sessionId', 'name', 'content', 'since', 'providerId', 'apiKey', 'permissionId', 'decision', 'config', 'model', 'provider', 'workspaceRoot', 'code', 'state', 'async', 'x'), junk, { minKeys: 1, maxKeys: 4 })))) {
    const i = id();
    push('wrong params', { jsonrpc: '2.0', id: i, method, params }, i, TYPED);
  }
  for (const n of sample(fc.integer({ min: 100_000, max: 300_000 }))) { const i = id(); push('huge string', { jsonrpc: '2.0', id: i, method: 'session/create', params: { name: 'n'.repeat(n) } }, i, [-32602]); }
  for (const depth of sample(fc.integer({ min: 1000, max: 20_000 }))) {
    const i = id();
    push('deep nesting', `{"jsonrpc":"2.0","id":${i},"method":"session/create","params":{"name":${'['.repeat(depth)}${']'.repeat(depth)}}}`, i, [-32600]);
  }
  for (const p of sample(fc.constantFrom('../../../../etc', '/etc/passwd', '..\\\\..\\\\windows', '/nonexistent/dir', 'a/../../../../../tmp/../etc', '\u0000', '~/../..', '../', '..'))) {
    const i = id();
    push('path traversal', { jsonrpc: '2.0', id: i, method: 'session/create', params: { name: 'x', workspaceRoot: p } }, i, [-32602]);
  }
  for (const sid of sample(fc.string({ minLength: 1, maxLength: 40 }))) {
    const i = id();
    push('unknown session', { jsonrpc: '2.0', id: i, method: 'session/get', params: { sessionId: `${sid}_x` } }, i, [-32010]);
  }
  protocolCases(sample, id, push);
  return cases;
}

type Push = (kind: string, msg: unknown, i: number | string | null, codes: number[], silent?: boolean) => void;

/**
 * Protocol-level messages, not the manifest's methods: what vscode-jsonrpc acts on itself
 * ($/cancelRequest, $/progress, $/setTrace, $/logTrace), the lifecycle notifications, responses to
 * requests never sent, batches, and protocol methods sent as requests.
 */
function protocolCases(sample: <T>(arb: fc.Arbitrary<T>) => T[], id: () => number, push0: Push) {
  const push: Push = (kind, msg, i, codes, silent) => push0(kind, msg, i, codes, silent);
  const n = (o: object) => ({ jsonrpc: '2.0', ...o });
  const notId = fc.oneof(fc.constant(null), fc.boolean(), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }), fc.array(fc.integer(), { maxLength: 2 }));
  const badCancel = fc.oneof(
    fc.constant(undefined), fc.constant({}), fc.constant([]), fc.array(junk, { maxLength: 3 }),
    notId.map((v) => ({ id: v })), fc.constant({ id: { toString: 1 } }), fc.dictionary(fc.constantFrom('ID', 'token', 'x'), junk, { minKeys: 1, maxKeys: 2 }),
  );
  for (const p of sample(badCancel)) push('bad $/cancelRequest', n(p === undefined ? { method: '$/cancelRequest' } : { method: '$/cancelRequest', params: p }), null, [-32602]);
  for (const [m, p] of sample(fc.tuple(fc.constantFrom('$/progress', '$/setTrace', '$/logTrace'), fc.oneof(fc.constant(undefined), fc.constant([]), fc.dictionary(fc.constantFrom('value', 'message', 'token'), notId, { maxKeys: 2 }))))) {
    push(`bad ${m}`, n(p === undefined ? { method: m } : { method: m, params: p }), null, [-32602]);
  }
  for (const [m, p] of sample(fc.tuple(fc.constantFrom('initialized', 'exit'), fc.array(junk, { maxLength: 3 })))) push(`bad ${m}`, n({ method: m, params: p }), null, [-32602]);
  for (const [m, p] of sample(fc.tuple(fc.constantFrom('$/cancelRequest', '$/progress', '$/setTrace', '$/logTrace', 'initialized', 'exit', 'session/event', 'permission/request'), fc.dictionary(fc.constantFrom('id', 'token', 'value', 'x'), junk, { maxKeys: 2 })))) {
    const i = id();
    push('protocol method as a request', n({ id: i, method: m, params: p }), i, [-32601]);
  }
  for (const p of sample(fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), junk, { minKeys: 1, maxKeys: 3 }))) { const i = id(); push('bad shutdown', n({ id: i, method: 'shutdown', params: p }), i, [-32602]); }
  for (const len of sample(fc.integer({ min: 0, max: 3 }))) {
    push('batch', Array.from({ length: len }, (_, k) => n({ id: id() + k, method: 'session/list', params: {} })), null, [-32600]);
  }
  for (const v of sample(notId.filter((v) => v !== null))) push('response with an odd id', `{"jsonrpc":"2.0","id":${JSON.stringify(v)},"result":1}`, null, [-32600]);
  for (const e of sample(fc.oneof(junk.filter((v) => v !== null && v !== undefined), fc.record({ code: fc.oneof(fc.string(), fc.double({ noInteger: true })), message: fc.string() }), fc.record({ code: fc.integer(), message: fc.integer() })))) {
    push('response with a malformed error', n({ id: id(), error: e }), null, [-32600]);
  }
  // Silent: harmless notifications and responses to requests never sent.
  for (const v of sample(fc.oneof(fc.integer(), fc.string({ maxLength: 20 })))) push('cancel of an id never sent', n({ method: '$/cancelRequest', params: { id: v } }), null, [], true);
  for (const [m, p] of sample(fc.tuple(fc.constantFrom('$/setTrace', '$/progress', '$/logTrace', 'initialized', '$/unknown', 'notifications/initialized', 'session/event'), junk))) {
    const params = m === '$/setTrace' ? { value: 'off' } : m === '$/progress' ? { token: 'tok', value: p } : m === '$/logTrace' ? { message: JSON.stringify(p) ?? 'x' } : { x: p };
    push(`silent ${m}`, n({ method: m, params }), null, [], true);
  }
  for (const [i, r] of sample(fc.tuple(fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null)), fc.oneof(junk.map((v) => ({ result: v })), fc.record({ error: fc.record({ code: fc.integer(), message: fc.string() }) }))))) {
    push('response to a request never sent', n({ id: i, ...r }), null, [], true);
  }
}

export interface FuzzStats { sent: number; answered: number; typed: number; silentOk: number; failures: string[] }

/** Sends the cases one by one and checks each answer (or, for silent ones, that a request after it is still served). */
export async function runRpcFuzz(client: RpcClient, cases: FuzzCase[], budgetMs: number): Promise<FuzzStats> {
  const stats: FuzzStats = { sent: 0, answered: 0, typed: 0, silentOk: 0, failures: [] };
  const deadline = Date.now() + budgetMs;
  for (const c of cases) {
    if (Date.now() > deadline) { stats.failures.push('time budget exceeded'); break; }
    const orphansBefore = client.orphans.length;
    client.raw(c.text);
    stats.sent++;
    if (c.silent) {
      const ping = await Promise.race([client.call('session/list', {}), new Promise<undefined>((r) => setTimeout(r, 5000))]);
      if (ping?.result && client.orphans.length === orphansBefore) { stats.silentOk++; stats.answered++; } else stats.failures.push(`${c.kind}: not harmless: ${c.text.slice(0, 80)} ${JSON.stringify(client.orphans.slice(orphansBefore)).slice(0, 120)}`);
      continue;
    }
    let got: { error?: { code: number } } | undefined;
    try {
      got = await client.waitFor(() => client.orphans.slice(orphansBefore).find((o) => o.id === c.id), 5000, `reply to ${c.kind}`);
    } catch {
      stats.failures.push(`${c.kind}: no reply to ${c.text.slice(0, 80)}`);
      continue;
    }
    stats.answered++;
    if (got.error && c.codes.includes(got.error.code)) stats.typed++;
    else stats.failures.push(`${c.kind}: ${JSON.stringify(got).slice(0, 160)} for ${c.text.slice(0, 80)}`);
  }
  return stats;
}
