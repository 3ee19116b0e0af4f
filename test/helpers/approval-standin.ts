/**
 * A stand-in for the approval gate while this build has none (no write_file, no approvals):
 * an in-process server — the real Core, HTTP server, WebSocket transport and REST bridge — whose
 * one tool, `write_file`, asks the way the protocol says: a `permission.requested` event, a
 * `permission/request` to a subscribed client that declared `permissionRequests`, then
 * `permission.resolved`; on allow it writes the file into the session's workspace.
 * The clients under test (terminal chat, browser page) cannot tell it from the real gate.
 * Once the real gate is in, tests use the real server and this helper is only a fallback.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bridgeHandler } from '../../bridge/app.js';
import type { PermissionRequestResult } from '../../protocol/index.js';
import { Core } from '../../server/core.js';
import { createLogger } from '../../server/log.js';
import { setHttpHandler, startHttp } from '../../server/serve.js';
import type { ToolHost } from '../../server/tools/host.js';
import { tempDir } from './rpc-client.js';

export interface StandinServer {
  core: Core;
  url: string;
  wsUrl: string;
  workspace: string;
  close(): Promise<void>;
}

function approvalTools(core: Core): ToolHost {
  return {
    list: () => [{
      name: 'write_file', description: 'Write a file (asks for approval; test stand-in)',
      inputSchema: { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' } }, required: ['path', 'content'] },
      source: { type: 'builtin' },
    }],
    async execute(call, ctx) {
      const result = (text: string, isError = false) => ({ type: 'tool_result' as const, toolUseId: call.id, isError, content: [{ type: 'text' as const, text }] });
      if (call.name !== 'write_file') return result(`Unknown tool: ${call.name}`, true);
      const path = String(call.input.path);
      const sessionId = ctx.session.id;
      const permissionId = `perm_${randomBytes(8).toString('hex')}`;
      const ask = { permissionId, turnId: ctx.turnId, callId: call.id, tool: call.name, input: call.input, summary: `write ${path}` };
      core.events.append(sessionId, 'permission.requested', ask);
      const peer = [...core.peers].find((p) => p.capabilities.permissionRequests && p.request && p.subscriptions.has(sessionId));
      let answer: PermissionRequestResult = { decision: 'deny', reason: 'no client can answer' };
      if (peer) {
        try {
          answer = (await peer.request!('permission/request', { sessionId, ...ask }, ctx.signal)) as PermissionRequestResult;
        } catch (err) {
          answer = { decision: 'deny', reason: (err as Error).message };
        }
      }
      core.events.append(sessionId, 'permission.resolved', { permissionId, callId: call.id, tool: call.name, decision: answer.decision, ...(answer.reason ? { reason: answer.reason } : {}) });
      if (answer.decision === 'deny') return result(`Denied: ${answer.reason ?? 'by the user'}`, true);
      const content = String(call.input.content ?? '');
      writeFileSync(join(resolve(core.cwd, ctx.session.workspaceRoot), path), content);
      return result(`Wrote ${Buffer.byteLength(content)} bytes to ${path}`);
    },
  };
}

export async function startStandin(): Promise<StandinServer> {
  const workspace = tempDir('agentd-standin-ws-');
  const core = new Core({ dataDir: tempDir(), cwd: workspace, log: createLogger('warn') });
  core.tools = approvalTools(core);
  setHttpHandler(bridgeHandler());
  const http = await startHttp(core, { port: 0 });
  return {
    core, url: http.url, wsUrl: `${http.url.replace(/^http/, 'ws')}/rpc`, workspace,
    close: async () => {
      await http.close();
      await core.close();
    },
  };
}
