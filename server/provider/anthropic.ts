/**
 * The Anthropic provider, through the official SDK's streaming Messages API.
 *
 * - Credential, looked up on every call (so `provider/auth` takes effect at once): the stored
 *   API key, else stored OAuth tokens (refreshed first when expired), else `ANTHROPIC_API_KEY`.
 * - Base URL: `providers.anthropic.baseUrl` in the config, else `ANTHROPIC_BASE_URL`, else the SDK's.
 * - Retries: 429, 529 and other 5xx (and 408/409) are retried by the SDK with exponential backoff,
 *   honouring `retry-after` / `retry-after-ms`; `providers.anthropic.maxRetries` (default 3).
 * - Failures become typed errors: ProviderError with `{ provider, status, type }`, Unauthorized
 *   without a credential, RequestCancelled when the request signal aborts.
 */
import { sdkLogger } from './sdk-logger.js';
import type Anthropic from '@anthropic-ai/sdk';
import type { ContentPart, Message, Provider, Tool, Usage } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import { DEFAULT_MAX_RETRIES, DEFAULT_MAX_TOKENS } from '../config/defaults.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import type { CredentialStore } from './credentials.js';
import type { OAuthService } from './oauth.js';
import type { ModelProvider, ProviderRequest, ProviderResponse, StreamEvent } from './types.js';

/** The SDK, loaded on the first model call rather than at start (cold start, bench/). */
let Sdk: typeof Anthropic | undefined;
const loadSdk = async () => (Sdk ??= (await import('@anthropic-ai/sdk')).default);

type Params = Anthropic.MessageCreateParamsStreaming;
type BlockParam = Anthropic.ContentBlockParam;

/** Models offered in provider/list (any model id the API accepts may be set per session). */
export const ANTHROPIC_MODELS = ['claude-sonnet-4-6', 'claude-opus-4-7', 'claude-opus-4-6', 'claude-haiku-4-5'];
const DEFAULT_MODEL = 'claude-sonnet-4-6';

/** HTTP statuses of the error types Anthropic sends inside a stream (`event: error`). */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400, authentication_error: 401, permission_error: 403, not_found_error: 404,
  request_too_large: 413, rate_limit_error: 429, api_error: 500, overloaded_error: 529,
};

export interface AnthropicDeps {
  config: ConfigService;
  credentials: CredentialStore;
  oauth: OAuthService;
  log: Logger;
}

type Auth = { apiKey: string; authToken: null } | { apiKey: null; authToken: string };

export class AnthropicProvider implements ModelProvider {
  readonly id = 'anthropic';

  constructor(private deps: AnthropicDeps) {}

  private settings() {
    return this.deps.config.get().providers?.anthropic ?? {};
  }

  info(): Provider {
    const cred = this.deps.credentials.get(this.id);
    const env = !!process.env.ANTHROPIC_API_KEY;
    const authSource = cred?.type === 'apiKey' ? 'apiKey' : cred?.type === 'oauth' ? 'oauth' : env ? 'env' : null;
    return {
      id: this.id,
      name: 'Anthropic',
      type: 'anthropic',
      models: ANTHROPIC_MODELS,
      modelInfo: ANTHROPIC_MODELS.map((id) => ({ id, name: id })),
      modelsSource: 'builtin',
      defaultModel: this.settings().defaultModel ?? DEFAULT_MODEL,
      authenticated: authSource !== null,
      authSource,
      authMethods: this.deps.oauth.settings(this.id) ? ['apiKey', 'oauth'] : ['apiKey'],
    };
  }

  private async auth(signal: AbortSignal): Promise<Auth> {
    const cred = this.deps.credentials.get(this.id);
    if (cred?.type === 'apiKey') return { apiKey: cred.apiKey, authToken: null };
    if (cred?.type === 'oauth') {
      const token = await this.deps.oauth.accessToken(this.id, signal);
      if (token) return { apiKey: null, authToken: token };
    }
    const env = process.env.ANTHROPIC_API_KEY;
    if (env) return { apiKey: env, authToken: null };
    throw RpcError.unauthorized('no credential for provider anthropic: call provider/auth or set ANTHROPIC_API_KEY');
  }

  private client(auth: Auth): Anthropic {
    const s = this.settings();
    const logger = sdkLogger(this.deps.log, this.id);
    // stream() loads the SDK before it asks for a client.
    return new Sdk!({
      ...auth,
      baseURL: s.baseUrl ?? process.env.ANTHROPIC_BASE_URL ?? null,
      maxRetries: s.maxRetries ?? DEFAULT_MAX_RETRIES,
      logger,
      logLevel: 'info',
      ...(auth.authToken ? { defaultHeaders: { 'anthropic-beta': 'oauth-2025-04-20' } } : {}),
    });
  }

  /**
   * messages.create() prints model deprecation warnings with console.warn (not through its
   * `logger` option), synchronously before it returns. console.warn is pointed at our logger for
   * exactly that synchronous call, so nothing it prints bypasses the structured log.
   */
  private create(auth: Auth, params: Params, signal: AbortSignal) {
    const client = this.client(auth);
    const log = this.deps.log;
    const warn = console.warn;
    console.warn = (...args: unknown[]) => log.warn({ provider: this.id, model: params.model }, args.map(String).join(' '));
    try {
      return client.messages.create(params, { signal });
    } finally {
      console.warn = warn;
    }
  }

  async stream(req: ProviderRequest, emit: (e: StreamEvent) => void): Promise<ProviderResponse> {
    const { signal } = req;
    if (signal.aborted) throw RpcError.cancelled();
    const auth = await this.auth(signal);
    await loadSdk();
    const params: Params = {
      model: req.model,
      max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS,
      messages: toAnthropicMessages(req.messages),
      stream: true,
      ...(req.system ? { system: req.system } : {}),
      ...(req.tools.length ? { tools: req.tools.map(toAnthropicTool) } : {}),
    };
    // Anthropic block index → our content index: blocks we do not keep (thinking, server tools) leave no hole.
    const index = new Map<number, number>();
    let next = 0;
    let stopReason: string | null = null;
    let stopped = false;
    const usage: Usage = {};
    try {
      const stream = await this.create(auth, params, signal);
      for await (const ev of stream) {
        switch (ev.type) {
          case 'message_start':
            addUsage(usage, ev.message.usage);
            break;
          case 'content_block_start': {
            const b = ev.content_block;
            if (b.type === 'text') {
              index.set(ev.index, next);
              emit({ type: 'block_start', index: next++, part: { type: 'text', text: '' } });
              if (b.text) emit({ type: 'text_delta', index: index.get(ev.index)!, text: b.text });
            } else if (b.type === 'tool_use') {
              index.set(ev.index, next);
              emit({ type: 'block_start', index: next++, part: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
            }
            break;
          }
          case 'content_block_delta': {
            const i = index.get(ev.index);
            if (i === undefined) break;
            if (ev.delta.type === 'text_delta') emit({ type: 'text_delta', index: i, text: ev.delta.text });
            else if (ev.delta.type === 'input_json_delta') emit({ type: 'input_json_delta', index: i, partialJson: ev.delta.partial_json });
            break;
          }
          case 'content_block_stop': {
            const i = index.get(ev.index);
            if (i !== undefined) emit({ type: 'block_stop', index: i });
            break;
          }
          case 'message_delta':
            stopReason = ev.delta.stop_reason ?? stopReason;
            addUsage(usage, ev.usage);
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
    } catch (err) {
      throw this.error(err, signal);
    }
    if (signal.aborted) throw RpcError.cancelled();
    if (!stopped) throw RpcError.provider('Anthropic stream ended before message_stop (connection lost)', { provider: this.id, type: 'incomplete_stream' });
    return { stopReason, usage };
  }

  /** Any failure as a typed RpcError; messages carry the API's error text, never the credential. */
  private error(err: unknown, signal: AbortSignal): RpcError {
    if (err instanceof RpcError) return err;
    if (signal.aborted) return RpcError.cancelled();
    const A = Sdk; // loaded before any SDK call, so SDK errors imply it is set
    if (A && err instanceof A.APIUserAbortError) return RpcError.cancelled();
    if (A && err instanceof A.APIConnectionError) {
      return RpcError.provider(`Anthropic connection failed: ${err.message}`, { provider: this.id, type: err instanceof A.APIConnectionTimeoutError ? 'timeout' : 'connection_error' });
    }
    if (A && err instanceof A.APIError) {
      const body = err.error as { error?: { type?: string; message?: string } } | undefined;
      const type = err.type ?? body?.error?.type ?? 'api_error';
      const status = err.status ?? STATUS_OF_TYPE[type];
      const detail = body?.error?.message ?? err.message;
      return RpcError.provider(`Anthropic API error${status ? ` ${status}` : ''} (${type}): ${detail}`, { provider: this.id, ...(status ? { status } : {}), type });
    }
    // The body stream broke (socket closed mid-way) or the SDK failed otherwise.
    const msg = (err as Error)?.message ?? String(err);
    return RpcError.provider(`Anthropic stream failed: ${msg}`, { provider: this.id, type: 'stream_error' });
  }
}

function addUsage(u: Usage, src: Partial<Record<'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens', number | null>> | undefined) {
  if (!src) return;
  // Anthropic's counts are cumulative: the latest value wins.
  if (typeof src.input_tokens === 'number') u.inputTokens = src.input_tokens;
  if (typeof src.output_tokens === 'number') u.outputTokens = src.output_tokens;
  if (typeof src.cache_read_input_tokens === 'number') u.cacheReadInputTokens = src.cache_read_input_tokens;
  if (typeof src.cache_creation_input_tokens === 'number') u.cacheCreationInputTokens = src.cache_creation_input_tokens;
}

export function toAnthropicTool(t: Tool): Anthropic.Tool {
  return { name: t.name, description: t.description, input_schema: t.inputSchema as Anthropic.Tool.InputSchema };
}

function toBlock(p: ContentPart): BlockParam | undefined {
  switch (p.type) {
    case 'text':
      return p.text ? { type: 'text', text: p.text } : undefined;
    case 'tool_use':
      return { type: 'tool_use', id: p.id, name: p.name, input: p.input };
    case 'image':
      return { type: 'image', source: { type: 'base64', media_type: p.mediaType as Anthropic.Base64ImageSource['media_type'], data: p.data } };
    case 'tool_result':
      return {
        type: 'tool_result',
        tool_use_id: p.toolUseId,
        content: p.content.map((c) => toBlock(c)).filter((b): b is Anthropic.TextBlockParam | Anthropic.ImageBlockParam => !!b && (b.type === 'text' || b.type === 'image')),
        ...(p.isError ? { is_error: true } : {}),
      };
  }
}

/**
 * The conversation as Anthropic accepts it: every tool_use answered by a tool_result in the
 * next message (calls of an interrupted turn are dropped), no empty messages or text blocks,
 * roles alternating (consecutive messages of one role merged).
 */
export function toAnthropicMessages(history: Message[]): Anthropic.MessageParam[] {
  const out: Anthropic.MessageParam[] = [];
  for (let i = 0; i < history.length; i++) {
    const m = history[i];
    let parts = m.content;
    if (m.role === 'assistant') {
      const answered = new Set(history[i + 1]?.role === 'user' ? history[i + 1].content.flatMap((p) => (p.type === 'tool_result' ? [p.toolUseId] : [])) : []);
      parts = parts.filter((p) => p.type !== 'tool_use' || answered.has(p.id));
    } else {
      const prev = history[i - 1];
      const asked = new Set(prev?.role === 'assistant' ? prev.content.flatMap((p) => (p.type === 'tool_use' ? [p.id] : [])) : []);
      parts = parts.filter((p) => p.type !== 'tool_result' || asked.has(p.toolUseId));
    }
    const blocks = parts.map(toBlock).filter((b): b is BlockParam => !!b);
    if (!blocks.length) continue;
    const last = out.at(-1);
    if (last && last.role === m.role) (last.content as BlockParam[]).push(...blocks);
    else out.push({ role: m.role, content: blocks });
  }
  // The API requires the conversation to start with the user.
  while (out.length && out[0].role !== 'user') out.shift();
  return out;
}
