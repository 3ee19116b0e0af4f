/**
 * Local model servers on loopback: Ollama, LM Studio and llama.cpp's llama-server all serve the
 * OpenAI API under `/v1`. A server counts as found when `GET http://127.0.0.1:<port>/v1/models`
 * answers 200 with a JSON model list within the timeout. Only 127.0.0.1 is ever asked (the
 * port is the only thing config changes), through node:http (no SDK: this runs at start), with
 * sockets that never keep the process alive and a bounded body.
 */
import { get } from 'node:http';
import type { ModelInfo } from '../../protocol/index.js';
import { modelOf } from './openai.js';

export interface LocalServer { id: 'ollama' | 'lmstudio' | 'llamacpp'; name: string; port: number }

/** The servers looked for, with their usual ports (`providerDetection.ports` changes them). */
export const LOCAL_SERVERS: readonly LocalServer[] = [
  { id: 'ollama', name: 'Ollama (local)', port: 11434 },
  { id: 'lmstudio', name: 'LM Studio (local)', port: 1234 },
  { id: 'llamacpp', name: 'llama.cpp (local)', port: 8080 },
];

export const DETECT_TIMEOUT_MS = 500;
const MAX_BODY = 1024 * 1024;
const MAX_MODELS = 1000;

export const loopbackUrl = (port: number) => `http://127.0.0.1:${port}/v1`;

/** The models of the server on `port`, or undefined when nothing usable answers in time. */
export function probe(port: number, timeoutMs = DETECT_TIMEOUT_MS): Promise<ModelInfo[] | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: ModelInfo[] | undefined) => { if (!settled) { settled = true; resolve(v); } };
    const req = get(`${loopbackUrl(port)}/models`, { agent: false, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      if (res.statusCode !== 200) { res.resume(); req.destroy(); return done(undefined); }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { req.destroy(); return done(undefined); }
        chunks.push(c);
      });
      res.on('error', () => done(undefined));
      res.on('end', () => {
        try {
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: unknown };
          if (!Array.isArray(doc?.data)) return done(undefined);
          done(doc.data.slice(0, MAX_MODELS).map((m) => modelOf(m as never)).filter((m): m is ModelInfo => !!m));
        } catch {
          done(undefined);
        }
      });
    });
    // Detection runs in the background: it must never hold the process open.
    req.on('socket', (s) => s.unref());
    req.on('error', () => done(undefined));
  });
}
