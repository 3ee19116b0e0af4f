/**
 * Where run_command's commands run (config `tools.runCommand`). By default in a bubblewrap
 * (`bwrap`) sandbox on Linux: a new mount namespace whose root is an empty tmpfs holding only
 * the system directories (read-only), the Node that runs agentd (read-only), the workspace
 * (read-write) at its own path, a private /tmp with an empty HOME in it, a minimal /dev and a
 * /proc of a new PID namespace (no other process is visible, so neither is the server's
 * environment). The real home directory, other users' files, /run, /var, /srv and agentd's data
 * directory (config, credentials.json, the database) are not mounted at all; the data
 * directory is covered with an empty tmpfs where it lies below something that is mounted (the
 * workspace, say). Network stays on unless `network: false` (a network namespace of its own).
 * The environment is built from an allowlist, never from the server's environment minus a
 * denylist. Where bwrap is missing or cannot create namespaces (probed once, cached), commands
 * run only if the config says `sandbox: "off"`.
 */
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CommandSandbox as SandboxStatus, RunCommandConfig } from '../../protocol/index.js';
import { isInside } from './workspace.js';

/** What the sandbox needs from the rest of the server. */
export interface SandboxDeps {
  /** The current `tools.runCommand` config. */
  settings(): RunCommandConfig | undefined;
  /** agentd's data directory: never visible to a command. */
  dataDir?: string;
}

/** How to start one command: the program, its arguments and environment, and what to remove afterwards. */
export interface PreparedCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** Directories of the system mounted read-only (those that exist). */
const SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix'];
/** Files under /etc a command never needs and root could read. */
const MASKED = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers'];
/** HOME inside the sandbox: in its private /tmp, so it is empty and vanishes with the sandbox. */
const SANDBOX_HOME = '/tmp/.agentd-home';
const PROBE_TIMEOUT_MS = 5000;

/** Environment variables a command may see, besides `passEnv`. */
const ALLOWED = new Set(['PATH', 'LANG', 'LANGUAGE', 'TERM', 'COLORTERM', 'TZ']);
const allowed = (name: string, extra: readonly string[]) => ALLOWED.has(name) || name.startsWith('LC_') || extra.includes(name);

/** A command's environment: only allowlisted names from `source`, HOME set to `home`. */
export function commandEnv(source: NodeJS.ProcessEnv, passEnv: readonly string[], home: string, tmp?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && allowed(k, passEnv)) env[k] = v;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.HOME = home;
  if (tmp) env.TMPDIR = tmp;
  return env;
}

const exists = (p: string) => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** The bwrap arguments up to (not including) the command. */
export function bwrapArgs(o: { root?: string; network: boolean; readOnly: readonly string[]; hidden: readonly string[] }): string[] {
  const a = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (!o.network) a.push('--unshare-net');
  // Root keeps its capabilities in the sandbox unless told otherwise (no user namespace then).
  if (process.getuid?.() === 0) a.push('--cap-drop', 'ALL');
  const mounted: string[] = [];
  for (const d of SYSTEM) {
    if (!exists(d)) continue;
    if (lstatSync(d).isSymbolicLink()) a.push('--symlink', readlinkSync(d), d); // merged /usr: /bin -> usr/bin
    else {
      a.push('--ro-bind', d, d);
      mounted.push(d);
    }
  }
  // The Node that runs agentd (it may live under the home directory, as with nvm), and the user's extras.
  const nodePrefix = dirname(dirname(realpathSync(process.execPath)));
  for (const p of [nodePrefix, ...o.readOnly]) {
    if (mounted.some((m) => isInside(m, p)) || !exists(p)) continue;
    a.push('--ro-bind', p, p);
    mounted.push(p);
  }
  // resolv.conf is often a symlink into /run, which is not mounted.
  try {
    const resolv = realpathSync('/etc/resolv.conf');
    if (!mounted.some((m) => isInside(m, resolv))) a.push('--ro-bind', resolv, resolv);
  } catch { /* no resolv.conf */ }
  for (const f of MASKED) if (exists(f)) a.push('--ro-bind', '/dev/null', f);
  a.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--dir', SANDBOX_HOME);
  if (o.root) {
    a.push('--bind', o.root, o.root, '--chdir', o.root);
    mounted.push(o.root);
  }
  // Last, so they cover whatever was mounted above them (the data directory inside the workspace).
  for (const h of o.hidden) {
    if (o.root && isInside(h, o.root)) continue; // it contains the workspace: covering it would hide the workspace
    if (mounted.some((m) => isInside(m, h))) a.push('--tmpfs', h);
  }
  return a;
}

export class CommandSandbox {
  private probed?: Promise<string | undefined>;

  constructor(private deps: SandboxDeps) {}

  private real(p: string | undefined): string | undefined {
    if (!p) return undefined;
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  }

  /** Why bwrap cannot run here, or undefined when it can (probed once: a no-op command with every namespace used). */
  probe(): Promise<string | undefined> {
    this.probed ??= new Promise((resolve) => {
      if (process.platform !== 'linux') return resolve(`bubblewrap needs Linux (this is ${process.platform})`);
      let args: string[];
      try {
        // --as-pid-1: the no-op is the namespace's init, so bwrap starts no init of its own, which
        // would outlive the outer bwrap as a zombie until the system's init reaps it (a process
        // left in the caller's group after `agentd run` exits). The namespaces tried are the same.
        args = [...bwrapArgs({ network: false, readOnly: [], hidden: [] }), '--as-pid-1', '--', 'sh', '-c', 'exit 0'];
      } catch (err) {
        return resolve(`cannot prepare the sandbox: ${(err as Error).message}`);
      }
      let err = '';
      const child = spawn('bwrap', args, { stdio: ['ignore', 'ignore', 'pipe'], env: commandEnv(process.env, [], SANDBOX_HOME) });
      const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
      child.stderr!.on('data', (d) => { if (err.length < 2000) err += d; });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'bwrap is not installed (Debian: apt-get install bubblewrap)' : `bwrap cannot start: ${e.message}`);
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve(code === 0 ? undefined : `bwrap cannot create the sandbox here: ${err.trim().split('\n')[0] || `exit ${code ?? sig}`}`);
      });
    });
    return this.probed;
  }

  /** The mode in force now (for tool/list and initialize). */
  async status(): Promise<SandboxStatus> {
    const s = this.deps.settings() ?? {};
    if (s.sandbox === 'off') return { mode: 'off', network: true };
    const reason = await this.probe();
    const network = s.network !== false;
    return reason ? { mode: 'unavailable', network, reason } : { mode: 'bwrap', network };
  }

  /** How to run `command` in `root`; returns a reason string when it must not run. */
  async prepare(command: string, root: string): Promise<PreparedCommand | string> {
    const s = this.deps.settings() ?? {};
    const passEnv = s.passEnv ?? [];
    if (s.sandbox === 'off') {
      const home = mkdtempSync(join(tmpdir(), 'agentd-home-'));
      return { file: '/bin/sh', args: ['-c', command], env: commandEnv(process.env, passEnv, home), cleanup: () => rmSync(home, { recursive: true, force: true }) };
    }
    const reason = await this.probe();
    if (reason) {
      return `run_command is unavailable: commands run in a bubblewrap sandbox, and ${reason}. ` +
        'Install bubblewrap, or set tools.runCommand.sandbox to "off" in the config to run commands unsandboxed (they then see everything the server\'s user can).';
    }
    const hidden = [this.real(this.deps.dataDir), this.real(homedir())].filter((p): p is string => !!p && statSync(p, { throwIfNoEntry: false })?.isDirectory() === true);
    const env = commandEnv(process.env, passEnv, SANDBOX_HOME, '/tmp');
    // The command's environment is set by bwrap itself (--clearenv, --setenv), whatever bwrap's
    // own environment holds; bwrap is started with the same allowlist, since its init (pid 1 in
    // the sandbox, whose /proc/1/environ the command can read) keeps bwrap's.
    const setenv = Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v as string]);
    const args = [...bwrapArgs({ root, network: s.network !== false, readOnly: s.readOnlyPaths ?? [], hidden }), '--clearenv', ...setenv, '--', '/bin/sh', '-c', command];
    return { file: 'bwrap', args, env, cleanup: () => {} };
  }
}
