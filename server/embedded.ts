/**
 * The server inside a client's process, for `agentd run` and, when no server answers, for
 * `agentd chat` and `agentd session`: a Core on the data dir serving one JSON-RPC peer over a
 * pair of in-memory streams with the stdio framing. The client side only sees the streams
 * (protocol/client's pipeConnector), so it stays a pure client. An entry point like serve.ts.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { Core } from './core.js';
import { createLogger } from './log.js';
import { timings } from './config/defaults.js';
import { serveStdio } from './transport/stdio.js';

export interface EmbeddedOptions {
  /** Data directory (default: $AGENTD_HOME or the XDG data dir). */
  dataDir?: string;
  /** Base for relative workspace roots and the project config; default process.cwd(). */
  cwd?: string;
  /** Where the server's log lines go: a log file's descriptor; default 2 (stderr). */
  logFd?: number;
}

export interface EmbeddedServer {
  /** What the server writes. */
  readable: Readable;
  /** What the server reads: end it (or send `exit`) to stop the server. */
  writable: Writable;
  /** Resolves once the server has shut down (turns ended, store closed). */
  exited: Promise<string>;
  /** Stops it without waiting for `exit`. */
  kill(): void;
}

export async function startEmbedded(opts: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const log = createLogger(undefined, opts.logFd ?? 2);
  const core = await (await Core.open({ dataDir: opts.dataDir, cwd: opts.cwd, log, lazyDetection: true })).start();
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  let stopping: Promise<void> | undefined;
  let done!: (why: string) => void;
  const exited = new Promise<string>((resolve) => { done = resolve; });
  const stop = (code: number) => (stopping ??= (async () => {
    try {
      await core.close(timings.shutdownTimeoutMs());
    } catch (err) {
      log.error({ err: String(err) }, 'shutdown failed');
    } finally {
      log.flush?.();
      toClient.end();
      done(`agentd stopped (code ${code})`);
    }
  })());
  const peer = serveStdio(core, { input: toServer, output: toClient, onExit: (code) => void stop(code) });
  core.trackPeer(peer);
  toServer.on('end', () => void stop(0));
  log.info({ dataDir: core.dataDir }, 'agentd serving in-process');
  return { readable: toClient, writable: toServer, exited, kill: () => void stop(1) };
}
