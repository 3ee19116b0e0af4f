/**
 * Where run_command's commands run (config `tools.runCommand`). By default in a bubblewrap
 * (`bwrap`) sandbox on Linux: a new mount namespace whose root is an empty tmpfs holding only
 * the system directories (read-only), the Node that runs agentd (read-only), the workspace
 * (read-write) at its own path, a private /tmp with an empty HOME in it, a minimal /dev and a
 * /proc of a new PID namespace (no other process is visible, so neither is the server's
 * environment). The real home directory, other users' files, /run, /var, /srv and agentd's data
 * directory (config, credentials.json, the database) are not mounted at all; the data
 * directory is covered with an empty tmpfs where it lies below something that is mounted (the
 * workspace, say). The network: with `network: false`, a network namespace of its own with only
 * an unconnected loopback; by default also a namespace of its own, connected to the outside by
 * slirp4netns (a user-mode network stack) with no route to the host's loopback, so a command can
 * fetch packages but cannot reach agentd's own port (and turn the sandbox off, or answer its own
 * approvals) or any other local service; with `hostLoopback: true`, or where slirp4netns is
 * missing, the host's network, loopback included.
 * The environment is built from an allowlist, never from the server's environment minus a
 * denylist. Where bwrap is missing or cannot create namespaces (probed once, cached), commands
 * run only if the config says `sandbox: "off"`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CommandSandbox as SandboxStatus, RunCommandConfig } from '../../protocol/index.js';
import { isInside } from './workspace.js';
import { programs } from '../config/defaults.js';

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
  /** Pipes beyond stdin, stdout and stderr that `start` uses (fd 3 on). */
  extraPipes?: number;
  /** Run once the process is spawned, before the command may start (it waits for this); rejects when it must not run. */
  start?(child: ChildProcess): Promise<void>;
  cleanup(): void;
}

/** How a sandboxed command reaches the network. */
type Net = 'none' | 'host' | 'slirp';

/** Directories of the system mounted read-only (those that exist). */
const SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix'];
/** Files under /etc a command never needs and root could read. */
const MASKED = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers'];
/** HOME inside the sandbox: in its private /tmp, so it is empty and vanishes with the sandbox. */
const SANDBOX_HOME = '/tmp/.agentd-home';
const PROBE_TIMEOUT_MS = 5000;
/** slirp4netns's DNS forwarder, as seen from inside its network namespace. */
const SLIRP_DNS = '10.0.2.3';
/** bwrap's --info-fd JSON is a few hundred bytes. */
const INFO_MAX_BYTES = 16 * 1024;

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
export function bwrapArgs(o: { root?: string; net: Net; readOnly: readonly string[]; hidden: readonly string[]; resolvConf?: string }): string[] {
  const a = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (o.net !== 'host') a.push('--unshare-net');
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
    // With slirp4netns, names resolve through its forwarder: the host's resolver may be on loopback.
    if (o.resolvConf) a.push('--ro-bind', o.resolvConf, resolv);
    else if (!mounted.some((m) => isInside(m, resolv))) a.push('--ro-bind', resolv, resolv);
  } catch {
    if (o.resolvConf) a.push('--ro-bind', o.resolvConf, '/etc/resolv.conf');
  }
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
        args = [...bwrapArgs({ net: 'none', readOnly: [], hidden: [] }), '--as-pid-1', '--', 'sh', '-c', 'exit 0'];
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

  /** Whether slirp4netns runs here (probed once; it needs /dev/net/tun for the namespace's tap device). */
  private slirp(): Promise<boolean> {
    this.slirpProbed ??= new Promise((resolve) => {
      if (!exists('/dev/net/tun') || !programs.slirp4netns()) return resolve(false);
      const child = spawn(programs.slirp4netns(), ['--version'], { stdio: 'ignore', env: { PATH: process.env.PATH } });
      const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
      child.on('error', () => { clearTimeout(timer); resolve(false); });
      child.on('close', (code) => { clearTimeout(timer); resolve(code === 0); });
    });
    return this.slirpProbed;
  }
  private slirpProbed?: Promise<boolean>;

  /** How commands reach the network under the current settings, and why the host's is shared when not asked for. */
  private async net(s: RunCommandConfig): Promise<{ net: Net; why?: string }> {
    if (s.network === false) return { net: 'none' };
    if (s.hostLoopback === true) return { net: 'host' };
    return (await this.slirp()) ? { net: 'slirp' } : { net: 'host', why: 'slirp4netns is not installed (Debian: apt-get install slirp4netns), so commands share the host\'s network, loopback included' };
  }

  /** The mode in force now (for tool/list and initialize). */
  async status(): Promise<SandboxStatus> {
    const s = this.deps.settings() ?? {};
    if (s.sandbox === 'off') return { mode: 'off', network: true, hostLoopback: true };
    // Both probes side by side (initialize waits for them); the network's is unused when bwrap cannot run.
    const [reason, { net, why }] = await Promise.all([this.probe(), this.net(s)]);
    const network = s.network !== false;
    if (reason) return { mode: 'unavailable', network, hostLoopback: false, reason };
    return { mode: 'bwrap', network, hostLoopback: net === 'host', ...(why ? { reason: why } : {}) };
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
    const { net } = await this.net(s);
    if (net !== 'slirp') {
      const args = [...bwrapArgs({ root, net, readOnly: s.readOnlyPaths ?? [], hidden }), '--clearenv', ...setenv, '--', '/bin/sh', '-c', command];
      return { file: 'bwrap', args, env, cleanup: () => {} };
    }
    // bwrap reports its sandbox's pid on fd 5. The command starts behind a few lines of shell that
    // say "running" on fd 3 and wait on fd 4 for slirp4netns to plug the new network namespace in,
    // so the command never runs without its network. slirp4netns starts only once the sandbox runs:
    // bwrap configures the namespace's loopback first, and the two racing broke that setup.
    const dir = mkdtempSync(join(tmpdir(), 'agentd-net-'));
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${SLIRP_DNS}\n`);
    const gate = 'printf 1 >&3 && exec 3>&- && read -r go <&4 && exec 4<&- && exec /bin/sh -c "$1"';
    const args = [...bwrapArgs({ root, net, readOnly: s.readOnlyPaths ?? [], hidden, resolvConf }), '--info-fd', '5', '--clearenv', ...setenv, '--', '/bin/sh', '-c', gate, 'agentd-sandbox', command];
    let slirp: ChildProcess | undefined;
    return {
      file: 'bwrap', args, env, extraPipes: 3,
      start: async (child) => {
        const [pid] = await Promise.all([childPid((child.stdio as unknown as Readable[])[5]), firstByte(child.stdio[3] as Readable, 'the sandbox did not start')]);
        slirp = await startSlirp(pid);
        (child.stdio[4] as Writable).end('1\n');
      },
      cleanup: () => {
        slirp?.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Resolves on the first byte from `r`; rejects when it ends first or after the probe timeout. */
function firstByte(r: Readable, why: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(why)), PROBE_TIMEOUT_MS);
    const done = (err?: Error) => {
      clearTimeout(timer);
      r.removeAllListeners('data');
      r.removeAllListeners('end');
      r.on('error', () => {});
      r.destroy();
      return err ? reject(err) : resolve();
    };
    r.on('error', (e) => done(e));
    r.once('data', () => done());
    r.once('end', () => done(new Error(why)));
  });
}

/** The sandbox's pid, from bwrap's --info-fd JSON (`{"child-pid": N, ...}`). */
function childPid(info: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error('bwrap did not report its sandbox')), PROBE_TIMEOUT_MS);
    const done = (err?: Error, pid?: number) => {
      clearTimeout(timer);
      info.removeAllListeners('data');
      info.on('error', () => {});
      info.destroy();
      return err ? reject(err) : resolve(pid!);
    };
    info.on('error', (e) => done(e));
    info.on('end', () => done(new Error('bwrap ended before reporting its sandbox')));
    info.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.length > INFO_MAX_BYTES) return done(new Error('bwrap\'s report is too long'));
      try {
        const pid = (JSON.parse(text) as { 'child-pid'?: unknown })['child-pid'];
        if (Number.isInteger(pid) && (pid as number) > 1) done(undefined, pid as number);
        else done(new Error('bwrap\'s report has no child-pid'));
      } catch { /* more to come */ }
    });
  });
}

/**
 * slirp4netns attached to the sandbox's network namespace: an interface with a route out and DNS,
 * no route to the host's loopback. It exits when we close its exit fd (or when we die, closing
 * it), and is killed when the command ends.
 */
function startSlirp(pid: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = ['--configure', '--mtu=65520', '--disable-host-loopback', '--ready-fd=3', '--exit-fd=4', String(pid), 'tap0'];
    const slirp = spawn(programs.slirp4netns(), args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let err = '';
    const timer = setTimeout(() => fail('slirp4netns did not come up in time'), PROBE_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      slirp.kill('SIGKILL');
      reject(new Error(`${why}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}`));
    };
    for (const fd of [2, 3, 4]) (slirp.stdio[fd] as Readable | Writable).on('error', () => {});
    slirp.stderr!.on('data', (d) => { if (err.length < 2000) err += d; });
    slirp.on('error', (e) => fail(`cannot start slirp4netns: ${e.message}`));
    slirp.on('exit', (code) => fail(`slirp4netns exited (${code})`));
    (slirp.stdio[3] as Readable).once('data', () => {
      clearTimeout(timer);
      slirp.removeAllListeners('exit');
      resolve(slirp);
    });
  });
}
