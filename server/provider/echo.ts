/**
 * The offline provider: no key, no network. It streams back `Echo: <your text>` one word per
 * delta, deterministically, so the whole flow works on a fresh machine. Model `echo-slow`
 * waits 50 ms between deltas (for cancel tests and demos).
 */
import type { Provider } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import type { ModelProvider, ProviderRequest, ProviderResponse, StreamEvent } from './types.js';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(RpcError.cancelled());
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(RpcError.cancelled()); };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class EchoProvider implements ModelProvider {
  readonly id = 'echo';

  info(): Provider {
    return {
      id: 'echo', name: 'Echo (offline)', models: ['echo', 'echo-slow'], defaultModel: 'echo',
      authenticated: true, authSource: 'none', authMethods: ['none'],
    };
  }

  async stream(req: ProviderRequest, emit: (e: StreamEvent) => void): Promise<ProviderResponse> {
    const last = req.messages.at(-1);
    const text = (last?.content ?? []).map((p) => (p.type === 'text' ? p.text : p.type === 'tool_result' ? '[tool result]' : '')).join(' ').trim();
    const words = `Echo: ${text}`.split(/(?<= )/);
    const delay = req.model === 'echo-slow' ? 50 : 0;
    emit({ type: 'block_start', index: 0, part: { type: 'text', text: '' } });
    for (const w of words) {
      if (req.signal.aborted) throw RpcError.cancelled();
      if (delay) await sleep(delay, req.signal);
      emit({ type: 'text_delta', index: 0, text: w });
    }
    emit({ type: 'block_stop', index: 0 });
    return { stopReason: 'end_turn', usage: { inputTokens: text.length, outputTokens: words.length } };
  }
}
