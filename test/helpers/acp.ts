/**
 * An ACP client for tests: the official SDK's own client side (`client()` + `ndJsonStream`)
 * over a spawned `agentd acp`, recording every session/update and answering
 * session/request_permission and fs/* with what the test sets.
 */
import * as acp from '@agentclientprotocol/sdk';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { startAnthropicServer, type AnthropicServer } from './anthropic-server.js';
import { AGENTD, ROOT, tempDir } from './rpc-client.js';

export type PermissionAnswer = (req: acp.RequestPermissionRequest, signal: AbortSignal) => Promise<acp.RequestPermissionResponse> | acp.RequestPermissionResponse;

export interface AcpHarness {
  proc: ChildProcess;
  agent: acp.ClientContext;
  updates: acp.SessionNotification[];
  permissions: acp.RequestPermissionRequest[];
  /** Answers the next permission requests; default: allow_once. */
  onPermission: PermissionAnswer;
  /** fs/read_text_file and fs/write_text_file requests the agent made. */
  fsCalls: Array<{ method: string; params: acp.ReadTextFileRequest | acp.WriteTextFileRequest }>;
  /** The client's "buffers": what fs/read_text_file answers, and where fs/write_text_file writes. */
  buffers: Map<string, string>;
  stderr(): string;
  /** Resolves once an update matching `pred` has arrived. */
  waitFor(pred: (u: acp.SessionNotification) => boolean): Promise<acp.SessionNotification>;
  close(): Promise<number | null>;
}

export const baseEnv = { AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '1', AGENTD_DETECT_LOCAL: '0', AGENTD_URL: '', AGENTD_API_KEY: '' };

export function spawnAcp(args: string[], o: { env?: Record<string, string>; cwd?: string; fs?: boolean } = {}): AcpHarness {
  const proc = spawn(process.execPath, [AGENTD, 'acp', ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: o.cwd ?? ROOT, env: { ...process.env, ...baseEnv, ...o.env } });
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const stream = acp.ndJsonStream(Writable.toWeb(proc.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(proc.stdout!) as ReadableStream<Uint8Array>);
  return harness(stream, proc, () => err, async () => {
    proc.stdin!.end();
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  });
}

/** The same client over ACP's WebSocket shape (`ws://…/acp`, one message per text frame); rejects when the upgrade is refused. */
export async function connectAcpWs(url: string, headers: Record<string, string> = {}): Promise<AcpHarness> {
  const ws = new WebSocket(url, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const readable = new ReadableStream<acp.AnyMessage>({
    start(c) {
      ws.on('message', (d) => c.enqueue(JSON.parse(d.toString())));
      ws.on('close', () => { try { c.close(); } catch { /* closed */ } });
    },
  });
  const writable = new WritableStream<acp.AnyMessage>({ write(m) { ws.send(JSON.stringify(m)); } });
  return harness({ readable, writable }, undefined as unknown as ChildProcess, () => '', async () => { ws.close(); return closed; });
}

function harness(stream: acp.Stream, proc: ChildProcess, stderr: () => string, end: () => Promise<number | null>): AcpHarness {
  const updates: acp.SessionNotification[] = [];
  const waiters: Array<() => void> = [];
  const h = {
    proc, updates, permissions: [] as acp.RequestPermissionRequest[], fsCalls: [] as AcpHarness['fsCalls'], buffers: new Map<string, string>(),
    onPermission: ((): acp.RequestPermissionResponse => ({ outcome: { outcome: 'selected', optionId: 'allow_once' } })) as PermissionAnswer,
    stderr,
  } as AcpHarness;
  const app = acp.client({ name: 'agentd-test' })
    .onNotification(acp.methods.client.session.update, ({ params }) => {
      updates.push(params);
      for (const w of waiters.splice(0)) w();
    })
    .onRequest(acp.methods.client.session.requestPermission, async ({ params, signal }) => {
      h.permissions.push(params);
      return h.onPermission(params, signal);
    })
    .onRequest(acp.methods.client.fs.readTextFile, async ({ params }) => {
      h.fsCalls.push({ method: 'fs/read_text_file', params });
      const text = h.buffers.get(params.path);
      if (text === undefined) throw acp.RequestError.resourceNotFound(params.path);
      return { content: text };
    })
    .onRequest(acp.methods.client.fs.writeTextFile, async ({ params }) => {
      h.fsCalls.push({ method: 'fs/write_text_file', params });
      h.buffers.set(params.path, params.content);
      return {};
    });
  const conn = app.connect(stream);
  h.agent = conn.agent;
  h.waitFor = (pred) => new Promise((resolve) => {
    const check = () => {
      const u = updates.find(pred);
      if (u) resolve(u);
      else waiters.push(check);
    };
    check();
  });
  h.close = async () => {
    conn.close();
    return end();
  };
  return h;
}

export const clientCapabilities = (fs: boolean): acp.ClientCapabilities => ({ fs: { readTextFile: fs, writeTextFile: fs } });

/** The text of the agent_message_chunk updates of a session, joined. */
export const agentText = (updates: acp.SessionNotification[], sessionId: string) => updates
  .filter((u) => u.sessionId === sessionId && u.update.sessionUpdate === 'agent_message_chunk')
  .map((u) => { const c = (u.update as { content: acp.ContentBlock }).content; return c.type === 'text' ? c.text : ''; }).join('');

/** initialize: protocol 1, the fs capabilities when `fs`, and a clientInfo. */
export const initialize = (h: AcpHarness, fs = false) => h.agent.request(acp.methods.agent.initialize, { protocolVersion: 1, clientCapabilities: clientCapabilities(fs), clientInfo: { name: 'test', version: '1' } });
export const newSession = (h: AcpHarness, cwd: string, mcpServers: acp.McpServer[] = []) => h.agent.request(acp.methods.agent.session.new, { cwd, mcpServers });
/** session/prompt with one text block. */
export const prompt = (h: AcpHarness, sessionId: string, text: string) => h.agent.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text }] });
/** The updates of one kind (`sessionUpdate`) of a session. */
export const updatesOf = (h: AcpHarness, sessionId: string, kind: string) => h.updates.filter((u) => u.sessionId === sessionId && u.update.sessionUpdate === kind).map((u) => u.update as any); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Asserts that `p` rejects with the JSON-RPC error `code`. */
export async function rejectsWith(t: Test, p: Promise<unknown>, code: number, what: string) {
  try {
    await p;
    t.fail(`${what}: resolved`);
  } catch (err) {
    t.equal((err as { code?: number }).code, code, what);
  }
}

export interface AnthropicAcp {
  anthropic: AnthropicServer;
  dataDir: string;
  /** What points `agentd acp` at the scripted server. */
  env: Record<string, string>;
  /** Starts another `agentd acp` (an editor process) on the data dir, closed at the test's end. */
  spawn(): AcpHarness;
}

/** The scripted Anthropic server and a data dir whose default provider is `anthropic` (`config` merged into its config.json), closed at the test's end. */
export async function anthropicAcp(t: Test, config: Record<string, unknown> = {}): Promise<AnthropicAcp> {
  const anthropic = await startAnthropicServer();
  t.teardown(() => anthropic.close());
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic', ...config }));
  const env = { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'sk-test' };
  const spawn = () => {
    const h = spawnAcp(['--data-dir', dataDir], { env });
    t.teardown(() => h.close());
    return h;
  };
  return { anthropic, dataDir, env, spawn };
}
