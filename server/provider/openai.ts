/**
 * Providers of type `openai-compatible`, through the official `openai` SDK's streaming Chat
 * Completions API: OpenAI itself (built-in id `openai`), any endpoint configured under
 * `providers.<id>` (Ollama, llama.cpp's llama-server, vLLM, LM Studio, OpenRouter, ...) and the
 * local servers found on loopback (server/provider/detect.ts).
 *
 * - Credential, looked up on every call: a key stored with `provider/auth`, else
 *   `providers.<id>.apiKey`, else (`openai` only) `OPENAI_API_KEY`. Without one no
 *   Authorization header is sent (local servers need none); only `openai` at its default
 *   URL refuses to call without a key (Unauthorized).
 * - Nothing is taken from the environment for other providers: the SDK's own defaults
 *   (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, ...) are passed explicitly, so a
 *   router never receives the OpenAI key.
 * - Retries: the SDK's (429, 408, 409, 5xx, connection errors; exponential backoff honouring
 *   `retry-after-ms` / `retry-after`), `providers.<id>.maxRetries` (default 3).
 * - Reasoning deltas (`delta.reasoning_content`, `delta.reasoning`) are dropped on purpose, as
 *   Anthropic's thinking blocks are: neither is stored or streamed (README, Providers).
 * - Models: `GET /models`, fetched on first use and cached (a failure for 30 s);
 *   `refresh` fetches again; configured `models` stand in when the endpoint has none.
 */
import { sdkLogger } from './sdk-logger.js';
import type OpenAI from 'openai';
import type { ContentPart, Message, ModelInfo, Provider, ProviderConfig, Tool, Usage } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import type { CredentialStore } from './credentials.js';
import type { ModelProvider, ProviderRequest, ProviderResponse, StreamEvent } from './types.js';

/** The SDK, loaded on the first model call or model listing rather than at start (cold start, bench/). */
let Sdk: typeof OpenAI | undefined;
const loadSdk = async () => (Sdk ??= (await import('openai')).default);

type Params = OpenAI.Chat.ChatCompletionCreateParamsStreaming;
type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;

import { DEFAULT_MAX_RETRIES } from '../config/defaults.js';

export const OPENAI_DEFAULT_URL = 'https://api.openai.com/v1';
/** Offered by `openai` until its `GET /models` was read (it needs a key); any model id the API accepts may be used. */
export const OPENAI_MODELS = ['gpt-5', 'gpt-5-mini', 'gpt-4.1', 'gpt-4o-mini'];
/** `GET /models` may take this long (it is awaited by provider/list and session/create). */
const MODELS_TIMEOUT_MS = 5000;
/** A failed `GET /models` is not tried again for this long (unless refreshed). */
const MODELS_RETRY_MS = 30_000;
/** At most this many models are kept from one endpoint. */
const MAX_MODELS = 1000;
/** The SDK needs some key; with this one the Authorization header is removed (see client()). */
const NO_KEY = 'agentd-no-key';

export type OpenAIKind = 'builtin' | 'config' | 'detected';

export interface OpenAISpec {
  id: string;
  kind: OpenAIKind;
  /** Display name when the config gives none. */
  name: string;
  /** The fixed endpoint of a detected server (loopback). */
  baseUrl?: string;
  /** Models seen when the server was detected (its `GET /v1/models` answer). */
  models?: ModelInfo[];
}

/** What the provider needs from the rest of the server. */
export interface OpenAIDeps {
  /** `providers.<id>` of the effective config, read on every call (config/update applies at once). */
  settings(): ProviderConfig;
  credentials: Pick<CredentialStore, 'get'>;
  log: Logger;
}

/** An endpoint's `/models` entry as far as we read it (the SDK's Model plus fields some servers add). */
type RawModel = { id?: unknown; name?: unknown; context_length?: unknown; context_window?: unknown; max_model_len?: unknown; meta?: { n_ctx?: unknown } };

const posInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

/** One `/models` entry as a ModelInfo (the context window where the server says it: OpenRouter, Groq, vLLM, llama.cpp). */
export function modelOf(raw: RawModel): ModelInfo | undefined {
  if (typeof raw?.id !== 'string' || !raw.id) return undefined;
  const contextWindow = posInt(raw.context_length) ?? posInt(raw.context_window) ?? posInt(raw.max_model_len) ?? posInt(raw.meta?.n_ctx);
  return { id: raw.id, name: typeof raw.name === 'string' && raw.name ? raw.name : raw.id, ...(contextWindow ? { contextWindow } : {}) };
}

/** A URL without user:password, for display and messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export class OpenAICompatibleProvider implements ModelProvider {
  readonly id: string;
  private endpointModels?: ModelInfo[];
  private modelsError?: string;
  private failedAt = 0;
  private inflight?: Promise<void>;

  constructor(readonly spec: OpenAISpec, private deps: OpenAIDeps) {
    this.id = spec.id;
    if (spec.models?.length) this.endpointModels = spec.models;
  }

  private settings(): ProviderConfig {
    return this.deps.settings();
  }

  baseUrl(): string {
    const s = this.settings();
    if (this.spec.kind === 'detected') return this.spec.baseUrl!;
    if (this.spec.kind === 'builtin') return s.baseUrl ?? process.env.OPENAI_BASE_URL ?? OPENAI_DEFAULT_URL;
    return s.baseUrl ?? '';
  }

  /** The key and where it came from; undefined: none (no Authorization header). */
  private key(): { key: string; source: 'apiKey' | 'config' | 'env' } | undefined {
    const cred = this.deps.credentials.get(this.id);
    if (cred?.type === 'apiKey') return { key: cred.apiKey, source: 'apiKey' };
    const s = this.settings();
    if (s.apiKey) return { key: s.apiKey, source: 'config' };
    if (this.spec.kind === 'builtin' && process.env.OPENAI_API_KEY) return { key: process.env.OPENAI_API_KEY, source: 'env' };
    return undefined;
  }

  /** OpenAI's own endpoint needs a key; every other endpoint is tried without one. */
  private needsKey() {
    return this.spec.kind === 'builtin' && this.baseUrl().replace(/\/$/, '') === OPENAI_DEFAULT_URL;
  }

  /** The models with details: the endpoint's list (configured names and context windows win), else the configured list. */
  private models(): { list: ModelInfo[]; source: NonNullable<Provider['modelsSource']> } {
    const configured = (this.settings().models ?? []).map((m): ModelInfo => (typeof m === 'string' ? { id: m, name: m } : { id: m.id, name: m.name ?? m.id, ...(m.contextWindow ? { contextWindow: m.contextWindow } : {}) }));
    const byId = new Map(configured.map((m) => [m.id, m]));
    if (this.endpointModels) {
      return { list: this.endpointModels.map((m) => { const c = byId.get(m.id); return c ? { ...m, ...c, name: c.name !== c.id ? c.name : m.name, contextWindow: c.contextWindow ?? m.contextWindow } : m; }).map((m) => (m.contextWindow ? m : { id: m.id, name: m.name })), source: 'endpoint' };
    }
    if (configured.length) return { list: configured, source: 'config' };
    if (this.spec.kind === 'builtin') return { list: OPENAI_MODELS.map((id) => ({ id, name: id })), source: 'builtin' };
    return { list: [], source: 'none' };
  }

  info(): Provider {
    const s = this.settings();
    const key = this.key();
    const { list, source } = this.models();
    const authenticated = !!key || !this.needsKey();
    return {
      id: this.id,
      name: s.name ?? this.spec.name,
      type: 'openai-compatible',
      baseUrl: displayUrl(this.baseUrl()),
      models: list.map((m) => m.id),
      modelInfo: list,
      modelsSource: source,
      ...(this.modelsError && source !== 'endpoint' ? { modelsError: this.modelsError } : {}),
      defaultModel: s.defaultModel ?? list[0]?.id ?? '',
      authenticated,
      authSource: key?.source ?? (authenticated ? 'none' : null),
      authMethods: this.needsKey() ? ['apiKey'] : ['none', 'apiKey'],
      ...(this.spec.kind === 'detected' ? { detected: true } : {}),
    };
  }

  /**
   * Fetches `GET /models` unless already known (`force`: fetch again). Never throws: a failure
   * is remembered in `modelsError` and the configured models stand in.
   */
  loadModels(force = false): Promise<void> {
    if (!force && (this.endpointModels || Date.now() - this.failedAt < MODELS_RETRY_MS)) return Promise.resolve();
    // OpenAI itself lists models only with a key: without one, nothing is sent.
    if (!this.key() && this.needsKey()) return Promise.resolve();
    this.inflight ??= this.fetchModels().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async fetchModels() {
    try {
      await loadSdk();
      const client = this.client(this.key()?.key);
      const out: ModelInfo[] = [];
      const page = await client.models.list({ timeout: MODELS_TIMEOUT_MS, maxRetries: 0 });
      for (const raw of page.data as RawModel[]) {
        const m = modelOf(raw);
        if (m && out.length < MAX_MODELS) out.push(m);
      }
      this.endpointModels = out;
      this.modelsError = undefined;
      this.failedAt = 0;
    } catch (err) {
      this.endpointModels = undefined;
      this.failedAt = Date.now();
      this.modelsError = this.error(err, new AbortController().signal).message;
      this.deps.log.debug({ provider: this.id, reason: this.modelsError }, 'GET /models failed');
    }
  }

  /** Whether a session may use `model`: false only when a list is known and it is not on it. */
  async checkModel(model: string): Promise<boolean> {
    await this.loadModels();
    const { list, source } = this.models();
    return source === 'none' || source === 'builtin' || list.some((m) => m.id === model);
  }

  private client(key: string | undefined): OpenAI {
    const s = this.settings();
    const logger = sdkLogger(this.deps.log, this.id);
    // loadSdk() ran before any client is asked for.
    return new Sdk!({
      apiKey: key ?? NO_KEY,
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: this.baseUrl(),
      maxRetries: s.maxRetries ?? DEFAULT_MAX_RETRIES,
      logger,
      logLevel: 'info',
      // A null header is removed by the SDK: no `Authorization: Bearer agentd-no-key` on the wire.
      defaultHeaders: { ...(s.headers ?? {}), ...(key ? {} : { Authorization: null }) },
    });
  }

  async stream(req: ProviderRequest, emit: (e: StreamEvent) => void): Promise<ProviderResponse> {
    const { signal } = req;
    if (signal.aborted) throw RpcError.cancelled();
    const key = this.key();
    if (!key && this.needsKey()) throw RpcError.unauthorized(`no credential for provider ${this.id}: call provider/auth or set OPENAI_API_KEY`);
    if (!this.baseUrl()) throw RpcError.provider(`provider ${this.id} has no baseUrl`, { provider: this.id, type: 'config_error' });
    await loadSdk();
    const s = this.settings();
    const params: Params = {
      model: req.model,
      messages: toOpenAIMessages(req.system, req.messages),
      stream: true,
      stream_options: { include_usage: true },
      // Only when configured: servers differ in their limits and OpenAI's newer models refuse max_tokens.
      ...(s.maxTokens ? { max_tokens: s.maxTokens } : {}),
      ...(req.tools.length ? { tools: req.tools.map(toOpenAITool) } : {}),
    };
    /** Tool calls by the `index` the endpoint gives them: our content index once the name is known. */
    const calls = new Map<number, { index?: number; id?: string; name?: string; pending: string }>();
    let next = 0;
    let textIndex: number | undefined;
    const open = new Set<number>();
    let finish: string | null = null;
    let usage: Usage | undefined;
    try {
      const stream = await this.client(key?.key).chat.completions.create(params, { signal });
      for await (const chunk of stream) {
        if (chunk.usage) usage = usageOf(chunk.usage);
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta ?? {};
        if (typeof delta.content === 'string' && delta.content) {
          if (textIndex === undefined) {
            textIndex = next++;
            open.add(textIndex);
            emit({ type: 'block_start', index: textIndex, part: { type: 'text', text: '' } });
          }
          emit({ type: 'text_delta', index: textIndex, text: delta.content });
        }
        for (const tc of delta.tool_calls ?? []) {
          const k = typeof tc.index === 'number' ? tc.index : calls.size;
          let c = calls.get(k);
          if (!c) calls.set(k, (c = { pending: '' }));
          if (tc.id) c.id ??= tc.id;
          // id and name arrive once, with the call's first chunk; arguments in pieces.
          if (tc.function?.name && !c.name) c.name = tc.function.name;
          if (tc.function?.arguments) c.pending += tc.function.arguments;
          if (c.index === undefined && c.name) {
            // Text after a tool call opens a new text block.
            textIndex = undefined;
            c.index = next++;
            open.add(c.index);
            emit({ type: 'block_start', index: c.index, part: { type: 'tool_use', id: c.id ?? `call_${this.id}_${Date.now().toString(36)}_${k}`, name: c.name, input: {} } });
          }
          if (c.index !== undefined && c.pending) {
            emit({ type: 'input_json_delta', index: c.index, partialJson: c.pending });
            c.pending = '';
          }
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    } catch (err) {
      throw this.error(err, signal, req.model);
    }
    if (signal.aborted) throw RpcError.cancelled();
    if (finish === null) throw RpcError.provider(`${this.name()} stream ended before a finish_reason (connection lost)`, { provider: this.id, type: 'incomplete_stream' });
    for (const i of open) emit({ type: 'block_stop', index: i });
    const ran = [...calls.values()].some((c) => c.index !== undefined);
    // Some servers end a reply with tool calls with `stop`: the calls decide.
    const stopReason = finish === 'tool_calls' || finish === 'function_call' || (finish === 'stop' && ran) ? 'tool_use'
      : finish === 'stop' ? 'end_turn' : finish === 'length' ? 'max_tokens' : finish;
    return { stopReason, ...(usage ? { usage } : {}) };
  }

  private name() {
    return this.settings().name ?? this.spec.name;
  }

  /** Any failure as a typed RpcError; messages carry the endpoint's error text, never the credential. */
  private error(err: unknown, signal: AbortSignal, model?: string): RpcError {
    if (err instanceof RpcError) return err;
    if (signal.aborted) return RpcError.cancelled();
    const O = Sdk; // loaded before any SDK call, so SDK errors imply it is set
    const name = this.name();
    const url = displayUrl(this.baseUrl());
    if (O && err instanceof O.APIUserAbortError) return RpcError.cancelled();
    if (O && err instanceof O.APIConnectionError) {
      const timeout = err instanceof O.APIConnectionTimeoutError;
      const cause = causeCode(err);
      const why = timeout ? 'timed out' : cause === 'ECONNREFUSED' ? 'connection refused' : cause ?? err.message;
      return RpcError.provider(`${name}: could not reach ${url} (${why})`, { provider: this.id, type: timeout ? 'timeout' : 'connection_error' });
    }
    if (O && err instanceof O.APIError) {
      const body = err.error as { message?: string; type?: string; code?: string } | undefined;
      const detail = (body?.message ?? err.message).slice(0, 2000);
      const type = err.type ?? body?.type ?? (typeof err.code === 'string' ? err.code : undefined) ?? 'api_error';
      const status = err.status;
      // Ollama: "<model> does not support tools"; vLLM: "auto" tool choice requires --enable-auto-tool-choice; llama-server: tools need --jinja.
      if (model && (status === 400 || status === 500) && /\btools?\b|tool[ _]choice|function call/i.test(detail)) {
        return RpcError.provider(`${name}: model ${model} does not accept tools at ${url}: ${detail}`, { provider: this.id, ...(status ? { status } : {}), type: 'tools_unsupported' });
      }
      return RpcError.provider(`${name} API error${status ? ` ${status}` : ''} (${type}): ${detail}`, { provider: this.id, ...(status ? { status } : {}), type });
    }
    // The body stream broke (socket closed mid-way) or the SDK failed otherwise.
    const msg = (err as Error)?.message ?? String(err);
    return RpcError.provider(`${name} stream failed: ${msg}`, { provider: this.id, type: 'stream_error' });
  }
}

/** The system error code under an SDK connection error (`ECONNREFUSED`, `ENOTFOUND`, ...). */
function causeCode(err: unknown): string | undefined {
  for (let e = err as { cause?: unknown; code?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  }
  return undefined;
}

function usageOf(u: OpenAI.CompletionUsage): Usage {
  const out: Usage = {};
  // prompt_tokens includes the cached ones; Usage counts them apart, as Anthropic does (no overlap).
  const cached = u.prompt_tokens_details?.cached_tokens;
  const cachedN = typeof cached === 'number' && cached > 0 ? cached : 0;
  if (typeof u.prompt_tokens === 'number') out.inputTokens = Math.max(0, u.prompt_tokens - cachedN);
  if (typeof u.completion_tokens === 'number') out.outputTokens = u.completion_tokens;
  if (cachedN) out.cacheReadInputTokens = cachedN;
  return out;
}

export function toOpenAITool(t: Tool): OpenAI.Chat.ChatCompletionTool {
  return { type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema as OpenAI.FunctionParameters } };
}

const textOf = (parts: ContentPart[]) => parts.map((p) => (p.type === 'text' ? p.text : p.type === 'image' ? '[image]' : '')).join('');

/**
 * The conversation as Chat Completions takes it: the system prompt first; an assistant
 * message's tool_use parts become `tool_calls` (only those answered in the next message: calls
 * of an interrupted turn are dropped), each tool_result a `role: "tool"` message with its
 * `tool_call_id`, right after that assistant message; images as data URLs.
 */
export function toOpenAIMessages(system: string | undefined, history: Message[]): ChatMessage[] {
  const out: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  for (let i = 0; i < history.length; i++) {
    const m = history[i];
    if (m.role === 'assistant') {
      const answered = new Set(history[i + 1]?.role === 'user' ? history[i + 1].content.flatMap((p) => (p.type === 'tool_result' ? [p.toolUseId] : [])) : []);
      const text = textOf(m.content.filter((p) => p.type === 'text'));
      const toolCalls = m.content.flatMap((p) => (p.type === 'tool_use' && answered.has(p.id) ? [{ id: p.id, type: 'function' as const, function: { name: p.name, arguments: JSON.stringify(p.input ?? {}) } }] : []));
      if (!text && !toolCalls.length) continue;
      out.push({ role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) });
      continue;
    }
    const prev = history[i - 1];
    const asked = new Set(prev?.role === 'assistant' ? prev.content.flatMap((p) => (p.type === 'tool_use' ? [p.id] : [])) : []);
    for (const p of m.content) {
      if (p.type === 'tool_result' && asked.has(p.toolUseId)) {
        const text = textOf(p.content);
        out.push({ role: 'tool', tool_call_id: p.toolUseId, content: p.isError ? `Error: ${text}` : text || '(no output)' });
      }
    }
    const rest = m.content.filter((p) => p.type === 'text' || p.type === 'image');
    if (!rest.some((p) => p.type === 'image')) {
      const text = textOf(rest);
      if (text) out.push({ role: 'user', content: text });
    } else {
      out.push({
        role: 'user',
        content: rest.flatMap((p): OpenAI.Chat.ChatCompletionContentPart[] => (p.type === 'text' ? (p.text ? [{ type: 'text', text: p.text }] : [])
          : p.type === 'image' ? [{ type: 'image_url', image_url: { url: `data:${p.mediaType};base64,${p.data}` } }] : [])),
      });
    }
  }
  return out;
}
