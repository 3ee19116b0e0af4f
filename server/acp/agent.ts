/**
 * The ACP v1 agent: one Agent Client Protocol connection (an editor) served over one agentd
 * protocol connection (an AgentClient: in-process on the data dir, or a running server with
 * `--url`). It only translates: ACP requests become agentd requests, the followed sessions'
 * events become `session/update`s, agentd's permission/request becomes session/request_permission.
 * Sessions, turns, tools and approvals are the core's; this file keeps no state that matters
 * beyond the connection (which sessions it follows, the running prompt of each).
 */
import * as acp from '@agentclientprotocol/sdk';
import { isAbsolute } from 'node:path';
import {
  AgentClient, RpcResponseError, type Connector, type Provider, type Session, type TurnAccepted, type TypedEvent,
} from '../../protocol/client/node.js';
import {
  eventUpdates, isMode, mcpServers, messageUpdates, modeState, OutputTails, PERMISSION_OPTIONS, permissionDecision, planUpdate, promptContent, stopReason, toolCall, withMode,
} from './translate.js';

export interface AcpAgentOptions {
  /** How to reach agentd (in-process server or --url). */
  connector: Connector;
  /** agentd's version, for agentInfo. */
  version: string;
  /** The arguments of the `terminal` auth method (the editor runs `agentd <args>`). */
  authArgs: string[];
}

/** Session updates waiting to be written before the connection counts as stuck (the editor does not read). */
const MAX_QUEUED_UPDATES = 100_000;
/** Most messages `session/load` replays (the newest ones). */
const MAX_REPLAY_MESSAGES = 10_000;
/** Turn ends remembered per session (the end may arrive before session/message's reply). */
const KEEP_ENDS = 8;
const TURN_END = new Set(['turn.completed', 'turn.failed', 'turn.cancelled', 'turn.interrupted']);

interface Followed {
  session: Session;
  tails: OutputTails;
  /** Updates are written in order; a prompt answers once its updates are out. */
  chain: Promise<void>;
  /** The running prompt's turn, its end by turn id. */
  running?: { turnId?: string; cancelled: boolean };
  ends: Map<string, TypedEvent>;
  onEnd?: () => void;
  /** This editor gave the session MCP servers (session/mcp). */
  mcp?: boolean;
}

/** agentd's errors as ACP's: no provider credential is ACP's auth-required. */
function acpError(err: unknown): unknown {
  if (err instanceof acp.RequestError) return err;
  if (err instanceof RpcResponseError) {
    if (err.code === -32013) return acp.RequestError.authRequired(err.data, err.message);
    if (err.code === -32010) return acp.RequestError.resourceNotFound(String((err.data as { id?: string } | undefined)?.id ?? ''));
    if (err.code === -32602) return acp.RequestError.invalidParams(err.data, err.message);
    return new acp.RequestError(err.code, err.message, err.data);
  }
  return acp.RequestError.internalError(undefined, err instanceof Error ? err.message : String(err));
}

const guard = <P, R>(fn: (c: acp.AgentRequestContext<P>) => Promise<R>) => async (c: acp.AgentRequestContext<P>): Promise<R> => {
  try {
    return await fn(c);
  } catch (err) {
    throw acpError(err);
  }
};

/** Serves one ACP connection on `stream` until it closes; resolves then (the agentd connection is closed too). */
export async function serveAcp(stream: acp.Stream, opts: AcpAgentOptions): Promise<void> {
  const agentd = new AgentClient(opts.connector, { clientInfo: { name: 'agentd-acp', version: opts.version } });
  const followed = new Map<string, Followed>();
  let editor: acp.AgentContext | undefined;
  let clientCaps: acp.ClientCapabilities = {};
  let queued = 0;
  let conn: acp.AgentConnection | undefined;

  const send = (f: Followed, update: acp.SessionUpdate) => {
    if (++queued > MAX_QUEUED_UPDATES) {
      conn?.close(new Error('the client does not read its session updates'));
      return;
    }
    const sessionId = f.session.id;
    f.chain = f.chain.then(() => editor?.notify(acp.methods.client.session.update, { sessionId, update })).catch(() => undefined).finally(() => { queued--; });
  };

  agentd.onEvent((e) => {
    const f = e.sessionId ? followed.get(e.sessionId) : undefined;
    if (!f) return;
    if (e.type === 'session.updated') f.session = e.data.session;
    for (const u of eventUpdates(f.session.workspaceRoot, e, f.tails)) send(f, u);
    if (TURN_END.has(e.type)) {
      const turnId = (e.data as { turnId: string }).turnId;
      f.ends.set(turnId, e);
      for (const k of f.ends.keys()) if (f.ends.size > KEEP_ENDS) f.ends.delete(k);
      f.onEnd?.();
    }
  });

  agentd.onPermissionRequest(async (req, signal) => {
    const f = followed.get(req.sessionId);
    if (!f || !editor) {
      // Not one of ours (closed meanwhile): leave the answer to the server's other clients.
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      return { decision: 'deny', reason: 'no longer followed' };
    }
    await f.chain; // the tool_call is out before it is asked about
    const call = toolCall(f.session.workspaceRoot, req.callId, req.tool, req.input, 'pending');
    const { sessionUpdate: _, ...toolCallFields } = call as acp.ToolCall & { sessionUpdate: string };
    try {
      const r = await editor.request(acp.methods.client.session.requestPermission, {
        sessionId: req.sessionId, toolCall: toolCallFields, options: PERMISSION_OPTIONS.map(({ decision: _d, ...o }) => o),
      }, { cancellationSignal: signal, stopWaitingOnCancel: true });
      // Answered elsewhere (another client of the server) or the turn ended: this reply no longer counts.
      if (signal.aborted) return { decision: 'deny', reason: 'no longer pending' };
      // `cancelled` means the prompt turn was cancelled (session/cancel came first): end the turn
      // before answering, so the denial cannot let the model carry on.
      if (r.outcome.outcome === 'cancelled' && f.running) {
        f.running.cancelled = true;
        await agentd.cancel(req.sessionId).catch(() => undefined);
      }
      return permissionDecision(r.outcome);
    } catch {
      return { decision: 'deny', reason: 'cancelled' };
    }
  });

  // The editor's file system (fs/read_text_file, fs/write_text_file) serves the built-in file
  // tools of its sessions: agentd checks each path against the workspace root before asking.
  const fromEditor = (sessionId: string) => {
    if (!editor || !followed.has(sessionId)) throw new RpcResponseError(-32602, `session ${sessionId} is not one of this editor's`);
    return editor;
  };
  agentd.onServerRequest('file/read', async (p, signal) => {
    const r = await fromEditor(p.sessionId).request(acp.methods.client.fs.readTextFile, { sessionId: p.sessionId, path: p.path }, { cancellationSignal: signal, stopWaitingOnCancel: true });
    return { content: r.content };
  });
  agentd.onServerRequest('file/write', async (p, signal) => {
    await fromEditor(p.sessionId).request(acp.methods.client.fs.writeTextFile, { sessionId: p.sessionId, path: p.path, content: p.content }, { cancellationSignal: signal, stopWaitingOnCancel: true });
    return {};
  });
  const bindFiles = async (sessionId: string) => {
    const read = clientCaps.fs?.readTextFile === true;
    const write = clientCaps.fs?.writeTextFile === true;
    if (read || write) await agentd.setSessionFiles({ sessionId, read, write });
  };

  const follow = async (session: Session): Promise<Followed> => {
    let f = followed.get(session.id);
    if (!f) {
      f = { session, tails: new OutputTails(), chain: Promise.resolve(), ends: new Map() };
      followed.set(session.id, f);
      await agentd.subscribe({ sessionId: session.id, since: session.lastSeq });
    }
    return f;
  };
  const mustFollow = (sessionId: string) => {
    const f = followed.get(sessionId);
    if (!f) throw acp.RequestError.sessionNotFound(sessionId);
    return f;
  };

  let providers: Provider[] | undefined;
  const configOptions = async (s: Session, fresh = false): Promise<acp.SessionConfigOption[]> => {
    if (!providers || fresh) providers = (await agentd.listProviders()).providers;
    const p = providers.find((x) => x.id === s.provider);
    const models = p?.models.length ? p.models : [s.model];
    return [{
      id: 'model', name: 'Model', category: 'model', type: 'select', currentValue: s.model,
      options: (models.includes(s.model) ? models : [s.model, ...models]).map((m) => ({ value: m, name: m })),
    }];
  };
  const sessionResult = async (s: Session) => ({ modes: modeState(s.policy), configOptions: await configOptions(s) });
  /** The editor's MCP servers for this session (session/mcp); none given: none set. */
  const mcpOf = (list: acp.McpServer[] | undefined) => {
    try {
      return mcpServers(list);
    } catch (err) {
      throw acp.RequestError.invalidParams({ mcpServers: list?.length }, (err as Error).message);
    }
  };
  const attachMcp = async (f: Followed, servers: ReturnType<typeof mcpServers>) => {
    if (!Object.keys(servers).length) return;
    await agentd.setSessionMcp({ sessionId: f.session.id, servers });
    f.mcp = true;
  };
  const absolute = (cwd: string) => {
    if (!isAbsolute(cwd)) throw acp.RequestError.invalidParams({ cwd }, 'cwd must be an absolute path');
    return cwd;
  };

  const app = acp.agent({ name: 'agentd' });

  app.onRequest(acp.methods.agent.initialize, guard(async ({ params }) => {
    clientCaps = params.clientCapabilities ?? {};
    await agentd.connect();
    return {
      protocolVersion: acp.PROTOCOL_VERSION,
      agentCapabilities: {
        loadSession: true,
        promptCapabilities: { image: true, audio: false, embeddedContext: true },
        mcpCapabilities: { http: true, sse: true },
        sessionCapabilities: { list: {}, close: {} },
      },
      agentInfo: { name: 'agentd', title: 'agentd', version: opts.version },
      authMethods: [{ type: 'terminal', id: 'agentd-auth-login', name: 'Log in with an API key', description: 'Runs `agentd auth login`: choose a provider and paste its API key', args: opts.authArgs }],
    };
  }));

  app.onRequest(acp.methods.agent.authenticate, guard(async () => {
    providers = undefined; // the terminal method stored a key: list providers afresh
    return {};
  }));

  app.onRequest(acp.methods.agent.session.new, guard(async ({ params }) => {
    const cwd = absolute(params.cwd);
    const servers = mcpOf(params.mcpServers); // refused before a session is made
    const session = await agentd.createSession({ workspaceRoot: cwd });
    const f = await follow(session);
    await bindFiles(session.id);
    await attachMcp(f, servers);
    return { sessionId: session.id, ...(await sessionResult(session)) };
  }));

  app.onRequest(acp.methods.agent.session.load, guard(async ({ params }) => {
    absolute(params.cwd);
    const servers = mcpOf(params.mcpServers);
    const got = await agentd.getSession(params.sessionId);
    const messages = [...got.messages];
    for (let before = got.messagesCursor; before && messages.length < MAX_REPLAY_MESSAGES;) {
      const page = await agentd.listMessages({ sessionId: params.sessionId, before, limit: 200 });
      messages.unshift(...page.messages);
      before = page.nextCursor;
    }
    const f = await follow(got.session);
    await bindFiles(got.session.id);
    await attachMcp(f, servers);
    const calls = new Map<string, { tool: string; input: Record<string, unknown> }>();
    for (const m of messages.slice(-MAX_REPLAY_MESSAGES)) for (const u of messageUpdates(got.session.workspaceRoot, m, calls)) send(f, u);
    if (got.plan.length) send(f, planUpdate(got.plan));
    await f.chain;
    return sessionResult(f.session);
  }));

  app.onRequest(acp.methods.agent.session.list, guard(async ({ params }) => {
    const page = await agentd.listSessions({ ...(params.cursor ? { cursor: params.cursor } : {}) });
    const sessions = page.sessions.filter((s) => !params.cwd || s.workspaceRoot === params.cwd);
    return { sessions: sessions.map((s) => ({ sessionId: s.id, cwd: s.workspaceRoot, title: s.name, updatedAt: s.updatedAt })), nextCursor: page.nextCursor };
  }));

  app.onRequest(acp.methods.agent.session.close, guard(async ({ params }) => {
    const f = mustFollow(params.sessionId);
    if (f.running) await agentd.cancel(params.sessionId).catch(() => undefined);
    followed.delete(params.sessionId);
    await agentd.unsubscribe({ sessionId: params.sessionId }).catch(() => undefined);
    // What this editor gave the session goes with it: its file system and its MCP servers.
    if (clientCaps.fs?.readTextFile || clientCaps.fs?.writeTextFile) await agentd.setSessionFiles({ sessionId: params.sessionId, read: false, write: false }).catch(() => undefined);
    if (f.mcp) await agentd.setSessionMcp({ sessionId: params.sessionId, servers: {} }).catch(() => undefined);
    return {};
  }));

  app.onRequest(acp.methods.agent.session.setMode, guard(async ({ params }) => {
    const f = mustFollow(params.sessionId);
    if (!isMode(params.modeId)) throw acp.RequestError.invalidParams({ modeId: params.modeId }, `unknown mode: ${params.modeId}`);
    const { session } = await agentd.getSession(params.sessionId);
    f.session = await agentd.updateSession({ sessionId: params.sessionId, policy: withMode(session.policy, params.modeId) });
    send(f, { sessionUpdate: 'current_mode_update', currentModeId: params.modeId });
    await f.chain;
    return {};
  }));

  app.onRequest(acp.methods.agent.session.setConfigOption, guard(async ({ params }) => {
    const f = mustFollow(params.sessionId);
    if (params.configId !== 'model' || typeof params.value !== 'string') throw acp.RequestError.invalidParams({ configId: params.configId }, `unknown config option: ${params.configId}`);
    f.session = await agentd.updateSession({ sessionId: params.sessionId, model: params.value });
    return { configOptions: await configOptions(f.session) };
  }));

  app.onRequest(acp.methods.agent.session.prompt, guard(async ({ params, signal }) => {
    const f = mustFollow(params.sessionId);
    if (f.running) throw acp.RequestError.invalidRequest(undefined, 'a prompt is already running in this session');
    // resource_links to what the session's MCP servers (its own and configured ones) list are read from them.
    let serverOf: ((uri: string) => string | undefined) | undefined;
    if (params.prompt.some((b) => b.type === 'resource_link')) {
      const listed = await agentd.request('mcp/resources', { sessionId: f.session.id }).catch(() => ({ resources: [] }));
      const byUri = new Map<string, string>();
      for (const r of listed.resources) if (!byUri.has(r.uri)) byUri.set(r.uri, r.server);
      serverOf = (uri) => byUri.get(uri);
    }
    let content;
    try {
      content = promptContent(params.prompt, serverOf);
    } catch (err) {
      throw acp.RequestError.invalidParams(undefined, (err as Error).message);
    }
    if (!content.length) throw acp.RequestError.invalidParams(undefined, 'the prompt is empty');
    const running: NonNullable<Followed['running']> = { cancelled: false };
    f.running = running;
    const onAbort = () => { running.cancelled = true; void agentd.cancel(f.session.id).catch(() => undefined); };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const [first, ...rest] = content;
      const accepted = await agentd.sendMessage({ sessionId: f.session.id, content: [first!, ...rest], async: true });
      const turnId = (accepted as TurnAccepted).turnId;
      running.turnId = turnId;
      const end = await new Promise<TypedEvent>((resolve) => {
        const check = () => { const e = f.ends.get(turnId); if (e) { f.onEnd = undefined; resolve(e); } };
        f.onEnd = check;
        check();
      });
      await f.chain;
      if (end.type === 'turn.completed') return { stopReason: running.cancelled ? 'cancelled' : stopReason((end.data as { stopReason?: string | null }).stopReason) };
      if (end.type === 'turn.cancelled') return { stopReason: 'cancelled' };
      const d = end.data as { error?: { code: number; message: string; data?: unknown }; reason?: string };
      if (end.type === 'turn.failed' && d.error) throw new RpcResponseError(d.error.code, d.error.message, d.error.data);
      if (running.cancelled) return { stopReason: 'cancelled' };
      throw acp.RequestError.internalError(undefined, `the turn was interrupted${d.reason ? `: ${d.reason}` : ''}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (f.running === running) f.running = undefined;
    }
  }));

  app.onNotification(acp.methods.agent.session.cancel, async ({ params }) => {
    const f = followed.get(params.sessionId);
    if (!f?.running) return;
    f.running.cancelled = true;
    await agentd.cancel(params.sessionId).catch(() => undefined);
  });

  conn = app.connect(stream);
  editor = conn.client;
  agentd.onStateChange((state) => { if (state === 'closed') conn?.close(); });
  await conn.closed.catch(() => undefined);
  await agentd.close().catch(() => undefined);
}
