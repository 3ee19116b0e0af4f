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
  const push = (kind: string, msg: unknown, i: number | string | null, codes: number[]) => cases.push({ kind, text: typeof msg === 'string' ? msg : JSON.stringify(msg), id: i, codes });

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
    push('deep nesting', `{"jsonrpc":"2.0","id":${i},"method":"session/create","params":{"name":${'['.repeat(depth)}${']'.repeat(depth)}}}`, i, [-32602]);
  }
  for (const p of sample(fc.constantFrom('../../../../etc', '/etc/passwd', '..\\\\..\\\\windows', '/nonexistent/dir', 'a/../../../../../tmp/../etc', '\u0000', '~/../..', '../', '..'))) {
    const i = id();
    push('path traversal', { jsonrpc: '2.0', id: i, method: 'session/create', params: { name: 'x', workspaceRoot: p } }, i, [-32602]);
  }
  for (const sid of sample(fc.string({ minLength: 1, maxLength: 40 }))) {
    const i = id();
    push('unknown session', { jsonrpc: '2.0', id: i, method: 'session/get', params: { sessionId: `${sid}_x` } }, i, [-32010]);
  }
  return cases;
}
