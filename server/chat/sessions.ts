/**
 * `agentd session list|show|delete`: sessions for scripts. Plain text by default (tab-separated
 * lines for list), `--json` prints the protocol's result objects unchanged.
 */
import { withClient, type ConnectFlags } from './connect.js';
import { messageLines, sessionLine } from './format.js';

export interface SessionFlags extends ConnectFlags {
  json?: boolean;
}

const print = (s: string) => { process.stdout.write(`${s}\n`); };

export function sessionList(flags: SessionFlags) {
  return withClient(flags, async (client) => {
    const r = await client.listSessions();
    if (flags.json) print(JSON.stringify(r));
    else for (const s of r.sessions) print(sessionLine(s));
  });
}

export function sessionShow(id: string, flags: SessionFlags) {
  return withClient(flags, async (client) => {
    const r = await client.getSession(id);
    if (flags.json) { print(JSON.stringify(r)); return; }
    const s = r.session;
    print(`session ${s.id}${s.name ? ` (${s.name})` : ''}`);
    print(`model ${s.provider}/${s.model} · ${s.status} · ${r.messages.length} messages · updated ${s.updatedAt}`);
    print(`workspace ${s.workspaceRoot}`);
    for (const m of r.messages) for (const l of messageLines(m)) print(l);
  });
}

export function sessionDelete(id: string, flags: SessionFlags) {
  return withClient(flags, async (client) => {
    const r = await client.deleteSession(id);
    if (flags.json) print(JSON.stringify(r));
    else process.stderr.write(`deleted ${r.sessionId}\n`);
  });
}
