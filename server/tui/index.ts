/**
 * `agentd tui`: the full-screen terminal client. It connects like `agentd chat` (server/chat/
 * connect.ts: `--url`, `--stdio`, or a server of its own in-process on the data dir), answers
 * approvals in the app, and reconnects to a server given by URL that restarts (the client
 * resubscribes from the last seq it saw, so no text is repeated). Ink and React are loaded here
 * only: the CLI imports this module on `agentd tui` and nowhere else.
 */
import { render } from 'ink';
import { createElement as h } from 'react';
import { AgentClient, type PermissionRequestResult } from '../../protocol/client/node.js';
import { connectorFor, logHint, UsageError, type ConnectFlags } from '../chat/connect.js';
import { App, type ApprovalQueue } from './app.js';

export interface TuiFlags extends ConnectFlags {
  /** Open this session (default: a new one). */
  session?: string;
  /** Provider and model of new sessions. */
  provider?: string;
  model?: string;
}

/** Approvals waiting at once; more are denied (a runaway agent cannot pile them up). */
const MAX_PENDING = 50;

export interface TuiIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
}

/** Runs the UI until the user quits; resolves with the exit code. */
export async function runTui(flags: TuiFlags, io: TuiIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (!io.stdin.isTTY || !io.stdout.isTTY) {
    throw new UsageError('agentd tui needs a terminal (stdin and stdout must be a TTY); for pipes and scripts use `agentd chat` (one message per line) or `agentd run`');
  }
  const connector = await connectorFor(flags);
  const own = connector.kind === 'stdio' || connector.kind === 'in-process';
  const client = new AgentClient(connector, {
    clientInfo: { name: 'agentd-tui' },
    reconnect: own ? false : { maxAttempts: 30, initialDelayMs: 200, maxDelayMs: 2000 },
  });
  const approvals: ApprovalQueue = { pending: [] };
  client.onPermissionRequest((req, signal) => new Promise<PermissionRequestResult>((resolve) => {
    if (approvals.pending.length >= MAX_PENDING) { resolve({ decision: 'deny', reason: 'too many approvals waiting at the terminal' }); return; }
    const remove = () => {
      const i = approvals.pending.indexOf(entry);
      if (i >= 0) approvals.pending.splice(i, 1);
      approvals.onChange?.();
    };
    const entry = {
      req,
      answer: (decision: PermissionRequestResult['decision'], reason?: string) => {
        remove();
        resolve(decision === 'deny' ? { decision, reason: reason ?? 'denied at the terminal' } : { decision });
      },
    };
    signal.addEventListener('abort', () => { remove(); resolve({ decision: 'deny', reason: 'no longer pending' }); }, { once: true });
    approvals.pending.push(entry);
    approvals.onChange?.();
  }));

  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    io.stderr.write(`agentd tui: ${(err as Error).message}${own ? logHint(flags) : ''}\n`);
    return 1;
  }

  let result: { code: number; message?: string } = { code: 0 };
  const app = render(h(App, {
    client, approvals, session: flags.session, provider: flags.provider, model: flags.model,
    onExit: (code, message) => { result = { code, message }; },
  }), {
    stdin: io.stdin, stdout: io.stdout, stderr: io.stderr as NodeJS.WriteStream,
    exitOnCtrlC: false, patchConsole: false, maxFps: 30,
  });
  await app.waitUntilExit();
  await client.close().catch(() => undefined);
  if (result.message) io.stderr.write(`agentd tui: ${result.message}${own && result.code ? logHint(flags) : ''}\n`);
  return result.code;
}
