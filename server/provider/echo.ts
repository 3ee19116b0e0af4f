/**
 * The offline provider: no key, no network. It streams back `Echo: <your text>` one word per
 * delta, deterministically, so the whole flow works on a fresh machine. Model `echo-slow`
 * waits 50 ms between deltas (for cancel tests and demos).
 *
 * It can also drive tools offline: a user message `/tool <name> <json input>` makes it call
 * that tool (stop reason `tool_use`); after the result it replies `Tool result: <text>` (or
 * `Tool error: <text>`), so approvals and MCP can be exercised without a model.
 *
 * A compaction call (purpose `summary`) gets a deterministic summary: `<n> messages; the user
 * said: <the user texts, joined with " | ">` (at most 500 characters).
 *
 * Model `echo-bench` (benchmarks, bench/): a user message `<count> [size]` makes it stream
 * `count` text deltas of `size` characters each (defaults 1000 and 16; count at most
 * 1,000,000, size at most 65,536) as fast as it can, yielding to the event loop every 64
 * deltas as a network stream does between reads.
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

  checkModel(model: string) {
    return this.info().models.includes(model);
  }

  info(): Provider {
    return {
      id: 'echo', name: 'Echo (offline)', models: ['echo', 'echo-slow', 'echo-bench'], defaultModel: 'echo',
      authenticated: true, authSource: 'none', authMethods: ['none'], type: 'echo', modelsSource: 'builtin',
      modelInfo: [{ id: 'echo', name: 'Echo' }, { id: 'echo-slow', name: 'Echo (slow)' }, { id: 'echo-bench', name: 'Echo (benchmark)' }],
    };
  }

  async stream(req: ProviderRequest, emit: (e: StreamEvent) => void): Promise<ProviderResponse> {
    const last = req.messages.at(-1);
    const parts = last?.content ?? [];
    const results = parts.filter((p) => p.type === 'tool_result');
    const text = parts.map((p) => (p.type === 'text' ? p.text : '')).join(' ').trim();
    if (req.purpose === 'summary') return this.summary(req, emit);
    if (req.model === 'echo-bench') return this.bench(text, req.signal, emit);
    const call = /^\/tool\s+(\S+)\s*([\s\S]*)$/.exec(text);
    if (call && results.length === 0) {
      let input: Record<string, unknown> = {};
      try { input = call[2].trim() ? JSON.parse(call[2]) : {}; } catch { /* not JSON: call with no input */ }
      const json = JSON.stringify(input);
      emit({ type: 'block_start', index: 0, part: { type: 'tool_use', id: `toolu_echo_${req.messages.length}`, name: call[1], input: {} } });
      emit({ type: 'input_json_delta', index: 0, partialJson: json });
      emit({ type: 'block_stop', index: 0 });
      return { stopReason: 'tool_use', usage: { inputTokens: text.length, outputTokens: json.length } };
    }
    const reply = results.length
      ? results.map((r) => `${r.isError ? 'Tool error' : 'Tool result'}: ${r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('')}`).join('\n')
      : `Echo: ${text}`;
    const words = reply.split(/(?<= )/);
    const delay = req.model === 'echo-slow' ? 50 : 0;
    emit({ type: 'block_start', index: 0, part: { type: 'text', text: '' } });
    let n = 0;
    for (const w of words) {
      if (req.signal.aborted) throw RpcError.cancelled();
      if (delay) await sleep(delay, req.signal);
      // Yield now and then, as a network stream would, so writers can flush between bursts.
      else if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
      emit({ type: 'text_delta', index: 0, text: w });
    }
    emit({ type: 'block_stop', index: 0 });
    return { stopReason: 'end_turn', usage: { inputTokens: text.length, outputTokens: words.length } };
  }

  /** A compaction summary, the same for the same conversation. */
  private summary(req: ProviderRequest, emit: (e: StreamEvent) => void): ProviderResponse {
    const said = req.messages.slice(0, -1).filter((m) => m.role === 'user')
      .map((m) => m.content.map((p) => (p.type === 'text' ? p.text : '')).join(' ').trim()).filter(Boolean);
    const text = `${req.messages.length - 1} messages; the user said: ${said.join(' | ')}`.slice(0, 500);
    emit({ type: 'block_start', index: 0, part: { type: 'text', text: '' } });
    emit({ type: 'text_delta', index: 0, text });
    emit({ type: 'block_stop', index: 0 });
    return { stopReason: 'end_turn', usage: { inputTokens: said.join('').length, outputTokens: text.split(' ').length } };
  }

  /** `echo-bench`: `count` deltas of `size` characters, as fast as possible. */
  private async bench(text: string, signal: AbortSignal, emit: (e: StreamEvent) => void): Promise<ProviderResponse> {
    const [c, z] = text.split(/\s+/).map(Number);
    const count = Number.isInteger(c) && c >= 0 ? Math.min(c, 1_000_000) : 1000;
    const size = Number.isInteger(z) && z > 0 ? Math.min(z, 65_536) : 16;
    const delta = 'x'.repeat(size - 1) + ' ';
    emit({ type: 'block_start', index: 0, part: { type: 'text', text: '' } });
    for (let i = 0; i < count; i++) {
      if (i % 64 === 63) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal.aborted) throw RpcError.cancelled();
      }
      emit({ type: 'text_delta', index: 0, text: delta });
    }
    emit({ type: 'block_stop', index: 0 });
    return { stopReason: 'end_turn', usage: { inputTokens: text.length, outputTokens: count } };
  }
}
