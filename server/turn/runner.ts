/**
 * The agent loop. One turn per session at a time: the user message, then model calls that
 * stream into an assistant message, tool calls whose results are fed back, until the model
 * ends its turn, the step limit is reached, the turn is cancelled, or the provider fails.
 * Partial output is always kept: an interrupted assistant message is stored as `incomplete`.
 */
import type { ContentPart, ErrorObject, Message, SessionMessageParams, ToolResultPart, ToolUsePart, Usage } from '../../protocol/index.js';
import { ErrorCodes } from '../../protocol/index.js';
import type { Core } from '../core.js';
import { RpcError } from '../rpc/errors.js';
import { newId, now } from '../session/ids.js';
import { closeOpenToolCalls } from '../session/recovery.js';
import type { SessionRecord } from '../store/store.js';
import type { StreamEvent } from '../provider/types.js';

export interface ActiveTurn {
  turnId: string;
  sessionId: string;
  abort: AbortController;
  /** Why the turn was aborted (cancel, shutdown). */
  reason?: string;
  done: Promise<Message>;
}

type Content = SessionMessageParams['content'];

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

export class TurnRunner {
  private active = new Map<string, ActiveTurn>();

  constructor(private core: Core) {}

  get running(): number {
    return this.active.size;
  }

  activeTurn(sessionId: string): ActiveTurn | undefined {
    return this.active.get(sessionId);
  }

  /** Starts a turn; `done` resolves with the final assistant message or rejects with a typed error. */
  start(sessionId: string, content: Content): ActiveTurn {
    let session = this.core.sessions.require(sessionId);
    // Left running by a process that died: end that turn as interrupted, then go on.
    if (session.status === 'running' && !this.active.has(sessionId) && this.core.recovery.recoverSession(sessionId)) session = this.core.sessions.require(sessionId);
    const limits = this.core.config.limits();
    if (this.active.has(sessionId) || session.status === 'running') throw RpcError.busy(sessionId, session.activeTurnId);
    if (this.active.size >= limits.maxConcurrentTurns) throw RpcError.limit('concurrent turns', limits.maxConcurrentTurns);
    const turnId = newId('turn');
    if (!this.core.store.claimTurn(sessionId, turnId, process.pid, now())) throw RpcError.busy(sessionId);
    // Another process may have appended to this session since we last looked.
    this.core.events.refresh(sessionId);
    const turn: ActiveTurn = { turnId, sessionId, abort: new AbortController(), done: Promise.resolve(null as never) };
    this.active.set(sessionId, turn);
    turn.done = this.run(turn, { ...session, status: 'running', activeTurnId: turnId }, content).finally(() => {
      this.active.delete(sessionId);
      this.core.store.releaseTurn(sessionId, turnId, now());
    });
    // The caller may not await `done` (async turns); a failure is already reported as an event.
    turn.done.catch(() => {});
    return turn;
  }

  /** Cancels the running turn of a session; resolves once it has ended. */
  async cancel(sessionId: string, reason = 'cancelled by client'): Promise<string | undefined> {
    const turn = this.active.get(sessionId);
    if (!turn) return undefined;
    turn.reason ??= reason;
    turn.abort.abort();
    await turn.done.catch(() => {});
    return turn.turnId;
  }

  /** Cancels every running turn (shutdown). */
  async cancelAll(reason: string) {
    await Promise.all([...this.active.keys()].map((id) => this.cancel(id, reason)));
  }

  private async run(turn: ActiveTurn, session: SessionRecord, content: Content): Promise<Message> {
    const { core } = this;
    const { events, store } = core;
    const sid = session.id;
    const { turnId } = turn;
    const signal = turn.abort.signal;
    const parts: ContentPart[] = typeof content === 'string' ? [{ type: 'text', text: content }] : content;
    const userMessage: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: parts, status: 'complete', createdAt: now() };
    store.putMessage(userMessage);
    events.append(sid, 'message.created', { message: userMessage });
    const startSeq = events.append(sid, 'turn.started', { turnId, messageId: userMessage.id }).seq;

    const history = store.listMessages(sid);
    // A detected local server may not be known yet (detection runs in the background or on first need).
    if (!core.providers.has(session.provider)) await core.providers.ready();
    const provider = core.providers.get(session.provider);
    const maxSteps = core.config.limits().maxSteps;
    const usage: Required<Pick<Usage, 'inputTokens' | 'outputTokens'>> = { inputTokens: 0, outputTokens: 0 };
    /** The assistant message being streamed (undefined between model calls). */
    let assistant: Message | undefined;
    /** The last assistant message of this turn, for the turn's end event. */
    let lastId: string | null = null;
    /** Tool calls whose arguments were not valid JSON, by call id: answered with an error, never run. */
    const badInput = new Map<string, string>();

    try {
      for (let step = 1; ; step++) {
        assistant = { id: newId('msg'), sessionId: sid, turnId, role: 'assistant', content: [], status: 'streaming', createdAt: now() };
        lastId = assistant.id;
        events.append(sid, 'message.created', { message: assistant });
        const res = await untilAborted(provider.stream(
          { model: session.model, system: systemPrompt(session), messages: history, tools: core.tools.list(session), signal, maxTokens: core.providerMaxTokens(session.provider) },
          this.collector(assistant, turnId, signal, badInput),
        ), signal);
        if (signal.aborted) throw RpcError.cancelled();
        usage.inputTokens += res.usage?.inputTokens ?? 0;
        usage.outputTokens += res.usage?.outputTokens ?? 0;
        const done: Message = assistant;
        assistant = undefined;
        // A block the stream opened but never filled (an empty text block) is not kept.
        done.content = done.content.filter((p) => p && (p.type !== 'text' || p.text !== ''));
        done.status = 'complete';
        done.stopReason = res.stopReason;
        if (res.usage) done.usage = res.usage;
        store.putMessage(done);
        events.append(sid, 'message.completed', { message: done });
        history.push(done);

        const calls = done.content.filter((p): p is ToolUsePart => p.type === 'tool_use');
        if (res.stopReason !== 'tool_use' || calls.length === 0) {
          events.append(sid, 'turn.completed', { turnId, messageId: done.id, stopReason: res.stopReason, usage });
          return done;
        }
        if (step >= maxSteps) {
          events.append(sid, 'turn.completed', { turnId, messageId: done.id, stopReason: 'step_limit', usage });
          return done;
        }
        const results: ToolResultPart[] = [];
        for (const call of calls) {
          if (signal.aborted) break;
          const bad = badInput.get(call.id);
          results.push(bad !== undefined ? this.refuseInput(session, turnId, call, bad) : await this.runTool(session, turnId, call, signal, () => turn.reason ?? 'cancelled by client'));
        }
        // Every tool_use gets its tool_result, even when the turn was cancelled part-way, so
        // the stored conversation stays valid for the next turn.
        for (const call of calls.slice(results.length)) {
          results.push({ type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text: `Not run: the turn ended (${turn.reason ?? 'cancelled by client'})` }] });
        }
        const toolMessage: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: results, status: 'complete', createdAt: now() };
        store.putMessage(toolMessage);
        events.append(sid, 'message.created', { message: toolMessage });
        history.push(toolMessage);
        if (signal.aborted) throw RpcError.cancelled();
      }
    } catch (err) {
      const cancelled = signal.aborted;
      const error: ErrorObject = cancelled
        ? RpcError.cancelled().toJSON()
        : err instanceof RpcError ? err.toJSON() : { code: ErrorCodes.InternalError, message: `Turn failed: ${(err as Error)?.message ?? String(err)}` };
      if (assistant?.status === 'streaming') {
        assistant.status = 'incomplete';
        assistant.error = error;
        store.putMessage(assistant);
        events.append(sid, 'message.completed', { message: assistant });
      }
      const messageId = assistant?.id ?? lastId;
      // Tool calls left without results (the turn ended inside a tool) would make the history
      // unusable for the next turn; those the loop already answered are skipped.
      closeOpenToolCalls(core, sid, turnId, cancelled ? turn.reason ?? 'cancelled by client' : 'turn failed', startSeq);
      if (cancelled) {
        const reason = turn.reason ?? 'cancelled by client';
        if (reason === 'shutdown') events.append(sid, 'turn.interrupted', { turnId, messageId, reason });
        else events.append(sid, 'turn.cancelled', { turnId, messageId, reason });
        throw new RpcError(ErrorCodes.RequestCancelled, `Turn ${reason === 'shutdown' ? 'interrupted' : 'cancelled'}: ${reason}`, { turnId, messageId });
      }
      if (!(err instanceof RpcError)) core.log.error({ err, turnId }, 'turn failed');
      events.append(sid, 'turn.failed', { turnId, messageId, error });
      throw err instanceof RpcError ? new RpcError(err.code, err.message, { ...err.data, turnId, messageId }) : RpcError.internal('session/message');
    }
  }

  /** Turns provider stream events into message content and `message.delta` events. */
  private collector(msg: Message, turnId: string, signal: AbortSignal, badInput: Map<string, string>) {
    const json = new Map<number, string>();
    const { events } = this.core;
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
          events.append(msg.sessionId, 'message.delta', { messageId: msg.id, turnId, index: e.index, delta: { type: 'text_delta', text: e.text } });
          break;
        }
        case 'input_json_delta':
          json.set(e.index, (json.get(e.index) ?? '') + e.partialJson);
          events.append(msg.sessionId, 'message.delta', { messageId: msg.id, turnId, index: e.index, delta: { type: 'input_json_delta', partialJson: e.partialJson } });
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
    const { events } = this.core;
    const base = { turnId, callId: call.id, tool: call.name };
    const text = `Invalid tool call: ${reason}`;
    const result: ToolResultPart = { type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text }] };
    events.append(session.id, 'tool.started', { ...base, input: call.input });
    events.append(session.id, 'tool.failed', { ...base, input: call.input, result, error: { code: ErrorCodes.ToolFailed, message: text.slice(0, 500) } });
    return result;
  }

  private async runTool(session: SessionRecord, turnId: string, call: ToolUsePart, signal: AbortSignal, reason: () => string): Promise<ToolResultPart> {
    const { events } = this.core;
    const base = { turnId, callId: call.id, tool: call.name };
    events.append(session.id, 'tool.started', { ...base, input: call.input });
    let result: ToolResultPart;
    let done = false;
    try {
      result = await untilAborted(this.core.tools.execute(
        { id: call.id, name: call.name, input: call.input },
        { session, turnId, signal, output: (stream, text) => { if (!signal.aborted || !done) events.append(session.id, 'tool.output', { ...base, stream, text }); } },
      ), signal);
    } catch (err) {
      result = signal.aborted && err instanceof RpcError
        ? { type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text: 'Cancelled: the tool did not stop in time' }] }
        : { type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text: `Tool failed: ${(err as Error)?.message ?? String(err)}` }] };
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
