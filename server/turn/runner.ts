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
    let session = this.core.sessions.record(sessionId);
    // Left running by a process that died: end that turn as interrupted, then go on.
    if (session.status === 'running' && !this.active.has(sessionId) && this.core.recovery.recoverSession(sessionId)) session = this.core.sessions.record(sessionId);
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
    const provider = core.providers.get(session.provider);
    const maxSteps = core.config.limits().maxSteps;
    const usage: Required<Pick<Usage, 'inputTokens' | 'outputTokens'>> = { inputTokens: 0, outputTokens: 0 };
    let assistant: Message | undefined;

    try {
      for (let step = 1; ; step++) {
        assistant = { id: newId('msg'), sessionId: sid, turnId, role: 'assistant', content: [], status: 'streaming', createdAt: now() };
        events.append(sid, 'message.created', { message: assistant });
        const res = await provider.stream(
          { model: session.model, messages: history, tools: core.tools.list(session), signal, maxTokens: core.providerMaxTokens(session.provider) },
          this.collector(assistant, turnId),
        );
        if (signal.aborted) throw RpcError.cancelled();
        usage.inputTokens += res.usage?.inputTokens ?? 0;
        usage.outputTokens += res.usage?.outputTokens ?? 0;
        assistant.status = 'complete';
        assistant.stopReason = res.stopReason;
        if (res.usage) assistant.usage = res.usage;
        store.putMessage(assistant);
        events.append(sid, 'message.completed', { message: assistant });
        history.push(assistant);

        const calls = assistant.content.filter((p): p is ToolUsePart => p.type === 'tool_use');
        if (res.stopReason !== 'tool_use' || calls.length === 0) {
          events.append(sid, 'turn.completed', { turnId, messageId: assistant.id, stopReason: res.stopReason, usage });
          return assistant;
        }
        if (step >= maxSteps) {
          events.append(sid, 'turn.completed', { turnId, messageId: assistant.id, stopReason: 'step_limit', usage });
          return assistant;
        }
        const results: ToolResultPart[] = [];
        for (const call of calls) results.push(await this.runTool(session, turnId, call, signal));
        const toolMessage: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: results, status: 'complete', createdAt: now() };
        store.putMessage(toolMessage);
        events.append(sid, 'message.created', { message: toolMessage });
        history.push(toolMessage);
        assistant = undefined;
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
      const messageId = assistant?.id ?? null;
      // Tool calls left without results would make the history unusable for the next turn.
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
  private collector(msg: Message, turnId: string) {
    const json = new Map<number, string>();
    const { events } = this.core;
    return (e: StreamEvent) => {
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
            try {
              part.input = raw.trim() ? (JSON.parse(raw) as Record<string, unknown>) : {};
            } catch {
              part.input = {};
            }
          }
          break;
        }
      }
    };
  }

  private async runTool(session: SessionRecord, turnId: string, call: ToolUsePart, signal: AbortSignal): Promise<ToolResultPart> {
    const { events } = this.core;
    const base = { turnId, callId: call.id, tool: call.name };
    events.append(session.id, 'tool.started', { ...base, input: call.input });
    let result: ToolResultPart;
    try {
      result = await this.core.tools.execute(
        { id: call.id, name: call.name, input: call.input },
        { session, turnId, signal, output: (stream, text) => events.append(session.id, 'tool.output', { ...base, stream, text }) },
      );
    } catch (err) {
      if (signal.aborted) throw RpcError.cancelled();
      result = { type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text: `Tool failed: ${(err as Error)?.message ?? String(err)}` }] };
    }
    if (signal.aborted) throw RpcError.cancelled();
    if (result.isError) {
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      events.append(session.id, 'tool.failed', { ...base, result, error: { code: ErrorCodes.InternalError, message: text.slice(0, 500) || 'tool failed' } });
    } else events.append(session.id, 'tool.completed', { ...base, result });
    return result;
  }
}
