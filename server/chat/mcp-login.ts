/**
 * `agentd mcp login NAME` / `agentd mcp logout NAME`: the OAuth sign-in of an HTTP MCP server
 * from a terminal. Login listens on a loopback port for the redirect (RFC 8252), asks the server
 * for the authorization URL with that redirect URI (mcp/auth/start), prints it (stderr) for the
 * user to open, and hands the code and state that come back to mcp/auth/callback. Nothing of the
 * code or tokens is printed.
 */
import { listenForRedirect, RedirectError } from '../../protocol/client/loopback-redirect.js';
import { UsageError, withClient, type ConnectFlags } from './connect.js';

export interface McpLoginFlags extends ConnectFlags {
  /** Loopback port of the redirect listener; default: any free one. */
  port?: string;
  /** How long to wait for the browser, in seconds; default 600. */
  timeout?: string;
}

export async function mcpLogin(name: string, flags: McpLoginFlags) {
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number');
  const timeoutMs = (flags.timeout === undefined ? 600 : Number(flags.timeout)) * 1000;
  if (!(timeoutMs > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const redirect = await listenForRedirect({ port, timeoutMs, failureHint: 'see the terminal' });
  try {
    const { redirectUri } = redirect;
    await withClient(flags, async (client) => {
      const { authorizationUrl } = await client.request('mcp/auth/start', { name, redirectUri });
      process.stderr.write(`Open this URL in a browser to sign in to ${name}:\n\n  ${authorizationUrl}\n\nWaiting for the redirect to ${redirectUri} ...\n`);
      const { code, state } = await redirect.result.catch((err: unknown) => { throw usageError(err, timeoutMs); });
      const { server: s } = await client.request('mcp/auth/callback', { name, code, state });
      process.stdout.write(`${name}: ${s.status}${s.error ? ` (${s.error})` : ''}\n`);
      if (s.status !== 'connected') process.exitCode = 1;
    });
  } finally {
    redirect.close();
  }
}

/** What the terminal says when the redirect did not bring a code. */
function usageError(err: unknown, timeoutMs: number): unknown {
  if (!(err instanceof RedirectError)) return err;
  if (err.reason === 'timeout') return new UsageError(`no redirect from the browser within ${timeoutMs / 1000} s`);
  return new UsageError(`the authorization server answered ${err.error ?? 'without a code'}${err.description ? `: ${err.description}` : ''}`);
}

export async function mcpLogout(name: string, flags: ConnectFlags) {
  await withClient(flags, async (client) => {
    const { server: s } = await client.request('mcp/auth/remove', { name });
    process.stdout.write(`${name}: signed out (${s.status})\n`);
  });
}
