/**
 * What a model provider implements. The turn runner owns the message being built; a provider
 * only reports what streams in (Anthropic's event shapes) and how the call ended.
 */
import type { ContentPart, Message, Provider as ProviderInfo, Tool, Usage } from '../../protocol/index.js';

export type StreamEvent =
  | { type: 'block_start'; index: number; part: ContentPart }
  | { type: 'text_delta'; index: number; text: string }
  | { type: 'input_json_delta'; index: number; partialJson: string }
  | { type: 'block_stop'; index: number };

export interface ProviderRequest {
  model: string;
  system?: string;
  /** The conversation so far, oldest first (user, assistant, user with tool results, ...). */
  messages: Message[];
  tools: Tool[];
  maxTokens?: number;
  /** Aborted on cancel: the provider must stop streaming and reject promptly. */
  signal: AbortSignal;
  /** `summary`: a compaction call (the last message asks for a summary of the others). */
  purpose?: 'summary';
}

export interface ProviderResponse {
  stopReason: string | null;
  usage?: Usage;
}

export interface ModelProvider {
  readonly id: string;
  /** Public description; `authenticated` must never expose the secret. */
  info(): ProviderInfo;
  /**
   * Whether a session may use `model` (session/create). Absent: any model id is accepted
   * (Anthropic's API knows more models than it lists).
   */
  checkModel?(model: string): Promise<boolean> | boolean;
  /** Streams one model call. Throws an RpcError (ProviderError, RequestCancelled) on failure. */
  stream(req: ProviderRequest, emit: (e: StreamEvent) => void): Promise<ProviderResponse>;
}
