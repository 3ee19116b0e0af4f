/**
 * An MCP server's OAuth sign-in from VS Code: a loopback listener (RFC 8252) receives the
 * authorization server's redirect, mcp/auth/start gives the URL for that redirect URI, VS Code opens
 * it in the user's browser (vscode.env.openExternal), and the code and state that come back go to
 * mcp/auth/callback. As `agentd mcp login` does from a terminal; nothing of the code is logged.
 */
import * as vscode from 'vscode';
import { listenForRedirect, RedirectError } from '../../protocol/client/loopback-redirect.js';
import { Methods, type AgentClient } from '../../protocol/client/node.js';

/** How long the listener waits for the browser. */
const TIMEOUT_MS = 10 * 60_000;

export async function mcpSignIn(client: AgentClient, name: string): Promise<void> {
  const redirect = await listenForRedirect({ timeoutMs: TIMEOUT_MS, failureHint: 'see VS Code' });
  try {
    const { authorizationUrl } = await client.request(Methods.McpAuthStart, { name, redirectUri: redirect.redirectUri });
    if (!/^https?:/i.test(authorizationUrl)) throw new Error(`${name}: not an http(s) sign-in URL`);
    if (!await vscode.env.openExternal(vscode.Uri.parse(authorizationUrl, true))) throw new Error(`${name}: the sign-in URL was not opened`);
    const { code, state } = await redirect.result.catch((err: unknown) => {
      if (!(err instanceof RedirectError)) throw err;
      throw new Error(err.reason === 'timeout' ? `${name}: no sign-in within ${TIMEOUT_MS / 60_000} minutes` : `${name}: sign-in failed (${err.error ?? 'no code'})`);
    });
    const { server: s } = await client.request(Methods.McpAuthCallback, { name, code, state });
    if (s.status !== 'connected') throw new Error(`${name}: ${s.status}${s.error ? ` (${s.error})` : ''}`);
  } finally {
    redirect.close();
  }
}
