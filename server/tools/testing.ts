/**
 * Test-only tools, offered only when AGENTD_TEST_TOOLS=1 (never in production): they let the
 * durability tests kill the server, its parent or a turn in the middle of a running tool.
 *
 * `test_sleep` {"seconds": n}: starts `sh` in its own process group (through the process
 * registry), which starts `sleep n` in the background; the tool's first output line is
 * `pids <sh> <sleep>`, so a test can check that the whole group is gone afterwards. With
 * `"ignoreAbort": true` it does not stop when its turn is cancelled (a misbehaving tool).
 */
import type { Tool, ToolResultPart } from '../../protocol/index.js';
import type { ToolHost } from './host.js';
import type { ProcessRegistry } from './processes.js';

const SLEEP: Tool = {
  name: 'test_sleep',
  description: 'Test only: run a subprocess group that sleeps for `seconds` and report its pids.',
  inputSchema: { type: 'object', properties: { seconds: { type: 'number' }, ignoreAbort: { type: 'boolean' } } },
  source: { type: 'builtin' },
};

const text = (toolUseId: string, t: string, isError = false): ToolResultPart => ({
  type: 'tool_result', toolUseId, content: [{ type: 'text', text: t }], ...(isError ? { isError } : {}),
});

/** Wraps a host, adding the test tools. */
export function withTestTools(inner: ToolHost, processes: ProcessRegistry): ToolHost {
  return {
    list: (session) => [...inner.list(session), SLEEP],
    execute: async (call, ctx) => {
      if (call.name !== SLEEP.name) return inner.execute(call, ctx);
      const seconds = Math.max(0, Number(call.input.seconds ?? 30)) || 30;
      const child = processes.spawn('sh', ['-c', `sleep ${seconds} & echo "pids $$ $!"; wait`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d; ctx.output('stdout', d.toString()); });
      child.stderr!.on('data', (d: Buffer) => ctx.output('stderr', d.toString()));
      const onAbort = () => { if (call.input.ignoreAbort !== true) processes.kill(child); };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        return text(call.id, `${out.trim()}\nexit ${code}`, code !== 0);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
