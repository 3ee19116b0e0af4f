/**
 * Drives a terminal program as a user would: in a tmux pane on a private tmux server (its own
 * socket), with send-keys and capture-pane. The program's exit code lands in a file; the pane
 * stays so the screen can still be read after it exited.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './rpc-client.js';

export const hasTmux = () => spawnSync('tmux', ['-V']).status === 0;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class Tmux {
  private constructor(private socket: string, private exitFile: string) {}

  /** Starts `argv` in a new pane (width × height) with `env` added to the environment. */
  static start(argv: string[], opts: { env?: Record<string, string>; cwd?: string; width?: number; height?: number } = {}): Tmux {
    const dir = tempDir('agentd-tmux-');
    const socket = join(dir, 'sock');
    const exitFile = join(dir, 'exit');
    const cmd = `${argv.map(quote).join(' ')}; echo $? > ${quote(exitFile)}; sleep 600`;
    const r = spawnSync('tmux', ['-S', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 't', '-x', String(opts.width ?? 120), '-y', String(opts.height ?? 40), cmd], {
      env: { ...process.env, ...opts.env }, cwd: opts.cwd, encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
    return new Tmux(socket, exitFile);
  }

  private tmux(...args: string[]) {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Keys by tmux name (`Enter`, `C-c`, `C-d`). */
  keys(...keys: string[]) { this.tmux('send-keys', '-t', 't', ...keys); }

  /** Types text literally, then Enter. */
  type(text: string) {
    this.tmux('send-keys', '-t', 't', '-l', text);
    this.tmux('send-keys', '-t', 't', 'Enter');
  }

  /** The visible screen plus all the scrollback (tmux keeps 2000 lines), trailing blank lines dropped. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 't').replace(/\s+$/, '');
  }

  /** Waits until the screen matches (after `from` characters of it); returns the screen. */
  async waitFor(what: string | RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      const rest = s.slice(from);
      if (typeof what === 'string' ? rest.includes(what) : what.test(rest)) return s;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The program's exit code once it exited (undefined until then). */
  exitCode(): number | undefined {
    return existsSync(this.exitFile) && readFileSync(this.exitFile, 'utf8').trim() ? Number(readFileSync(this.exitFile, 'utf8').trim()) : undefined;
  }

  async waitForExit(timeoutMs = 10_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const c = this.exitCode();
      if (c !== undefined) return c;
      if (Date.now() > end) throw new Error(`program did not exit within ${timeoutMs} ms; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the tmux server and everything in it. */
  kill() { spawnSync('tmux', ['-S', this.socket, 'kill-server']); }
}
