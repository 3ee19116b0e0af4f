/**
 * Two agentd nodes on one PostgreSQL database as one conformance Driver. The client talks to
 * node A over the transport under test; the requests that run a turn (TURN_METHODS) go to node B
 * over a second connection (REST + SSE when the transport is REST, else WebSocket), so every turn
 * runs on B while A follows its events, answers its approvals and cancels it. `nodeB` is B's own
 * driver, for what a scenario does on either node (resubscribe with `since`).
 *
 * MCP connections belong to a node (each node runs its own MCP server processes): mcp/connect and
 * mcp/disconnect go to both nodes, B first, and answer with A's outcome.
 */
import { openDriver, type Driver, type Outcome, type Transport } from './driver.js';
import type { Json, ServerOptions } from './rpc-client.js';

/** The methods that run a turn: sent to node B. */
export const TURN_METHODS: ReadonlySet<string> = new Set(['session/message']);
const NODE_LOCAL: ReadonlySet<string> = new Set(['mcp/connect', 'mcp/disconnect']);

export interface TwoNodes extends Driver {
  /** Node B's own connection. */
  readonly nodeB: Driver;
}

class TwoNodeDriver implements TwoNodes {
  constructor(private a: Driver, readonly nodeB: Driver) {}
  get transport() { return this.a.transport; }
  get dataDir() { return this.a.dataDir; }

  async initialize(capabilities?: Json) {
    await this.nodeB.initialize();
    return this.a.initialize(capabilities);
  }

  async call(method: string, params?: Json): Promise<Outcome> {
    if (TURN_METHODS.has(method)) return this.nodeB.call(method, params);
    if (NODE_LOCAL.has(method)) await this.nodeB.call(method, params);
    return this.a.call(method, params);
  }

  async request(method: string, params?: Json) {
    const r = await this.call(method, params);
    if (r.error) throw Object.assign(new Error(r.error.message), r.error);
    return r.result;
  }

  subscribe(sessionId: string | null, since?: number) { return this.a.subscribe(sessionId, since); }
  events(sessionId: string | null) { return this.a.events(sessionId); }
  waitForEvent(sessionId: string | null, type: string, match?: (e: Json) => boolean, ms?: number) { return this.a.waitForEvent(sessionId, type, match, ms); }
  supports(what: string) { return this.a.supports(what) && (!TURN_METHODS.has(what) || this.nodeB.supports(what)); }

  async close() {
    await this.a.close();
    await this.nodeB.close();
  }
}

/** Opens node A (over `transport`) and node B on the database of `o.args` (`--store postgres://...`), each with its own data dir. */
export async function openTwoNodes(transport: Transport, o: ServerOptions): Promise<Driver> {
  if (!o.args?.includes('--store')) throw new Error('two nodes share a database: pass args [\'--store\', \'postgres://...\']');
  const { dataDir: _, ...shared } = o;
  const b = await openDriver(transport === 'rest' ? 'rest' : 'websocket', shared);
  const a = await openDriver(transport, shared).catch(async (err) => { await b.close(); throw err; });
  return new TwoNodeDriver(a, b);
}
