/**
 * The loopback listener of an OAuth sign-in from a native app (RFC 8252 §7.3), Node only: it
 * listens on 127.0.0.1, gives the redirect URI `http://127.0.0.1:PORT/callback` to put in the
 * authorization request, and waits for the browser's one GET there with `code` and `state`. Used
 * for MCP sign-in (mcp/auth/start … mcp/auth/callback) by `agentd mcp login` and the VS Code
 * extension. It never logs the code.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackRedirectOptions {
  /** Loopback port to listen on; default 0 (any free one). */
  port?: number;
  /** How long to wait for the redirect, from listening on, in ms. */
  timeoutMs: number;
  /** Where the user should look when sign-in failed, shown on the browser's page ("see the terminal"). */
  failureHint: string;
}

export interface LoopbackRedirect {
  /** `http://127.0.0.1:PORT/callback`. */
  redirectUri: string;
  /** The code and state of the redirect; a RedirectError when it carries an error or none comes in time. */
  result: Promise<{ code: string; state: string }>;
  /** Stops listening (and waiting). */
  close(): void;
}

export class RedirectError extends Error {
  override readonly name = 'RedirectError';
  constructor(
    /** `timeout`: no redirect in time; `refused`: the redirect carried an error or no code. */
    readonly reason: 'timeout' | 'refused',
    /** The redirect's `error` parameter (at most 100 characters). */
    readonly error?: string,
    /** Its `error_description` (at most 300 characters). */
    readonly description?: string,
  ) {
    super(reason === 'timeout' ? 'no redirect in time' : `sign-in refused: ${error ?? 'no code'}`);
  }
}

const PAGE = (msg: string) => `<!doctype html><meta charset="utf-8"><title>agentd</title><p>${msg}</p>`;

export async function listenForRedirect(o: LoopbackRedirectOptions): Promise<LoopbackRedirect> {
  const server = createServer();
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(o.port ?? 0, '127.0.0.1', () => resolve()); });
  let timer: NodeJS.Timeout | undefined;
  const result = new Promise<{ code: string; state: string }>((resolve, reject) => {
    // (Node's timers hold at most 2^31 - 1 ms; a longer one would fire at once.)
    timer = setTimeout(() => reject(new RedirectError('timeout')), Math.min(o.timeoutMs, 2 ** 31 - 1));
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method !== 'GET' || url.pathname !== '/callback') { res.writeHead(404).end(); return; }
      const code = url.searchParams.get('code');
      const state = url.searchParams.get('state');
      const error = url.searchParams.get('error');
      clearTimeout(timer);
      if (error || !code || !state) {
        res.writeHead(400, { 'content-type': 'text/html' }).end(PAGE(`Sign-in failed; ${o.failureHint}.`));
        reject(new RedirectError('refused', error?.slice(0, 100), url.searchParams.get('error_description')?.slice(0, 300)));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE('Signed in. You can close this tab.'));
      resolve({ code, state });
    });
  });
  // A caller that gives up before the redirect (mcp/auth/start failed) does not await it.
  result.catch(() => undefined);
  return {
    redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    result,
    close: () => {
      clearTimeout(timer);
      server.closeAllConnections();
      server.close();
    },
  };
}
