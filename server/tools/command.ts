/**
 * run_command: a shell command in the workspace root, in the sandbox (server/tools/sandbox.ts)
 * unless the config turns it off, in its own process group, with an environment built from an
 * allowlist, a timeout (limits.commandTimeoutMs), an output cap, its output streamed as
 * `tool.output` events, and the whole group killed on cancel or timeout (bwrap is the group
 * leader; --die-with-parent and the PID namespace take everything inside down with it).
 */
import { spawn } from 'node:child_process';
import type { BuiltinTool } from './builtin-tool.js';
import { ToolError } from './workspace.js';

/** Output kept for the result (and streamed), per call. */
export const OUTPUT_CAP = 64 * 1024;

export const runCommandTool: BuiltinTool = {
  name: 'run_command',
  description: 'Run a shell command (sh -c) in the workspace root. Output (stdout and stderr) is streamed and capped; the command is killed on timeout or cancel. Non-zero exit is an error result.',
  readOnly: false,
  inputSchema: {
    type: 'object', additionalProperties: false, required: ['command'],
    properties: {
      command: { type: 'string', minLength: 1, description: 'The shell command line.' },
      timeout_ms: { type: 'integer', minimum: 1, description: 'Timeout in milliseconds; at most (and by default) the server limit `limits.commandTimeoutMs`.' },
    },
  },
  async run(input, { root, signal, output, limits, processes, sandbox }) {
    const limit = limits().commandTimeoutMs;
    const timeoutMs = Math.min((input.timeout_ms as number | undefined) ?? limit, limit);
    const prepared = await sandbox.prepare(input.command as string, root);
    if (typeof prepared === 'string') throw new ToolError(prepared);
    return new Promise<string>((resolve, reject) => {
      if (signal.aborted) { prepared.cleanup(); return reject(new ToolError('cancelled')); }
      const extra = Array.from({ length: prepared.extraPipes ?? 0 }, () => 'pipe' as const);
      const child = spawn(prepared.file, prepared.args, {
        cwd: root, env: prepared.env, detached: true, stdio: ['ignore', 'pipe', 'pipe', ...extra],
      });
      processes.register(child);
      const killGroup = () => processes.kill(child);
      let setupFailed: string | undefined;
      for (const pipe of child.stdio.slice(3)) pipe?.on('error', () => {});
      prepared.start?.(child).catch((err: Error) => { setupFailed = `Cannot set up the sandbox's network: ${err.message}. Set tools.runCommand.network to false (no network) or hostLoopback to true (the host's network) to run commands without slirp4netns.`; killGroup(); });
      let kept = 0;
      let dropped = 0;
      let text = '';
      let timedOut = false;
      const onData = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
        const s = d.toString('utf8');
        const room = OUTPUT_CAP - kept;
        if (room <= 0) { dropped += s.length; return; }
        const piece = s.length > room ? s.slice(0, room) : s;
        dropped += s.length - piece.length;
        kept += piece.length;
        text += piece;
        output(stream, piece);
      };
      child.stdout!.on('data', onData('stdout'));
      child.stderr!.on('data', onData('stderr'));
      const timer = setTimeout(() => { timedOut = true; killGroup(); }, timeoutMs);
      const onAbort = () => killGroup();
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = () => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); prepared.cleanup(); };
      // The shell is done: whatever it left running in its group (holding our pipes) goes too.
      child.on('exit', () => killGroup());
      child.on('error', (err) => { finish(); reject(new ToolError(`Cannot run command: ${err.message}`)); });
      child.on('close', (code, sig) => {
        finish();
        const tail = dropped ? `\n[output truncated: ${dropped} more characters]` : '';
        const body = text + tail;
        if (signal.aborted) return reject(new ToolError(`Command cancelled\n${body}`));
        if (timedOut) return reject(new ToolError(`Command timed out after ${timeoutMs} ms\n${body}`));
        // After cancel and timeout: killing the group during the set-up also ends the set-up.
        if (setupFailed) return reject(new ToolError(setupFailed));
        if (code !== 0) return reject(new ToolError(`Exit code ${code ?? sig}\n${body}`));
        resolve(body || '(no output)');
      });
    });
  },
};
