/**
 * `agentd mcp login NAME` / `agentd mcp logout NAME`: the OAuth sign-in of an HTTP MCP server
 * from a terminal. Login listens on a loopback port for the redirect (RFC 8252), asks the server
 * for the authorization URL with that redirect URI (mcp/auth/start), prints it (stderr) for the
 * user to open, and hands the code and state that come back to mcp/auth/callback. Nothing of the
 * code or tokens is printed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentClient } from '../../protocol/client/node.js';
import { connectorFor, UsageError, type ConnectFlags } from './connect.js';

export interface McpLoginFlags extends ConnectFlags {
  /** Loopback port of the redirect listener; default: any free one. */
  port?: string;
  /** How long to wait for the browser, in seconds; default 600. */
  timeout?: string;
}

async function withClient<T>(flags: ConnectFlags, fn: (client: AgentClient) => Promise<T>): Promise<T> {
  const client = new AgentClient(await connectorFor(flags), { clientInfo: { name: 'agentd-cli' } });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

const PAGE = (msg: string) => `<!doctype html><meta charset="utf-8"><title>agentd</title><p>${msg}</p>`;

/** Waits for one GET /callback on the listener: its code and state (or the error it carries). */
function waitForRedirect(server: Server, timeoutMs: number): Promise<{ code: string; state: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new UsageError(`no redirect from the browser within ${timeoutMs / 1000} s`)), timeoutMs);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method !== 'GET' || url.pathname !== '/callback') { res.writeHead(404).end(); return; }
      const code = url.searchParams.get('code');
      const state = url.searchParams.get('state');
      const error = url.searchParams.get('error');
      if (error || !code || !state) {
        res.writeHead(400, { 'content-type': 'text/html' }).end(PAGE('Sign-in failed; see the terminal.'));
        clearTimeout(timer);
        reject(new UsageError(`the authorization server answered ${(error ?? 'without a code').slice(0, 100)}${url.searchParams.get('error_description') ? `: ${url.searchParams.get('error_description')!.slice(0, 300)}` : ''}`));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE('Signed in. You can close this tab.'));
      clearTimeout(timer);
      resolve({ code, state });
    });
  });
}

export async function mcpLogin(name: string, flags: McpLoginFlags) {
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number');
  const timeoutMs = (flags.timeout === undefined ? 600 : Number(flags.timeout)) * 1000;
  if (!(timeoutMs > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const server = createServer();
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    await withClient(flags, async (client) => {
      const { authorizationUrl } = await client.request('mcp/auth/start', { name, redirectUri });
      process.stderr.write(`Open this URL in a browser to sign in to ${name}:\n\n  ${authorizationUrl}\n\nWaiting for the redirect to ${redirectUri} ...\n`);
      const { code, state } = await waitForRedirect(server, timeoutMs);
      const { server: s } = await client.request('mcp/auth/callback', { name, code, state });
      process.stdout.write(`${name}: ${s.status}${s.error ? ` (${s.error})` : ''}\n`);
      if (s.status !== 'connected') process.exitCode = 1;
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

export async function mcpLogout(name: string, flags: ConnectFlags) {
  await withClient(flags, async (client) => {
    const { server: s } = await client.request('mcp/auth/remove', { name });
    process.stdout.write(`${name}: signed out (${s.status})\n`);
  });
}
