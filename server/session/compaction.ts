/**
 * Compaction: the session's model summarizes the conversation so far; the summary is stored as
 * a user message of kind `summary`, and from then on the model receives the summary plus the
 * messages after it (modelHistory). The whole history stays in the store and readable through
 * the session methods. session/compact asks for it; a turn asks for it on its own when a model
 * call's input passes `compaction.threshold` of the model's context window.
 */
import type { Message, SessionCompactResult, Usage } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import { addCost, addUsage, costOf } from '../provider/models.js';
import type { ProviderRegistry } from '../provider/registry.js';
import type { ToolHost } from '../tools/host.js';
import { RpcError } from '../rpc/errors.js';
import type { SessionRecord, Store } from '../store/store.js';
import { newId, now } from './ids.js';
import { factsOf, requireSession } from './service.js';

/** What the model is asked for. */
const INSTRUCTION = [
  'Summarize this conversation so far for yourself, to continue the work from the summary alone:',
  'the goal, what was done (files read and changed, commands run and their results), decisions and their reasons,',
  'open questions, and what remains to do. Be specific (paths, names, numbers); leave out pleasantries. Reply with the summary only.',
].join(' ');
export const SUMMARY_PREFIX = 'Summary of the conversation so far:\n\n';
/** A summary longer than this is cut (bounded whatever the model sends). */
const MAX_SUMMARY_CHARS = 100_000;

/** Tokens of a text, estimated (4 characters a token). */
const estimate = (chars: number) => Math.ceil(chars / 4);
const textOf = (m: Message) => m.content.map((c) => (c.type === 'text' ? c.text : c.type === 'tool_result' ? c.content.map((x) => (x.type === 'text' ? x.text : '')).join('') : c.type === 'tool_use' ? JSON.stringify(c.input) : '')).join('');

/**
 * What the model receives of a stored history: reverted messages left out; from the last summary
 * on (the summary and what follows it) when there is one.
 */
export function modelHistory(messages: Message[]): Message[] {
  const live = messages.filter((m) => !m.reverted);
  let at = -1;
  for (let i = live.length - 1; i >= 0; i--) if (live[i].kind === 'summary') { at = i; break; }
  return at < 0 ? live : live.slice(at);
}

export interface CompactorDeps {
  store: Pick<Store, 'getSession' | 'listMessages' | 'putMessage' | 'patchSession'>;
  events: Pick<EventLog, 'append'>;
  config: Pick<ConfigService, 'get' | 'compaction'>;
  providers: Pick<ProviderRegistry, 'get' | 'has' | 'ready'>;
  tools: Pick<ToolHost, 'list'>;
  /** Whether a turn of the session runs now (session/compact waits for none: it refuses). */
  busy(sessionId: string): boolean;
}

export class Compactor {
  constructor(private deps: CompactorDeps) {}

  /** Whether a model call that used `inputTokens` should make the turn compact before its next call. */
  due(session: SessionRecord, inputTokens: number): boolean {
    const c = this.deps.config.compaction();
    if (!c.auto) return false;
    const window = factsOf(this.deps.config, session.provider, session.model).contextWindow;
    return !!window && inputTokens > c.threshold * window;
  }

  /** session/compact. */
  async compactSession(sessionId: string, signal?: AbortSignal): Promise<SessionCompactResult> {
    const session = await requireSession(this.deps.store, sessionId);
    if (this.deps.busy(sessionId) || session.status === 'running') throw RpcError.busy(sessionId, session.activeTurnId);
    const history = modelHistory(await this.deps.store.listMessages(sessionId)).filter((m) => m.status !== 'streaming');
    if (!history.length || (history.length === 1 && history[0].kind === 'summary')) throw RpcError.conflict('nothing to compact (no messages since the last summary)', { sessionId });
    const before = session.context?.usedTokens || estimate(history.reduce((n, m) => n + textOf(m).length, 0));
    const { message, tokensAfter } = await this.summarize(session, history, signal ?? new AbortController().signal, null, before);
    return { sessionId, summaryMessageId: message.id, tokensBefore: before, tokensAfter };
  }

  /**
   * Asks the model for a summary of `history`, stores it (kind `summary`) and announces
   * `session.compacted`; the caller's history becomes [summary].
   */
  async summarize(session: SessionRecord, history: Message[], signal: AbortSignal, turnId: string | null, tokensBefore: number): Promise<{ message: Message; tokensAfter: number }> {
    const { store, events, providers } = this.deps;
    if (!providers.has(session.provider)) await providers.ready();
    const provider = providers.get(session.provider);
    const ask: Message = { id: newId('msg'), sessionId: session.id, turnId, role: 'user', content: [{ type: 'text', text: INSTRUCTION }], status: 'complete', createdAt: now() };
    let text = '';
    const res = await provider.stream({
      model: session.model, system: 'You summarize a coding-agent conversation so the agent can continue from the summary alone.',
      messages: [...history, ask], tools: this.deps.tools.list(session), signal, maxTokens: this.deps.config.get().providers?.[session.provider]?.maxTokens ?? 4096,
      purpose: 'summary',
    }, (e) => {
      if (e.type === 'text_delta' && text.length < MAX_SUMMARY_CHARS) text += e.text;
      else if (e.type === 'block_start' && e.part.type === 'text' && text.length < MAX_SUMMARY_CHARS) text += e.part.text;
    });
    if (signal.aborted) throw RpcError.cancelled();
    text = text.trim().slice(0, MAX_SUMMARY_CHARS);
    if (!text) throw RpcError.provider('Compaction failed: the model returned no summary', { provider: session.provider });
    const message: Message = {
      id: newId('msg'), sessionId: session.id, turnId, role: 'user', kind: 'summary', content: [{ type: 'text', text: SUMMARY_PREFIX + text }], status: 'complete', createdAt: now(),
    };
    await store.putMessage(message);
    void events.append(session.id, 'message.created', { message });
    const tokensAfter = estimate(message.content.reduce((n, c) => n + (c.type === 'text' ? c.text.length : 0), 0));
    await this.account(session, res.usage, tokensAfter);
    void events.append(session.id, 'session.compacted', { summaryMessageId: message.id, tokensBefore, tokensAfter, ...(turnId ? { turnId } : {}) });
    return { message, tokensAfter };
  }

  /** The summary call counts in the session's totals; the context is now about the summary's size. */
  private async account(session: SessionRecord, usage: Usage | undefined, tokensAfter: number) {
    const price = factsOf(this.deps.config, session.provider, session.model).price;
    await this.deps.store.patchSession(session.id, (r) => ({
      ...r, usage: addUsage(r.usage, usage), costUsd: addCost(r.costUsd ?? null, costOf(usage ?? {}, price)),
      context: { usedTokens: tokensAfter, windowTokens: r.context?.windowTokens ?? null },
    }));
  }
}
