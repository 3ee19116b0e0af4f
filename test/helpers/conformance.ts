/**
 * The conformance runner: a scenario written once runs over every transport (stdio, WebSocket,
 * REST + SSE), each on a fresh server, and records a transcript of what it saw. The transcripts
 * must be identical once ids and timestamps are normalized.
 *
 * Adding a case (tools, approvals, MCP, ...): write `async (d, rec, t) => { ... }` against the
 * Driver, record what must agree across transports with `rec.call(...)` / `rec.note(...)`, and
 * pass it to `conformance(t, name, scenario)` from a file in test/conformance/.
 */
import type { Test } from 'tap';
import type { Json, ServerOptions } from './rpc-client.js';
import { openDriver, TRANSPORTS, type Driver, type Outcome, type Transport } from './driver.js';

export class Recorder {
  readonly entries: Array<{ step: string; value: Json }> = [];
  constructor(private d: Driver) {}

  /** Calls a method and records its outcome (result or error object; the HTTP status is not compared). */
  async call(step: string, method: string, params?: Json): Promise<Outcome> {
    const out = await this.d.call(method, params);
    this.entries.push({ step, value: out.error ? { error: out.error } : { result: out.result } });
    return out;
  }

  /** Records any value that must agree across transports. */
  note(step: string, value: Json) {
    this.entries.push({ step, value: structuredClone(value) });
  }
}

export type Scenario = (d: Driver, rec: Recorder, t: Test) => Promise<void>;

const ID = /^(ses|msg|turn|perm|call|toolu)_[A-Za-z0-9_]+$/;
const TIME_KEYS = new Set(['time', 'createdAt', 'updatedAt', 'requestedAt']);

/**
 * Replaces server-made ids with placeholders numbered by first appearance (`<ses:1>`), timestamps
 * with `<time>`, and event ids (server-wide positions) with their offset from the first one seen.
 */
export function normalize(entries: Json): Json {
  const names = new Map<string, string>();
  const counters = new Map<string, number>();
  let firstEventId: number | undefined;
  const idFor = (s: string) => {
    let n = names.get(s);
    if (!n) {
      const kind = s.split('_')[0];
      const c = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, c);
      n = `<${kind}:${c}>`;
      names.set(s, n);
    }
    return n;
  };
  const isEvent = (o: Record<string, Json>) => typeof o.id === 'number' && typeof o.seq === 'number' && typeof o.type === 'string' && 'data' in o;
  const walk = (v: Json, key?: string): Json => {
    if (typeof v === 'string') {
      if (key && TIME_KEYS.has(key)) return '<time>';
      if (ID.test(v)) return idFor(v);
      // Ids inside messages ("Session ses_x is busy", "session not found: ses_x").
      return v.replace(/\b(ses|msg|turn|perm|call)_[A-Za-z0-9]+\b/g, (m) => idFor(m));
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      const out: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      if (isEvent(v)) {
        firstEventId ??= v.id;
        out.id = `<event:+${v.id - firstEventId!}>`;
      }
      return out;
    }
    return v;
  };
  return walk(entries);
}

/** Opens the driver a scenario runs on (default: one fresh server, openDriver). */
export type Opener = (transport: Transport, o: ServerOptions) => Promise<Driver>;

/**
 * Runs `scenario` over every transport, then checks the transcripts agree; returns them
 * (normalized) by transport. `o` may be a function: options of its own for each transport's
 * server (a fresh database each, for example). `open`: another deployment (two nodes, say).
 */
export async function conformance(t: Test, name: string, scenario: Scenario, o: ServerOptions | ((transport: Transport) => ServerOptions | Promise<ServerOptions>) = {},
  transports: readonly Transport[] = TRANSPORTS, open: Opener = openDriver): Promise<Map<Transport, Json>> {
  const transcripts = new Map<Transport, Json>();
  for (const transport of transports) {
    await t.test(`${name} over ${transport}`, async (t) => {
      const d = await open(transport, typeof o === 'function' ? await o(transport) : o);
      t.teardown(() => d.close());
      const rec = new Recorder(d);
      await scenario(d, rec, t);
      transcripts.set(transport, normalize(rec.entries));
    });
  }
  await t.test(`${name}: identical across ${transports.join(', ')}`, async (t) => {
    const [first, ...rest] = transports;
    const base = transcripts.get(first);
    t.ok(base, `${first} produced a transcript`);
    for (const other of rest) {
      const tr = transcripts.get(other);
      t.ok(tr, `${other} produced a transcript`);
      if (!tr || !base) continue;
      t.equal(tr.length, base.length, `${other}: as many steps as ${first}`);
      for (let i = 0; i < Math.max(tr.length, base.length); i++) {
        t.same(tr[i], base[i], `${other} = ${first} at step ${base[i]?.step ?? tr[i]?.step}`);
      }
    }
  });
  return transcripts;
}

/** Consecutive message.delta events collapse into one entry (their number depends on timing). */
export function collapseDeltas(types: string[]): string[] {
  // Also entries such as `message.delta beta` (type and session): a run of equal delta entries is one.
  const isDelta = (ty: string) => ty === 'message.delta' || ty.startsWith('message.delta ');
  return types.filter((ty, i) => !(isDelta(ty) && types[i - 1] === ty)).map((ty) => (ty === 'message.delta' ? 'message.delta+' : ty));
}
