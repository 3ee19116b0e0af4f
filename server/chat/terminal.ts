/**
 * `agentd chat`: a line-oriented chat in the terminal over the typed client library. The reply
 * streams as it arrives, tool calls show with their input and result, approvals are asked at
 * the prompt (allow once / always / deny), Ctrl-C cancels the running turn (a second one exits),
 * and a few slash commands manage sessions. A line starting with `/` that is not one of them
 * goes to the agent unchanged (the echo provider's `/tool …` needs that).
 */
import { createInterface, type Interface } from 'node:readline';
import {
  AgentClient, RpcResponseError, type PermissionDecision, type PermissionRequestParams,
  type PermissionRequestResult, type Session, type TypedEvent,
} from '../../protocol/client/node.js';
import { autoApprover, type ApprovalFlags } from './approve.js';
import { connectorFor, logHint, type ConnectFlags } from './connect.js';
import { json, messageLines, oneLine, textOf } from './format.js';

export interface ChatFlags extends ConnectFlags, ApprovalFlags {
  /** Continue this session (default: a new one). */
  session?: string;
  /** Provider and model for new sessions. */
  provider?: string;
  model?: string;
}

export interface ChatIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream & { isTTY?: boolean };
  error: NodeJS.WritableStream;
}

const HELP = [
  'commands:',
  '  /sessions            list sessions (/sessions <id or number> switches to one)',
  '  /new [name]          start a new session',
  '  /model               list providers and models (/model <provider>/<model> starts a session with it)',
  '  /quit                exit (also Ctrl-D)',
  '  /help                this list',
  'anything else is sent to the agent; Ctrl-C cancels a running turn, a second Ctrl-C exits',
].join('\n');

const TURN_END = new Set(['turn.completed', 'turn.failed', 'turn.cancelled', 'turn.interrupted']);

/** Runs the chat until /quit, Ctrl-D or a second Ctrl-C. Resolves with the exit code. */
export async function runChat(flags: ChatFlags, io: ChatIo = { input: process.stdin, output: process.stdout, error: process.stderr }): Promise<number> {
  const out = (s: string) => { io.output.write(s); };
  const color = Boolean(io.output.isTTY) && !process.env.NO_COLOR;
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const connector = await connectorFor(flags);
  const own = connector.kind === 'stdio' || connector.kind === 'in-process';
  const client = new AgentClient(connector, {
    clientInfo: { name: 'agentd-chat' },
    reconnect: own ? false : { maxAttempts: 5 },
  });
  // Piped input (a script): messages one per line, each after the previous turn; no prompts, and
  // approvals come from --allow / --yes only (stdin holds the messages, not answers).
  const interactive = Boolean((io.input as { isTTY?: boolean }).isTTY);
  const approver = autoApprover(flags);

  let session: Session | undefined;
  let provider = flags.provider;
  let model = flags.model;
  /** The running turn: its id (once known) and how to wake the prompt when it ends. */
  let turn: { id?: string; done: () => void; interrupts: number } | undefined;
  const ended = new Set<string>();
  /** A question waiting for the next line (approvals). */
  let question: ((line: string | undefined) => void) | undefined;
  let idleInterrupt = false;
  let atLineStart = true;
  let closing = false;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => { resolveExit = r; });

  const line = (s: string) => {
    if (!atLineStart) out('\n');
    out(`${s}\n`);
    atLineStart = true;
  };

  // ---- approvals: asked at the prompt; answered elsewhere first → the question goes away.
  client.onPermissionRequest((req: PermissionRequestParams, signal: AbortSignal) => {
    if (interactive) {
      const a = approver.answer(req);
      if (a.result.decision !== 'deny') { line(dim(a.line)); return a.result; }
      return askApproval(req, signal);
    }
    const a = approver.answer(req);
    io.error.write(`${a.line}\n`);
    return a.result;
  });

  async function askApproval(req: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    // The summary usually names the tool already (`write_file: x.txt`).
    line(`${bold('?')} allow ${req.summary.startsWith(`${req.tool}`) ? req.summary : `${req.tool}: ${req.summary}`}`);
    line(dim(`  input ${oneLine(json(req.input), 400)}`));
    for (;;) {
      const answer = await new Promise<string | undefined>((resolve) => {
        question = resolve;
        const onAbort = () => { if (question === resolve) { question = undefined; resolve(undefined); } };
        signal.addEventListener('abort', onAbort, { once: true });
        rl.setPrompt('  [o]nce / [a]lways / [d]eny? ');
        rl.prompt();
      });
      if (answer === undefined) {
        line(dim('  (no longer pending)'));
        return { decision: 'deny', reason: 'no longer pending' };
      }
      const decision: PermissionDecision | undefined = ({ o: 'allow_once', once: 'allow_once', y: 'allow_once', a: 'allow_always', always: 'allow_always', d: 'deny', deny: 'deny', n: 'deny' } as const)[answer.trim().toLowerCase()];
      if (decision) {
        line(dim(`  ${decision.replace('_', ' ')}`));
        return decision === 'deny' ? { decision, reason: 'denied at the terminal' } : { decision };
      }
      line('  answer o (allow once), a (allow always) or d (deny)');
    }
  }

  // ---- events of the current session
  client.onEvent((e: TypedEvent) => {
    if (!session || e.sessionId !== session.id) return;
    const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (e.type) {
      case 'message.delta':
        if (d.delta?.type === 'text_delta') { out(d.delta.text); atLineStart = d.delta.text.endsWith('\n'); }
        break;
      case 'tool.started':
        line(dim(`⚙ ${d.tool} ${oneLine(json(d.input ?? {}), 400)}`));
        break;
      case 'tool.completed':
        line(dim(`  ${d.result?.isError ? '✗' : '✓'} ${d.tool}: ${oneLine(textOf(d.result?.content ?? []))}`));
        break;
      case 'tool.failed':
        line(dim(`  ✗ ${d.tool}: ${oneLine(d.error?.message ?? textOf(d.result?.content ?? []) ?? 'failed')}`));
        break;
      case 'permission.resolved':
        break;
      case 'turn.failed':
        line(`turn failed${d.error ? `: ${d.error.message}` : ''}`);
        break;
      case 'turn.cancelled':
        line(dim('(turn cancelled)'));
        break;
      case 'turn.interrupted':
        line(dim(`(turn interrupted${d.reason ? `: ${d.reason}` : ''})`));
        break;
      case 'stream.gap':
        line(dim('(some events were missed; /sessions <id> reloads the session)'));
        break;
    }
    if (TURN_END.has(e.type)) {
      ended.add(d.turnId);
      if (turn && turn.id === d.turnId) finishTurn();
    }
  });

  client.onStateChange((state, err) => {
    if (closing) return;
    if (state === 'reconnecting') line(dim(`(connection lost: ${err?.message ?? 'unknown'}; reconnecting…)`));
    if (state === 'connected' && session) line(dim('(reconnected)'));
    if (state === 'closed') {
      line(`agentd: connection closed${err ? `: ${err.message}` : ''}${own ? logHint(flags) : ''}`);
      void quit(1);
    }
  });

  function finishTurn() {
    const t = turn;
    turn = undefined;
    if (!atLineStart) { out('\n'); atLineStart = true; }
    t?.done();
  }

  // ---- sessions
  async function open(id: string) {
    const { session: s, messages } = await client.getSession(id);
    if (session && session.id !== s.id) await client.unsubscribe({ sessionId: session.id }).catch(() => undefined);
    session = s;
    for (const m of messages.slice(-20)) for (const l of messageLines(m)) line(dim(l));
    if (client.lastSeen(s.id) === undefined) await client.subscribe({ sessionId: s.id, since: s.lastSeq });
    line(`${bold('session')} ${s.id}${s.name ? ` (${s.name})` : ''} · ${s.provider}/${s.model}`);
  }

  async function create(name?: string) {
    const s = await client.createSession({ ...(name ? { name } : {}), ...(provider ? { provider } : {}), ...(model ? { model } : {}) });
    await open(s.id);
  }

  async function listSessions(arg: string) {
    const { sessions } = await client.listSessions();
    if (arg) {
      const n = Number(arg);
      const target = Number.isInteger(n) && n >= 1 && n <= sessions.length ? sessions[n - 1] : sessions.find((s) => s.id === arg || s.name === arg);
      if (!target) { line(`no session ${arg}`); return; }
      await open(target.id);
      return;
    }
    if (!sessions.length) line('no sessions');
    sessions.forEach((s, i) => line(`${s.id === session?.id ? '*' : ' '} ${i + 1}. ${s.id}  ${s.name || '-'}  ${s.provider}/${s.model}  ${s.status}`));
  }

  async function pickModel(arg: string) {
    const { providers } = await client.listProviders();
    if (!arg) {
      for (const p of providers) {
        for (const m of p.models) {
          const current = session && session.provider === p.id && session.model === m;
          line(`${current ? '*' : ' '} ${p.id}/${m}${m === p.defaultModel ? ' (default)' : ''}${p.authenticated ? '' : ' (needs a key)'}`);
        }
      }
      return;
    }
    const [pid, ...rest] = arg.split('/');
    const p = providers.find((x) => x.id === pid);
    const m = rest.join('/') || p?.defaultModel;
    if (!p || !m || !p.models.includes(m)) { line(`unknown model ${arg} (/model lists them)`); return; }
    provider = p.id;
    model = m;
    line(dim(`a session keeps its model: starting a new session with ${p.id}/${m}`));
    await create();
  }

  // ---- sending
  async function send(text: string) {
    if (!session) await create();
    const done = new Promise<void>((resolve) => { turn = { done: resolve, interrupts: 0 }; });
    try {
      const r = await client.sendMessage({ sessionId: session!.id, content: text, async: true });
      const id = 'turnId' in r ? (r as { turnId: string }).turnId : undefined;
      if (turn) {
        turn.id = id;
        if (id && ended.has(id)) finishTurn();
      }
    } catch (err) {
      finishTurn();
      throw err;
    }
    await done;
  }

  async function command(input: string): Promise<boolean> {
    const m = /^\/(\w+)\s*(.*)$/s.exec(input);
    if (!m) return false;
    const [, name, arg] = m;
    switch (name) {
      case 'quit': case 'exit': await quit(0); return true;
      case 'help': line(HELP); return true;
      case 'sessions': await listSessions(arg.trim()); return true;
      case 'new': await create(arg.trim() || undefined); return true;
      case 'model': await pickModel(arg.trim()); return true;
      default: return false;
    }
  }

  async function handle(input: string) {
    const text = input.trim();
    if (!text) return;
    try {
      if (!(await command(text))) await send(text);
    } catch (err) {
      const e = err as Error;
      line(`error: ${e instanceof RpcResponseError ? `${e.message} (${e.code})` : e.message}`);
    }
  }

  // ---- the prompt
  const rl: Interface = createInterface({ input: io.input, output: io.output, terminal: Boolean(io.output.isTTY) && Boolean((io.input as { isTTY?: boolean }).isTTY), historySize: 200 });
  let busy = false;
  const queue: string[] = [];
  /** Input ended (piped): quit once the queue is done and no turn runs. */
  let inputEnded = false;
  let started = false;
  const prompt = () => {
    if (closing || !interactive) return;
    rl.setPrompt('> ');
    rl.prompt();
    atLineStart = true;
  };

  async function drain() {
    if (busy || !started) return;
    busy = true;
    while (queue.length && !closing) {
      await handle(queue.shift()!);
      if (!closing && !queue.length) prompt();
    }
    busy = false;
    if (inputEnded) void quit(0);
  }

  rl.on('line', (input) => {
    if (question) {
      const q = question;
      question = undefined;
      q(input);
      return;
    }
    idleInterrupt = false;
    if (turn && interactive) {
      // /quit while a turn runs (its end can take a moment: the workspace snapshot) cancels it and exits.
      if (/^\/(quit|exit)\s*$/.test(input.trim())) {
        if (session) void client.cancel(session.id).catch(() => undefined).finally(() => quit(0));
        else void quit(0);
        return;
      }
      line(dim('(a turn is running: wait for it, Ctrl-C to cancel it, or /quit)'));
      return;
    }
    queue.push(input);
    void drain();
  });

  function interrupt() {
    if (turn) {
      turn.interrupts++;
      if (turn.interrupts > 1) { line('^C'); void quit(130); return; }
      line(dim('^C cancelling the turn (Ctrl-C again exits)'));
      idleInterrupt = true; // the turn may end at once: the next Ctrl-C still exits
      if (question) { const q = question; question = undefined; q('d'); }
      if (session) void client.cancel(session.id).catch((err: Error) => line(`error: ${err.message}`));
      return;
    }
    if (idleInterrupt) { line('^C'); void quit(130); return; }
    idleInterrupt = true;
    line(dim('^C (Ctrl-C again or /quit exits)'));
    prompt();
  }
  rl.on('SIGINT', interrupt);
  const onSignal = () => interrupt();
  process.on('SIGINT', onSignal);
  rl.on('close', () => {
    if (interactive) { void quit(0); return; }
    inputEnded = true;
    void drain();
  });

  async function quit(code: number) {
    if (closing) return;
    closing = true;
    process.off('SIGINT', onSignal);
    if (!atLineStart) out('\n');
    rl.close();
    await client.close().catch(() => undefined);
    resolveExit(code);
  }

  // ---- start
  try {
    await client.connect();
    if (flags.session) await open(flags.session);
    else await create();
  } catch (err) {
    closing = true;
    rl.close();
    await client.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    const e = err as Error;
    io.error.write(`agentd chat: ${e.message}${own ? logHint(flags) : ''}\n`);
    return 1;
  }
  if (interactive) line(dim('/help for commands · Ctrl-C cancels a turn · /quit exits'));
  prompt();
  started = true;
  void drain();
  return exited;
}
