/**
 * The agent loop. One turn per session at a time: the user message, then model calls that
 * stream into an assistant message, tool calls whose results are fed back, until the model
 * ends its turn, the step limit is reached, the turn is cancelled, or the provider fails.
 * Partial output is always kept: an interrupted assistant message is stored as `incomplete`.
 */
import type { ContentPart, ErrorObject, ImagePart, Message, TextPart, ToolResultPart, ToolUsePart, Usage } from '../../protocol/index.js';
import { ErrorCodes } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import { DEFAULT_MAX_TOKENS } from '../config/defaults.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import type { ProviderRegistry } from '../provider/registry.js';
import { RpcError } from '../rpc/errors.js';
import { newId, now } from '../session/ids.js';
import { closeOpenToolCalls, type Recovery } from '../session/recovery.js';
import { requireSession } from '../session/service.js';
import type { SessionRecord, Store } from '../store/store.js';
import type { ModelProvider, StreamEvent } from '../provider/types.js';
import { errorResult, type ToolHost } from '../tools/host.js';
import { addCost, addUsage, contextTokens, costOf } from '../provider/models.js';
import { factsOf } from '../session/service.js';
import { modelHistory, type Compactor } from '../session/compaction.js';
import type { SnapshotService } from '../snapshot/service.js';

/** Events that end a turn. */
const TURN_ENDS = new Set(['turn.completed', 'turn.cancelled', 'turn.failed', 'turn.interrupted']);
/** How long `session/cancel` waits for a turn on another node to end. */
const CANCEL_WAIT_MS = 10_000;

export interface ActiveTurn {
  turnId: string;
  sessionId: string;
  abort: AbortController;
  /** Why the turn was aborted (cancel, shutdown). */
  reason?: string;
  done: Promise<Message>;
  /** Set once the session is being released (before the turn's end event is delivered). */
  released?: Promise<void>;
}

/** A user message's content once MCP resource references and prompts are resolved (McpManager.userContent). */
type Content = string | Array<TextPart | ImagePart>;

/** What the steps of one running turn share. */
interface TurnState {
  turn: ActiveTurn;
  session: SessionRecord;
  sid: string;
  turnId: string;
  signal: AbortSignal;
  /** Seq of the turn's `turn.started` event (where its record begins). */
  startSeq: number;
  /** The user message that started the turn. */
  userMessageId: string;
  /** The last model call's input passed the compaction threshold: compact before the next one. */
  compactDue?: number;
  /** The conversation sent to the model, growing as the turn goes. */
  history: Message[];
  provider: ModelProvider;
  /** The turn's totals. */
  usage: Usage;
  costUsd: number | null;
  /** Tool calls whose arguments were not valid JSON, by call id: answered with an error, never run. */
  badInput: Map<string, string>;
  /** The assistant message being streamed (undefined between model calls). */
  assistant?: Message;
  /** The last assistant message of this turn, for the turn's end event. */
  lastId: string | null;
}

/**
 * How long a provider or tool may take to stop after its signal aborts before the turn stops
 * waiting for it (so a turn always ends promptly on cancel, even with a tool that ignores it).
 */
const ABORT_GRACE_MS = 250;

/** What the model is told about its situation. */
function systemPrompt(session: SessionRecord): string {
  return [
    'You are agentd, a coding agent working in a local project.',
    `The workspace root is ${session.workspaceRoot}; every tool path is relative to it and cannot leave it.`,
    'Use the tools to inspect and change files and to run commands; prefer small, exact edits (edit_file) over rewriting files.',
  ].join('\n');
}

/** `p`, unless `signal` aborts and `p` has not settled `graceMs` later: then RequestCancelled. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, graceMs = ABORT_GRACE_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => { timer = setTimeout(() => reject(RpcError.cancelled()), graceMs); };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); };
    p.then((v) => { settle(); resolve(v); }, (e) => { settle(); reject(e); });
  });
}

export interface TurnRunnerDeps {
  store: Store;
  events: EventLog;
  log: Logger;
  config: Pick<ConfigService, 'limits' | 'get'>;
  providers: Pick<ProviderRegistry, 'get' | 'has' | 'ready'>;
  /** The tools the model may call (the approval gate in front of every tool source). */
  tools: ToolHost;
  /** A session left `running` by a dead process is recovered before a new turn starts. */
  recovery: Pick<Recovery, 'recoverSession'>;
  /** The turns running in this process, by session id (recovery reads it to leave them alone). */
  active: Map<string, ActiveTurn>;
  /** Workspace snapshots before the first tool call and at the end of a turn; a new message makes a revert final. */
  snapshots: Pick<SnapshotService, 'beforeTools' | 'afterTurn' | 'commitRevert'>;
  /** Automatic compaction when a call's input passes the threshold. */
  compactor: Pick<Compactor, 'due' | 'summarize'>;
}

export class TurnRunner {
  private active: Map<string, ActiveTurn>;
  /** Sessions whose turn is being claimed (between start's first check and the claim). */
  private starting = new Set<string>();

  constructor(private deps: TurnRunnerDeps) {
    this.active = deps.active;
  }

  get running(): number {
    return this.active.size;
  }

  activeTurn(sessionId: string): ActiveTurn | undefined {
    return this.active.get(sessionId);
  }

  /** Starts a turn; `done` resolves with the final assistant message or rejects with a typed error. */
  async start(sessionId: string, content: Content): Promise<ActiveTurn> {
    const limits = this.deps.config.limits();
    const active = this.active.get(sessionId);
    if (active || this.starting.has(sessionId)) throw RpcError.busy(sessionId, active?.turnId);
    if (this.active.size + this.starting.size >= limits.maxConcurrentTurns) throw RpcError.limit('concurrent turns', limits.maxConcurrentTurns);
    // Held from here until the turn is active: a second start meanwhile is busy, and counts against the limit.
    this.starting.add(sessionId);
    let turn: ActiveTurn;
    let session: SessionRecord;
    try {
      const { store } = this.deps;
      session = await requireSession(store, sessionId);
      // Left running by a process that died: end that turn as interrupted, then go on.
      if (session.status === 'running' && (await this.deps.recovery.recoverSession(sessionId))) session = await requireSession(store, sessionId);
      if (session.status === 'running') throw RpcError.busy(sessionId, session.activeTurnId);
      const turnId = newId('turn');
      if (!(await store.claimTurn(sessionId, turnId, store.cluster?.nodeId ?? process.pid, now()))) throw RpcError.busy(sessionId);
      // Active from the claim on: recovery leaves the session alone.
      turn = { turnId, sessionId, abort: new AbortController(), done: Promise.resolve(null as never) };
      this.active.set(sessionId, turn);
    } finally {
      this.starting.delete(sessionId);
    }
    const { turnId } = turn;
    const prepare = async () => {
      // Another process may have appended to this session since we last looked.
      await this.deps.events.refresh(sessionId);
      // A new message makes the last revert final: unrevert is no longer possible.
      await this.deps.snapshots.commitRevert(sessionId);
    };
    turn.done = prepare().then(() => this.run(turn, { ...session, status: 'running', activeTurnId: turnId }, content)).finally(async () => {
      await this.release(turn);
      // Resolves once the turn's events reached the subscribers.
      await this.deps.events.settled();
    });
    // The caller may not await `done` (async turns); a failure is already reported as an event.
    turn.done.catch(() => {});
    return turn;
  }

  /**
   * Marks the session idle (once): the store first, then the in-memory turn, so a message arriving
   * meanwhile is busy rather than finding a `running` row without a live turn.
   */
  private release(turn: ActiveTurn): Promise<void> {
    return (turn.released ??= this.deps.store.releaseTurn(turn.sessionId, turn.turnId, now())
      .catch((err) => this.deps.log.error({ err: String(err), turnId: turn.turnId }, 'could not release the turn'))
      .finally(() => { if (this.active.get(turn.sessionId) === turn) this.active.delete(turn.sessionId); }));
  }

  /** Cancels the running turn of a session; resolves once it has ended. */
  async cancel(sessionId: string, reason = 'cancelled by client'): Promise<string | undefined> {
    const turn = this.active.get(sessionId);
    if (!turn) return this.cancelElsewhere(sessionId, reason);
    turn.reason ??= reason;
    turn.abort.abort();
    await turn.done.catch(() => {});
    return turn.turnId;
  }

  /**
   * On a shared store: a turn another node runs is cancelled there (a command through the
   * database); resolves once its end event arrives here (at most CANCEL_WAIT_MS).
   */
  private async cancelElsewhere(sessionId: string, reason: string): Promise<string | undefined> {
    const { store, events } = this.deps;
    const cluster = store.cluster;
    const rec = cluster && (await store.getSession(sessionId));
    const turnId = rec?.activeTurnId;
    if (!cluster || rec?.status !== 'running' || !turnId || !rec.ownerPid || rec.ownerPid === cluster.nodeId) return undefined;
    await new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); off(); resolve(); };
      const off = events.on(sessionId, (e) => { if (TURN_ENDS.has(e.type) && (JSON.parse(e.json) as { data?: { turnId?: string } }).data?.turnId === turnId) done(); });
      const timer = setTimeout(done, CANCEL_WAIT_MS);
      // Ended between the read and the listener: nothing to wait for.
      cluster.command(rec.ownerPid!, { op: 'cancel', sessionId, reason })
        .then(() => store.getSession(sessionId))
        .then((now) => { if (now?.activeTurnId !== turnId) done(); }, () => done());
    });
    // That node released the session before it wrote the end event (release()): a message sent as soon as this returns is not busy.
    return turnId;
  }

  /** Cancels every running turn (shutdown). */
  async cancelAll(reason: string) {
    await Promise.all([...this.active.keys()].map((id) => this.cancel(id, reason)));
  }

  /** A turn as it runs: call the model, run the tools it asked for, again, until the turn ends. */
  private async run(turn: ActiveTurn, session: SessionRecord, content: Content): Promise<Message> {
    // A detected local server may not be known yet (detection runs in the background or on first need).
    if (!this.deps.providers.has(session.provider)) await this.deps.providers.ready();
    const t = await this.begin(turn, session, content);
    const maxSteps = this.deps.config.limits().maxSteps;
    try {
      for (let step = 1; ; step++) {
        // A turn never runs more than one model call ahead of the store (bounds the event log's queue when the database is slow).
        if (step > 1) await this.deps.events.settled();
        if (t.compactDue !== undefined) await this.compact(t);
        const { message, stopReason } = await this.callModel(t);
        const calls = message.content.filter((p): p is ToolUsePart => p.type === 'tool_use');
        if (stopReason !== 'tool_use' || calls.length === 0 || step >= maxSteps) {
          await this.snapshotEnd(t);
          return this.end(t, message, stopReason !== 'tool_use' || calls.length === 0 ? stopReason : 'step_limit');
        }
        if (this.deps.compactor.due(t.session, contextTokens(message.usage))) t.compactDue = contextTokens(message.usage);
        await this.deps.snapshots.beforeTools(t.session, t.turnId, t.userMessageId);
        await this.runTools(t, calls);
        if (t.signal.aborted) throw RpcError.cancelled();
      }
    } catch (err) {
      await this.snapshotEnd(t);
      throw await this.fail(t, err);
    }
  }

  /** Stores the user message and announces the turn. */
  private async begin(turn: ActiveTurn, session: SessionRecord, content: Content): Promise<TurnState> {
    const { events, store } = this.deps;
    const sid = session.id;
    const { turnId } = turn;
    const parts: ContentPart[] = typeof content === 'string' ? [{ type: 'text', text: content }] : content;
    const userMessage: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: parts, status: 'complete', createdAt: now() };
    await store.putMessage(userMessage);
    void events.append(sid, 'message.created', { message: userMessage });
    const startSeq = (await events.append(sid, 'turn.started', { turnId, messageId: userMessage.id })).seq;
    return {
      turn, session, sid, turnId, signal: turn.abort.signal, startSeq, userMessageId: userMessage.id,
      history: modelHistory(await store.listMessages(sid)), provider: this.deps.providers.get(session.provider),
      usage: addUsage(undefined, undefined), costUsd: null, badInput: new Map(), lastId: null,
    };
  }

  /** One model call: streams into a new assistant message, stored complete when the stream ends. */
  private async callModel(t: TurnState): Promise<{ message: Message; stopReason: Message['stopReason'] }> {
    const { events, store, tools } = this.deps;
    const { session, sid, turnId, signal, usage } = t;
    const assistant: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'assistant', content: [], status: 'streaming', createdAt: now() };
    t.assistant = assistant;
    t.lastId = assistant.id;
    events.append(sid, 'message.created', { message: assistant });
    const res = await untilAborted(t.provider.stream(
      { model: session.model, system: systemPrompt(session), messages: t.history, tools: tools.list(session), signal, maxTokens: this.maxTokens(session.provider) },
      this.collector(assistant, turnId, signal, t.badInput),
    ), signal);
    if (signal.aborted) throw RpcError.cancelled();
    t.assistant = undefined;
    // A block the stream opened but never filled (an empty text block) is not kept.
    assistant.content = assistant.content.filter((p) => p && (p.type !== 'text' || p.text !== ''));
    assistant.status = 'complete';
    assistant.stopReason = res.stopReason;
    assistant.usage = res.usage ?? {};
    // The price as configured now (a config change applies to the next call).
    const facts = factsOf(this.deps.config, session.provider, session.model);
    assistant.costUsd = costOf(assistant.usage, facts.price);
    t.usage = addUsage(usage, assistant.usage);
    t.costUsd = addCost(t.costUsd, assistant.costUsd);
    await store.putMessage(assistant);
    void events.append(sid, 'message.completed', { message: assistant });
    t.history.push(assistant);
    await this.recordUsage(sid, turnId, assistant, session.model, facts.contextWindow);
    return { message: assistant, stopReason: res.stopReason };
  }

  /** Runs the calls one by one and stores their results as one message (every call gets a result). */
  private async runTools(t: TurnState, calls: ToolUsePart[]) {
    const { events, store } = this.deps;
    const { turn, session, sid, turnId, signal } = t;
    const reason = () => turn.reason ?? 'cancelled by client';
    const results: ToolResultPart[] = [];
    for (const call of calls) {
      if (signal.aborted) break;
      const bad = t.badInput.get(call.id);
      results.push(bad !== undefined ? this.refuseInput(session, turnId, call, bad) : await this.runTool(session, turnId, call, signal, reason));
    }
    // Every tool_use gets its tool_result, even when the turn was cancelled part-way, so
    // the stored conversation stays valid for the next turn.
    for (const call of calls.slice(results.length)) results.push(errorResult(call, `Not run: the turn ended (${reason()})`));
    const toolMessage: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: results, status: 'complete', createdAt: now() };
    await store.putMessage(toolMessage);
    void events.append(sid, 'message.created', { message: toolMessage });
    t.history.push(toolMessage);
  }

  /** The turn's end snapshot (and its `turn.diff`), once, before the turn's end event. */
  private async snapshotEnd(t: TurnState): Promise<void> {
    await this.deps.snapshots.afterTurn(t.session, t.turnId);
  }

  /** The last call's input passed the threshold: the history so far becomes its summary. */
  private async compact(t: TurnState) {
    const before = t.compactDue ?? 0;
    t.compactDue = undefined;
    try {
      const { message } = await this.deps.compactor.summarize(t.session, t.history, t.signal, t.turnId, before);
      t.history = [message];
    } catch (err) {
      if (t.signal.aborted) throw RpcError.cancelled();
      // The turn goes on with the whole history (the next call may still fit).
      this.deps.log.warn({ err: (err as Error).message, turnId: t.turnId }, 'automatic compaction failed');
    }
    if (t.signal.aborted) throw RpcError.cancelled();
  }

  /** The model ended its turn (or the step limit did). */
  private end(t: TurnState, message: Message, stopReason: Message['stopReason'] | 'step_limit'): Message {
    void this.deps.events.append(t.sid, 'turn.completed', { turnId: t.turnId, messageId: message.id, stopReason, usage: t.usage, costUsd: t.costUsd }, this.release(t.turn));
    return message;
  }

  /**
   * The turn ended early (cancelled, shutdown, or a failure): partial output is kept, open tool
   * calls are answered, the end is announced; returns the error the turn's caller gets.
   */
  private async fail(t: TurnState, err: unknown): Promise<RpcError> {
    const { events, store, log } = this.deps;
    const { turn, sid, turnId, signal, assistant } = t;
    const cancelled = signal.aborted;
    const error: ErrorObject = cancelled
      ? RpcError.cancelled().toJSON()
      : err instanceof RpcError ? err.toJSON() : { code: ErrorCodes.InternalError, message: `Turn failed: ${(err as Error)?.message ?? String(err)}` };
    if (assistant?.status === 'streaming') {
      assistant.status = 'incomplete';
      assistant.error = error;
      await store.putMessage(assistant).catch((e) => log.error({ err: String(e), turnId }, 'could not store the partial message'));
      void events.append(sid, 'message.completed', { message: assistant });
    }
    const messageId = assistant?.id ?? t.lastId;
    // Tool calls left without results (the turn ended inside a tool) would make the history
    // unusable for the next turn; those the loop already answered are skipped.
    await closeOpenToolCalls(this.deps, sid, turnId, cancelled ? turn.reason ?? 'cancelled by client' : 'turn failed', t.startSeq);
    if (cancelled) {
      const reason = turn.reason ?? 'cancelled by client';
      if (reason === 'shutdown') void events.append(sid, 'turn.interrupted', { turnId, messageId, reason }, this.release(turn));
      else void events.append(sid, 'turn.cancelled', { turnId, messageId, reason }, this.release(turn));
      return new RpcError(ErrorCodes.RequestCancelled, `Turn ${reason === 'shutdown' ? 'interrupted' : 'cancelled'}: ${reason}`, { turnId, messageId });
    }
    if (!(err instanceof RpcError)) log.error({ err, turnId }, 'turn failed');
    void events.append(sid, 'turn.failed', { turnId, messageId, error }, this.release(turn));
    return err instanceof RpcError ? new RpcError(err.code, err.message, { ...err.data, turnId, messageId }) : RpcError.internal('session/message');
  }

  /** max_tokens for a provider's requests. */
  private maxTokens(providerId: string): number {
    return this.deps.config.get().providers?.[providerId]?.maxTokens ?? DEFAULT_MAX_TOKENS;
  }

  /**
   * Adds a model call to the session's running totals (one write transaction, so a concurrent
   * session/update is never lost) and announces it as usage.updated.
   */
  private async recordUsage(sessionId: string, turnId: string, msg: Message, model: string, windowTokens: number | undefined) {
    const context = { usedTokens: contextTokens(msg.usage), windowTokens: windowTokens ?? null };
    const rec = await this.deps.store.patchSession(sessionId, (r) => ({ ...r, usage: addUsage(r.usage, msg.usage), costUsd: addCost(r.costUsd, msg.costUsd ?? null), context }));
    if (!rec) return; // deleted meanwhile
    this.deps.events.append(sessionId, 'usage.updated', {
      turnId, messageId: msg.id, model, usage: msg.usage ?? {}, costUsd: msg.costUsd ?? null,
      sessionUsage: addUsage(rec.usage, undefined), sessionCostUsd: rec.costUsd ?? null, context,
    });
  }

  /** Turns provider stream events into message content and `message.delta` events. */
  private collector(msg: Message, turnId: string, signal: AbortSignal, badInput: Map<string, string>) {
    const json = new Map<number, string>();
    const { events } = this.deps;
    return (e: StreamEvent) => {
      // After a cancel nothing more is added: the turn may already have ended.
      if (signal.aborted) return;
      switch (e.type) {
        case 'block_start':
          msg.content[e.index] = structuredClone(e.part);
          if (e.part.type === 'tool_use') json.set(e.index, '');
          break;
        case 'text_delta': {
          const part = msg.content[e.index];
          if (part?.type === 'text') part.text += e.text;
          else msg.content[e.index] = { type: 'text', text: e.text };
          events.push(msg.sessionId, 'message.delta', { messageId: msg.id, turnId, index: e.index, delta: { type: 'text_delta', text: e.text } });
          break;
        }
        case 'input_json_delta':
          json.set(e.index, (json.get(e.index) ?? '') + e.partialJson);
          events.push(msg.sessionId, 'message.delta', { messageId: msg.id, turnId, index: e.index, delta: { type: 'input_json_delta', partialJson: e.partialJson } });
          break;
        case 'block_stop': {
          const part = msg.content[e.index];
          const raw = json.get(e.index);
          if (part?.type === 'tool_use' && raw !== undefined) {
            let input: unknown;
            try {
              input = raw.trim() ? JSON.parse(raw) : {};
            } catch (err) {
              badInput.set(part.id, `the arguments are not valid JSON (${(err as Error).message}): ${raw.slice(0, 200)}`);
            }
            if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) badInput.set(part.id, `the arguments must be a JSON object: ${raw.slice(0, 200)}`);
            part.input = badInput.has(part.id) ? {} : (input as Record<string, unknown>);
          }
          break;
        }
      }
    };
  }

  /** A call the model sent with unusable arguments: an error result for it to correct, and tool.failed for clients. */
  private refuseInput(session: SessionRecord, turnId: string, call: ToolUsePart, reason: string): ToolResultPart {
    const { events } = this.deps;
    const base = { turnId, callId: call.id, tool: call.name };
    const text = `Invalid tool call: ${reason}`;
    const result = errorResult(call, text);
    events.append(session.id, 'tool.started', { ...base, input: call.input });
    events.append(session.id, 'tool.failed', { ...base, input: call.input, result, error: { code: ErrorCodes.ToolFailed, message: text.slice(0, 500) } });
    return result;
  }

  private async runTool(session: SessionRecord, turnId: string, call: ToolUsePart, signal: AbortSignal, reason: () => string): Promise<ToolResultPart> {
    const { events } = this.deps;
    const base = { turnId, callId: call.id, tool: call.name };
    events.append(session.id, 'tool.started', { ...base, input: call.input });
    let result: ToolResultPart;
    let done = false;
    try {
      result = await untilAborted(this.deps.tools.execute(
        { id: call.id, name: call.name, input: call.input },
        { session, turnId, signal, output: (stream, text) => { if (!signal.aborted || !done) events.push(session.id, 'tool.output', { ...base, stream, text }); } },
      ), signal);
    } catch (err) {
      result = signal.aborted && err instanceof RpcError
        ? errorResult(call, 'Cancelled: the tool did not stop in time')
        : errorResult(call, `Tool failed: ${(err as Error)?.message ?? String(err)}`);
    }
    done = true;
    if (signal.aborted) {
      // Cancelled while it ran: whatever it produced is kept, marked as an error that says why.
      result = { ...result, isError: true, content: [...result.content, { type: 'text', text: `Tool interrupted: ${reason()}` }] };
      events.append(session.id, 'tool.failed', { ...base, input: call.input, result, error: RpcError.cancelled().toJSON() });
    } else if (result.isError) {
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      events.append(session.id, 'tool.failed', { ...base, input: call.input, result, error: { code: ErrorCodes.ToolFailed, message: text.slice(0, 500) || 'tool failed' } });
    } else events.append(session.id, 'tool.completed', { ...base, input: call.input, result });
    return result;
  }
}
