/**
 * A scripted local stand-in for an OpenAI-compatible endpoint (Ollama, llama-server, vLLM,
 * OpenRouter, OpenAI), speaking the real Chat Completions wire format:
 * `POST /v1/chat/completions` streams `data: {...}` chunks (`choices[0].delta` with `content` or
 * `tool_calls` split across chunks by `index`, id and name in the first piece, `arguments` in
 * pieces), a chunk with `finish_reason`, a final usage chunk with empty `choices`, and
 * `data: [DONE]`; errors are JSON `{"error": {...}}` with status and `retry-after`.
 * `GET /v1/models` answers `{"object": "list", "data": [...]}` from `models` (null: 404).
 * Each test queues one reply per expected request; every request is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { playStream, startScriptedServer, type ControlStep, type Json } from './scripted-server.js';

export type { Json };

export type Step =
  | { chunk: Json }
  /** A raw SSE line as sent (`data: [DONE]`, a comment, garbage). */
  | { raw: string }
  | ControlStep;

export type Reply =
  | { kind: 'stream'; steps: Step[] }
  | { kind: 'error'; status: number; body: Json; headers?: Record<string, string> };

export interface Recorded { at: number; method: string; path: string; headers: IncomingMessage['headers']; body: Json }

let counter = 0;

/** One `chat.completion.chunk`. */
const chunk = (id: string, choices: Json[], extra: Json = {}): Step => ({ chunk: { id, object: 'chat.completion.chunk', created: 1_700_000_000, model: 'test-model', system_fingerprint: 'fp_test', choices, ...extra } });
const end = (id: string, finish: string, usage: Json): Step[] => [
  chunk(id, [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]),
  // stream_options.include_usage: the last chunk carries usage and no choices.
  chunk(id, [], { usage }),
  { raw: 'data: [DONE]' },
];
const usageOf = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

/** Script builders. */
export const reply = {
  /** A streamed text reply: a role chunk, then one `delta.content` per piece. */
  text(pieces: string[], o: { delay?: number; finish?: string; usage?: Json; reasoning?: string[] } = {}): Reply {
    const id = `chatcmpl-${++counter}`;
    return {
      kind: 'stream',
      steps: [
        chunk(id, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
        // Reasoning deltas as DeepSeek / vLLM / OpenRouter send them (agentd drops them).
        ...(o.reasoning ?? []).map((r) => chunk(id, [{ index: 0, delta: { reasoning_content: r, reasoning: r }, finish_reason: null }])),
        ...pieces.flatMap((content): Step[] => [...(o.delay ? [{ delay: o.delay }] : []), chunk(id, [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])]),
        ...end(id, o.finish ?? 'stop', o.usage ?? usageOf(20, pieces.length)),
      ],
    };
  },
  /**
   * Tool calls (optionally after some text): each call's first delta has `index`, `id`, `type`
   * and `function.name` with empty arguments; `arguments` follow in three pieces. `args` is sent
   * as is (a string), or JSON-encoded.
   */
  toolCalls(calls: Array<{ id: string; name: string; args: Json }>, text?: string, o: { finish?: string } = {}): Reply {
    const id = `chatcmpl-${++counter}`;
    const steps: Step[] = [chunk(id, [{ index: 0, delta: { role: 'assistant', content: text ?? null }, finish_reason: null }])];
    calls.forEach((c, index) => {
      const args = typeof c.args === 'string' ? c.args : JSON.stringify(c.args);
      const a = Math.ceil(args.length / 3);
      steps.push(chunk(id, [{ index: 0, delta: { tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }, finish_reason: null }]));
      for (const piece of [args.slice(0, a), args.slice(a, 2 * a), args.slice(2 * a)]) {
        steps.push(chunk(id, [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, finish_reason: null }]));
      }
    });
    steps.push(...end(id, o.finish ?? 'tool_calls', usageOf(40, 25)));
    return { kind: 'stream', steps };
  },
  /** Some text, then the connection is destroyed (no finish_reason, no [DONE]). */
  dropAfter(pieces: string[]): Reply {
    const r = reply.text(pieces) as { kind: 'stream'; steps: Step[] };
    return { kind: 'stream', steps: [...r.steps.slice(0, 1 + pieces.length), { delay: 20 }, { drop: true }] };
  },
  /** Some text, then nothing more: the stream stays open until the client leaves. */
  hangAfter(pieces: string[]): Reply {
    const r = reply.text(pieces) as { kind: 'stream'; steps: Step[] };
    return { kind: 'stream', steps: [...r.steps.slice(0, 1 + pieces.length), { hang: true }] };
  },
  /** An HTTP error with OpenAI's JSON error body. */
  error(status: number, message: string, headers: Record<string, string> = {}, type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error'): Reply {
    return { kind: 'error', status, body: { error: { message, type, param: null, code: null } }, headers };
  },
};

export interface OpenAIServer {
  /** The base URL, with `/v1` (what `baseUrl` takes). */
  url: string;
  port: number;
  requests: Recorded[];
  /** Chat completion requests only. */
  chats(): Recorded[];
  /** What `GET /v1/models` lists (null: it answers 404, as an endpoint without the route). */
  models: Json[] | null;
  script(...replies: Reply[]): void;
  pending(): number;
  close(): Promise<void>;
}

export async function startOpenAIServer(o: { models?: Json[] | null } = {}): Promise<OpenAIServer> {
  const requests: Recorded[] = [];
  const state = { models: o.models === undefined ? [{ id: 'test-model', object: 'model', created: 1, owned_by: 'test' }] : o.models };

  const json = (res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  const server = await startScriptedServer<Reply>(async (req, res, body, next) => {
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ at: Date.now(), method: req.method ?? '', path, headers: req.headers, body });
    if (req.method === 'GET' && path === '/v1/models') {
      if (state.models === null) return json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      return json(res, 200, { object: 'list', data: state.models });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') return json(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
    const r = next();
    if (!r) return json(res, 500, { error: { message: 'test server: no reply scripted', type: 'server_error' } }, { 'x-should-retry': 'false' });
    if (r.kind === 'error') return json(res, r.status, r.body, r.headers);
    await playStream(res, {}, r.steps, (step) => ('raw' in step ? `${step.raw}\n\n` : `data: ${JSON.stringify(step.chunk)}\n\n`));
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    port: server.port,
    requests,
    chats: () => requests.filter((r) => r.path === '/v1/chat/completions'),
    get models() { return state.models; },
    set models(m) { state.models = m; },
    script: server.script,
    pending: server.pending,
    close: server.close,
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
