/**
 * `agentd run [PROMPT]`: one turn, printed as it streams, for scripts. The assistant's text goes
 * to stdout; tool activity and approvals to stderr, one short line each. `--json` prints every
 * event of the turn (the `session/event` params) as one JSON line, then the final message, and
 * nothing else on stdout. Exit codes: 0 the turn completed, 1 it failed or was interrupted (the
 * error on stderr), 2 usage, 130 Ctrl-C (the turn is cancelled first).
 *
 * The prompt is the argument, or stdin when the argument is `-` or absent and stdin is not a
 * terminal; with both, stdin's text is appended to the argument as context (as `claude -p` does).
 */
import { realpathSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import {
  AgentClient, RpcResponseError,
  type Message, type PermissionRequestParams, type PermissionRequestResult, type Session, type TypedEvent,
} from '../../protocol/client/node.js';
import { autoApprover, type ApprovalFlags } from './approve.js';
import { connectorFor, logHint, UsageError, type ConnectFlags } from './connect.js';
import { json, oneLine, textOf } from './format.js';

export interface RunFlags extends ConnectFlags, ApprovalFlags {
  /** Every event as a JSON line on stdout, then the final message. */
  json?: boolean;
  /** Continue this session. */
  session?: string;
  /** Continue the most recently updated session of the workspace. */
  continue?: boolean;
  /** Name, provider and model of a new session. */
  name?: string;
  provider?: string;
  model?: string;
  /** The workspace (default: the current directory). */
  workspace?: string;
}

export interface RunIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** stdin longer than this is refused: the whole message must fit one protocol frame (4 MiB). */
const MAX_STDIN_BYTES = 3 * 1024 * 1024;
/** After the reply, how long the turn's last events may take to arrive (REST's event stream lags). */
const END_GRACE_MS = 5000;
const TURN_END = new Set(['turn.completed', 'turn.failed', 'turn.cancelled', 'turn.interrupted']);

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of input) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    size += b.length;
    if (size > MAX_STDIN_BYTES) throw new Error(`stdin is larger than ${MAX_STDIN_BYTES / 1024 / 1024} MiB`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The prompt from the argument and stdin; whether stdin was read (then nothing can be asked on it). */
async function readPrompt(arg: string | undefined, stdin: RunIo['stdin']): Promise<{ prompt: string; usedStdin: boolean }> {
  const piped = !stdin.isTTY;
  if (arg === '-' || (arg === undefined && piped)) return { prompt: (await readAll(stdin)).trim(), usedStdin: true };
  if (arg === undefined) throw new UsageError('give a PROMPT, or pipe one on stdin (agentd run --help)');
  if (!piped) return { prompt: arg.trim(), usedStdin: false };
  const context = (await readAll(stdin)).trim();
  return { prompt: context ? `${arg.trim()}\n\n${context}` : arg.trim(), usedStdin: true };
}

function workspaceDir(dir: string | undefined): string {
  const abs = resolve(dir ?? process.cwd());
  try {
    if (!statSync(abs).isDirectory()) throw new Error();
    return realpathSync(abs);
  } catch {
    throw new UsageError(`--workspace: not a directory: ${abs}`);
  }
}

export async function runOnce(arg: string | undefined, flags: RunFlags, io: RunIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (flags.session && flags.continue) throw new UsageError('--session and --continue exclude each other');
  if (flags.session && (flags.name || flags.provider || flags.model)) throw new UsageError('--name, --provider and --model are for a new session, not with --session');
  const workspace = workspaceDir(flags.workspace);
  const approver = autoApprover(flags);
  const connector = await connectorFor({ ...flags, cwd: workspace }, 'inProcess');
  const { prompt, usedStdin } = await readPrompt(arg, io.stdin);
  if (!prompt) throw new UsageError('the prompt is empty');

  const err = (s: string) => { io.stderr.write(`${s}\n`); };
  let atLineStart = true;
  let stdoutBroken = false;
  const out = (s: string) => { if (!stdoutBroken && s) { io.stdout.write(s); atLineStart = s.endsWith('\n'); } };
  io.stdout.on('error', () => { stdoutBroken = true; void interrupt('stdout closed'); });

  const client = new AgentClient(connector, { clientInfo: { name: 'agentd-run' } });
  // Ask at the terminal only when nobody said how to answer and stdin is a terminal we did not read.
  const askHere = !approver.active && Boolean(io.stdin.isTTY) && !usedStdin;
  client.onPermissionRequest((req, signal) => {
    if (askHere) return askAtTerminal(req, signal);
    const a = approver.answer(req);
    err(a.line);
    return a.result;
  });

  let session: Session | undefined;
  let turnId: string | undefined;
  let ended: { type: string; data: Record<string, unknown> } | undefined;
  let onEnded: (() => void) | undefined;
  let interrupted: string | undefined;
  let interrupts = 0;

  async function interrupt(why: string) {
    interrupts++;
    if (interrupted) return;
    interrupted = why;
    if (session && !ended) await client.cancel(session.id).catch(() => undefined);
  }
  let exitNow: ((code: number) => void) | undefined;
  const onSigint = () => {
    if (interrupts > 0 || !session) { exitNow?.(130); return; }
    err('^C cancelling the turn (Ctrl-C again exits at once)');
    void interrupt('Ctrl-C');
  };
  process.on('SIGINT', onSigint);

  async function askAtTerminal(req: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    rl.on('SIGINT', onSigint);
    try {
      if (!atLineStart) out('\n');
      err(`? allow ${req.summary.startsWith(req.tool) ? req.summary : `${req.tool}: ${req.summary}`}`);
      err(`  input ${oneLine(json(req.input), 400)}`);
      for (;;) {
        const answer = await new Promise<string | undefined>((done) => {
          signal.addEventListener('abort', () => done(undefined), { once: true });
          rl.question('  [o]nce / [a]lways / [d]eny? ', done);
          rl.once('close', () => done(undefined));
        });
        if (answer === undefined) return { decision: 'deny', reason: 'no longer pending' };
        const answers: Record<string, PermissionRequestResult['decision']> = { o: 'allow_once', y: 'allow_once', a: 'allow_always', d: 'deny', n: 'deny' };
        const d = answers[answer.trim().toLowerCase().slice(0, 1)];
        if (d) return d === 'deny' ? { decision: d, reason: 'denied at the terminal' } : { decision: d };
        err('  answer o (allow once), a (allow always) or d (deny)');
      }
    } finally {
      rl.close();
    }
  }

  client.onEvent((e: TypedEvent) => {
    if (!session || e.sessionId !== session.id) return;
    const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (e.type === 'turn.started' && !turnId) turnId = d.turnId;
    if (flags.json) out(`${JSON.stringify(e)}\n`);
    else {
      switch (e.type) {
        case 'message.delta':
          if (d.delta?.type === 'text_delta') out(d.delta.text);
          break;
        case 'tool.started':
          if (!atLineStart) out('\n');
          err(`⚙ ${d.tool} ${oneLine(json(d.input ?? {}), 200)}`);
          break;
        case 'tool.completed':
          err(`  ${d.result?.isError ? '✗' : '✓'} ${d.tool}: ${oneLine(textOf(d.result?.content ?? []), 200)}`);
          break;
        case 'tool.failed':
          err(`  ✗ ${d.tool}: ${oneLine(d.error?.message ?? textOf(d.result?.content ?? []) ?? 'failed', 200)}`);
          break;
      }
    }
    if (TURN_END.has(e.type) && (!turnId || d.turnId === turnId)) {
      ended = { type: e.type, data: d };
      onEnded?.();
    }
  });

  const finish = async (code: number) => {
    process.off('SIGINT', onSigint);
    await client.close().catch(() => undefined);
    return code;
  };
  const exitEarly = new Promise<number>((r) => { exitNow = r; });

  const main = async (): Promise<number> => {
    try {
      await client.connect();
      if (flags.session) session = (await client.getSession(flags.session)).session;
      else if (flags.continue) {
        const { sessions } = await client.listSessions();
        session = sessions.filter((s) => s.workspaceRoot === workspace).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
        if (!session) err(`no session in ${workspace} yet: starting one`);
      }
      session ??= await client.createSession({
        workspaceRoot: workspace,
        ...(flags.name ? { name: flags.name } : {}), ...(flags.provider ? { provider: flags.provider } : {}), ...(flags.model ? { model: flags.model } : {}),
      });
      await client.subscribe({ sessionId: session.id, since: session.lastSeq });
      if (interrupted) return 130;
    } catch (e) {
      err(`agentd run: ${describe(e)}${connector.kind === 'in-process' || connector.kind === 'stdio' ? logHint(flags) : ''}`);
      return 1;
    }
    let final: Message | undefined;
    let failure: unknown;
    try {
      final = (await client.sendMessage({ sessionId: session.id, content: prompt })) as Message;
    } catch (e) {
      failure = e;
    }
    // The turn's last events may trail the reply (REST + SSE): wait for its end, bounded.
    if (!ended && (turnId || final)) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, END_GRACE_MS);
        onEnded = () => { clearTimeout(t); r(); };
      });
    }
    if (!atLineStart) out('\n');
    if (interrupted === 'Ctrl-C') return 130;
    if (ended?.type === 'turn.completed' || (!ended && final)) {
      if (flags.json && final) out(`${JSON.stringify(final)}\n`);
      return 0;
    }
    const reason = ended ? endReason(ended) : describe(failure);
    err(`agentd run: ${reason}`);
    return 1;
  };

  return finish(await Promise.race([main(), exitEarly]));
}

function endReason(e: { type: string; data: Record<string, any> }): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (e.type === 'turn.failed') return `turn failed${e.data.error?.message ? `: ${e.data.error.message}` : ''}`;
  if (e.type === 'turn.cancelled') return 'turn cancelled';
  return `turn interrupted${e.data.reason ? `: ${e.data.reason}` : ''}`;
}

function describe(e: unknown): string {
  if (e instanceof RpcResponseError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}
