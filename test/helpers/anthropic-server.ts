/**
 * A scripted local stand-in for the Anthropic Messages API (POST /v1/messages), speaking the
 * real wire format: JSON errors with status and `retry-after`, and SSE streams
 * (message_start, content_block_start / content_block_delta (text_delta, input_json_delta) /
 * content_block_stop, message_delta with stop_reason and usage, message_stop, ping, error).
 * Each test queues one reply per expected request; every request is recorded.
 */
import type { IncomingMessage } from 'node:http';
import { playStream, startScriptedServer, type ControlStep, type Json } from './scripted-server.js';

export type { Json };

/** One step of a streamed reply: an SSE event, or a wait, drop or hang. */
export type Step = { event: string; data: Json } | ControlStep;

export type Reply =
  | { kind: 'stream'; steps: Step[] }
  | { kind: 'error'; status: number; type: string; message?: string; headers?: Record<string, string> };

export interface Recorded {
  at: number;
  headers: IncomingMessage['headers'];
  body: Json;
}

/** The credential a request carried (`x-api-key`, or `Authorization: Bearer`, as the SDK version sends it). */
export const credentialOf = (r: Recorded): string | undefined =>
  (r.headers['x-api-key'] as string | undefined) ?? r.headers.authorization?.replace(/^Bearer /, '');

let msgCounter = 0;

/** Usage as Anthropic reports it (message_start; output_tokens again, cumulative, in message_delta). */
export interface ScriptedUsage { input_tokens: number; output_tokens?: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number }

const start = (usage: ScriptedUsage = { input_tokens: 12, output_tokens: 1 }): Step => ({
  event: 'message_start',
  data: { type: 'message_start', message: { id: `msg_test_${++msgCounter}`, type: 'message', role: 'assistant', model: 'claude-test', content: [], stop_reason: null, stop_sequence: null, usage } },
});
const end = (stopReason: string, outputTokens: number): Step[] => [
  { event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } } },
  { event: 'message_stop', data: { type: 'message_stop' } },
];
const textBlock = (index: number, chunks: string[], delay = 0): Step[] => [
  { event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } } },
  ...chunks.flatMap((text): Step[] => [...(delay ? [{ delay }] : []), { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } } }]),
  { event: 'content_block_stop', data: { type: 'content_block_stop', index } },
];

/** Script builders. */
export const reply = {
  /** A streamed text reply, one delta per chunk, with a ping after message_start; `usage` scripts the counts (output: default one per chunk). */
  text(chunks: string[], o: { delay?: number; stopReason?: string; usage?: ScriptedUsage } = {}): Reply {
    const output = o.usage?.output_tokens ?? chunks.length;
    return { kind: 'stream', steps: [start(o.usage ? { ...o.usage, output_tokens: 1 } : undefined), { event: 'ping', data: { type: 'ping' } }, ...textBlock(0, chunks, o.delay), ...end(o.stopReason ?? 'end_turn', output)] };
  },
  /** Text (optional), then tool_use blocks whose input arrives as input_json_delta pieces; `usage` scripts message_start's counts. */
  toolUse(calls: Array<{ id: string; name: string; input: Json }>, text?: string, o: { usage?: ScriptedUsage } = {}): Reply {
    const steps: Step[] = [start(o.usage)];
    let index = 0;
    if (text) steps.push(...textBlock(index++, [text]));
    for (const c of calls) {
      const json = JSON.stringify(c.input);
      const half = Math.ceil(json.length / 2);
      steps.push(
        { event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } } },
        { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } } },
        { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } } },
        { event: 'ping', data: { type: 'ping' } },
        { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } } },
        { event: 'content_block_stop', data: { type: 'content_block_stop', index } },
      );
      index++;
    }
    steps.push(...end('tool_use', 30));
    return { kind: 'stream', steps };
  },
  /** Some text deltas, then the connection is destroyed (no message_stop). */
  dropAfter(chunks: string[]): Reply {
    return { kind: 'stream', steps: [start(), ...textBlock(0, chunks).slice(0, -1), { delay: 20 }, { drop: true }] };
  },
  /** Some text deltas, then nothing more: the stream stays open until the client leaves. */
  hangAfter(chunks: string[]): Reply {
    return { kind: 'stream', steps: [start(), ...textBlock(0, chunks).slice(0, -1), { hang: true }] };
  },
  /** An `event: error` inside a 200 stream. */
  streamError(type: string, message: string, chunks: string[] = []): Reply {
    return { kind: 'stream', steps: [start(), ...(chunks.length ? textBlock(0, chunks).slice(0, -1) : []), { event: 'error', data: { type: 'error', error: { type, message } } }] };
  },
  /** An HTTP error with Anthropic's JSON error body. */
  error(status: number, type: string, headers: Record<string, string> = {}, message = `${type} (scripted)`): Reply {
    return { kind: 'error', status, type, message, headers };
  },
};

export interface AnthropicServer {
  url: string;
  requests: Recorded[];
  /** Queues replies, served in order; a request with nothing queued gets a 500 that says so. */
  script(...replies: Reply[]): void;
  /** Replies not yet served. */
  pending(): number;
  close(): Promise<void>;
}

export async function startAnthropicServer(): Promise<AnthropicServer> {
  const requests: Recorded[] = [];
  const server = await startScriptedServer<Reply>(async (req, res, body, next) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    requests.push({ at: Date.now(), headers: req.headers, body });
    const r = next();
    if (!r) {
      res.writeHead(500, { 'content-type': 'application/json', 'x-should-retry': 'false' }).end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'test server: no reply scripted' } }));
      return;
    }
    if (r.kind === 'error') {
      res.writeHead(r.status, { 'content-type': 'application/json', 'request-id': `req_${requests.length}`, ...r.headers });
      res.end(JSON.stringify({ type: 'error', error: { type: r.type, message: r.message } }));
      return;
    }
    await playStream(res, { 'request-id': `req_${requests.length}` }, r.steps, (step) => `event: ${step.event}\ndata: ${JSON.stringify(step.data)}\n\n`);
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, script: server.script, pending: server.pending, close: server.close };
}
