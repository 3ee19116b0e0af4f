/**
 * An MCP server's OAuth sign-in from VS Code: a loopback listener (RFC 8252) receives the
 * authorization server's redirect, mcp/auth/start gives the URL for that redirect URI, VS Code opens
 * it in the user's browser (vscode.env.openExternal), and the code and state that come back go to
 * mcp/auth/callback. As `agentd mcp login` does from a terminal; nothing of the code is logged.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as vscode from 'vscode';
import { Methods, type AgentClient } from '../../protocol/client/node.js';

/** How long the listener waits for the browser. */
const TIMEOUT_MS = 10 * 60_000;
const PAGE = (msg: string) => `<!doctype html><meta charset="utf-8"><title>agentd</title><p>${msg}</p>`;

export async function mcpSignIn(client: AgentClient, name: string): Promise<void> {
  const server = createServer();
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    const redirect = new Promise<{ code: string; state: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no sign-in within ${TIMEOUT_MS / 60_000} minutes`)), TIMEOUT_MS);
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        if (req.method !== 'GET' || url.pathname !== '/callback') { res.writeHead(404).end(); return; }
        const code = url.searchParams.get('code');
        const state = url.searchParams.get('state');
        clearTimeout(timer);
        if (!code || !state) {
          res.writeHead(400, { 'content-type': 'text/html' }).end(PAGE('Sign-in failed; see VS Code.'));
          reject(new Error(`${name}: sign-in failed (${(url.searchParams.get('error') ?? 'no code').slice(0, 100)})`));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE('Signed in. You can close this tab.'));
        resolve({ code, state });
      });
    });
    const { authorizationUrl } = await client.request(Methods.McpAuthStart, { name, redirectUri });
    if (!/^https?:/i.test(authorizationUrl)) throw new Error(`${name}: not an http(s) sign-in URL`);
    if (!await vscode.env.openExternal(vscode.Uri.parse(authorizationUrl, true))) throw new Error(`${name}: the sign-in URL was not opened`);
    const { code, state } = await redirect;
    const { server: s } = await client.request(Methods.McpAuthCallback, { name, code, state });
    if (s.status !== 'connected') throw new Error(`${name}: ${s.status}${s.error ? ` (${s.error})` : ''}`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
