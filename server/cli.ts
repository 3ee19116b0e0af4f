/**
 * The `agentd` command. Exit codes: 0 clean, 1 failure (one line on stderr), 2 usage error.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import type { AcpFlags } from './acp/stdio.js';
import type { AuthFlags } from './chat/auth.js';
import type { RunFlags } from './chat/run.js';
import type { McpLoginFlags } from './chat/mcp-login.js';
import type { SessionFlags } from './chat/sessions.js';
import type { ChatFlags } from './chat/terminal.js';
import type { TrustFlags } from './config/trust-command.js';
import type { TuiFlags } from './tui/index.js';
import { resolveDataDir } from './config/paths.js';
import { DEFAULT_PORT } from './config/defaults.js';
import { ApiKeys } from './security/keys.js';
import { DEFAULT_USER, USER_NAME } from './security/caller.js';
import { serve, setHttpHandler } from './serve.js';
import { openStore, storeUrl } from './store/open.js';
import { VERSION } from './version.js';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
};

interface ServeFlags {
  stdio?: boolean; host: string; port: number; dataDir?: string; store?: string;
  tlsCert?: string; tlsKey?: string; tlsCa?: string; requireClientCert?: boolean;
  /** false with --no-project-config. */
  projectConfig?: boolean;
}

const userName = (v: string) => {
  if (!USER_NAME.test(v)) throw new InvalidArgumentError('must be 1 to 64 letters, digits and _ . @ + - (starting with a letter, digit or _)');
  return v;
};

const usage = (message: string) => new CommanderError(2, 'agentd.usage', `error: ${message}`);

/** The keys of the store a server on this data dir uses (`--store`, AGENTD_DATABASE_URL, config `store.url`, SQLite). */
async function withKeys(o: { dataDir?: string; store?: string }, fn: (keys: ApiKeys) => Promise<void>) {
  const dir = resolveDataDir(o.dataDir);
  const { ConfigService } = await import('./config/service.js');
  const config = new ConfigService(dir, process.cwd(), { projectConfig: false }).get().store;
  const store = await openStore(dir, storeUrl(o.store, config), config, (m) => process.stderr.write(`${m}\n`));
  try {
    await fn(new ApiKeys(store));
  } finally {
    await store.close();
  }
}

/**
 * The terminal clients' server of their own (in-process on the data dir, server/embedded.ts),
 * handed to server/chat/connect.ts so the clients never import server internals. Loaded lazily:
 * `serve` never needs the client library.
 */
async function clientCommand<T>(load: () => Promise<T>): Promise<T> {
  const [{ setLocalServer }, mod] = await Promise.all([import('./chat/connect.js'), load()]);
  setLocalServer({
    open: async (o) => (await import('./embedded.js')).startEmbedded(o),
    logFile: (dataDir) => join(resolveDataDir(dataDir), 'agentd.log'),
  });
  return mod;
}

export function buildCli(): Command {
  const program = new Command('agentd')
    .description('AI coding-agent server: JSON-RPC over stdio and WebSocket, REST + SSE at /v1')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('run the server (WebSocket at /rpc and REST at /v1 on one port, or JSON-RPC on stdio)')
    .option('--stdio', 'speak JSON-RPC on stdin/stdout (LSP Content-Length framing)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', port, DEFAULT_PORT)
    .option('--data-dir <dir>', 'data directory (default: $AGENTD_HOME or ~/.local/share/agentd)')
    .option('--store <url>', 'where sessions and events live: sqlite (default, in the data dir) or postgres://... shared by several nodes (also AGENTD_DATABASE_URL, config store.url)')
    .option('--tls-cert <file>', 'serve https/wss with this PEM certificate')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-ca <file>', 'PEM CA bundle that client certificates must chain to')
    .option('--require-client-cert', 'refuse clients without a valid certificate from --tls-ca (mTLS)')
    .option('--no-project-config', 'do not read the workspace\'s agentd.json at all (also AGENTD_NO_PROJECT_CONFIG=1)')
    .action(async (o: ServeFlags) => {
      if (!!o.tlsCert !== !!o.tlsKey) throw usage('--tls-cert and --tls-key go together');
      if (o.requireClientCert && !o.tlsCa) throw usage('--require-client-cert needs --tls-ca');
      if ((o.tlsCa || o.requireClientCert) && !o.tlsCert) throw usage('--tls-ca and --require-client-cert need --tls-cert and --tls-key');
      if (o.stdio && o.tlsCert) throw usage('--stdio does not use TLS');
      const tls = o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa, requireClientCert: o.requireClientCert } : undefined;
      await serve({ stdio: o.stdio, host: o.host, port: o.port, dataDir: o.dataDir, store: o.store, tls, ...(o.projectConfig === false ? { projectConfig: false } : {}) });
    });

  program
    .command('trust')
    .description('trust a workspace\'s agentd.json (untrusted, only its harmless keys apply), list or revoke trust')
    .argument('[dir]', 'the workspace (default: the current directory)')
    .option('--list', 'list trusted workspaces (state: trusted, changed, missing)')
    .option('--revoke <dir>', 'forget the trust of a workspace')
    .option('--yes', 'trust without asking (needed when stdin is not a terminal)')
    .option('--json', 'print JSON (with --list)')
    .option('--data-dir <dir>', 'data directory')
    .action(async (dir: string | undefined, o: TrustFlags) => {
      if ((o.list ? 1 : 0) + (o.revoke !== undefined ? 1 : 0) + (dir !== undefined ? 1 : 0) > 1) throw usage('give one of DIR, --list or --revoke DIR');
      if (o.json && !o.list) throw usage('--json goes with --list');
      const { runTrust } = await import('./config/trust-command.js');
      const code = await runTrust(dir, o);
      if (code) process.exit(code);
    });

  const key = program.command('key').description('manage API keys for HTTP and WebSocket clients');
  key
    .command('create')
    .description('create a key and print it once (only its hash is stored)')
    .requiredOption('--name <name>', 'a name to recognise the key by')
    .option('--user <user>', `the user the key belongs to: it sees and drives that user's sessions and those shared with them (default: ${DEFAULT_USER}, as an admin key)`, userName)
    .option('--admin', 'the key may also manage keys and change config (implied without --user)')
    .option('--data-dir <dir>', 'data directory')
    .option('--store <url>', 'the store of the server (sqlite or postgres://...; default as serve)')
    .option('--json', 'print JSON')
    .action((o: { name: string; user?: string; admin?: boolean; dataDir?: string; store?: string; json?: boolean }) => {
      if (!o.name.trim() || o.name.length > 100 || /[\u0000-\u001f\u007f]/.test(o.name)) throw usage('--name must be 1 to 100 characters without control characters');
      return withKeys(o, async (keys) => {
        const k = await keys.create(o.name, o.user === undefined ? undefined : { user: o.user, admin: o.admin === true });
        process.stdout.write(o.json ? `${JSON.stringify(k)}\n` : `${k.key}\n`);
        if (!o.json) process.stderr.write(`created ${k.id} (${k.name}) for user ${k.user}${k.admin ? ', admin' : ''}; store the key now: it is not shown again\n`);
      });
    });
  key
    .command('list')
    .description('list keys (never the secrets)')
    .option('--data-dir <dir>', 'data directory')
    .option('--store <url>', 'the store of the server (sqlite or postgres://...; default as serve)')
    .option('--json', 'print JSON')
    .action((o: { dataDir?: string; store?: string; json?: boolean }) => withKeys(o, async (keys) => {
      const list = await keys.list();
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const k of list) process.stdout.write(`${k.id}\t${k.name}\t${k.user}\t${k.admin ? 'admin' : '-'}\t${k.createdAt}\n`);
    }));
  key
    .command('revoke')
    .description('revoke a key by id or name')
    .argument('<idOrName>', 'key id (key_...) or name')
    .option('--data-dir <dir>', 'data directory')
    .option('--store <url>', 'the store of the server (sqlite or postgres://...; default as serve)')
    .action((idOrName: string, o: { dataDir?: string; store?: string }) => withKeys(o, async (keys) => {
      const n = await keys.revoke(idOrName);
      if (!n) throw new Error(`no key with id or name ${idOrName}`);
      process.stderr.write(`revoked ${n} key${n > 1 ? 's' : ''}\n`);
    }));

  /** The connection options of every client command. */
  const connectOptions = (cmd: Command, fallback = 'the server at $AGENTD_URL or ws://127.0.0.1:4096/rpc if one answers, else the data dir in-process') => cmd
    .option('--url <url>', `server to talk to: ws://host:port/rpc (WebSocket) or http://host:port (REST + SSE) (default: ${fallback})`)
    .option('--stdio', 'start a private server (agentd serve --stdio) instead of connecting to one')
    .option('--api-key <key>', 'API key for --url (default: $AGENTD_API_KEY)')
    .option('--data-dir <dir>', 'data directory of a server of your own (in-process or --stdio)')
    .option('--verbose', 'show the server\'s log on stderr (default: <data dir>/agentd.log)');
  const collect = (v: string, all: string[] = []) => [...all, v];
  const approvalOptions = (cmd: Command) => cmd
    .option('--allow <rule>', 'allow tool calls matching TOOL or TOOL:MATCH without asking (repeatable; e.g. \'run_command:git status*\')', collect)
    .option('--yes', 'allow every tool call that would ask (loudly, on stderr)');

  approvalOptions(connectOptions(program
    .command('chat')
    .description('chat with the agent in the terminal (Ctrl-C cancels a turn, /help lists commands); piped: one message per line')
    .option('--session <id>', 'continue this session (default: start a new one)')
    .option('--provider <id>', 'provider for new sessions')
    .option('--model <model>', 'model for new sessions')))
    .action(async (o: ChatFlags) => {
      const { runChat } = await clientCommand(() => import('./chat/terminal.js'));
      const code = await runChat(o);
      exit(code);
    });

  connectOptions(program
    .command('tui')
    .description('the full-screen terminal UI (also plain `agentd` in a terminal); ? shows its keys, Ctrl-C cancels a turn, twice quits')
    .option('--session <id>', 'open this session (default: start a new one)')
    .option('--provider <id>', 'provider for new sessions')
    .option('--model <model>', 'model for new sessions'))
    .action(async (o: TuiFlags) => {
      // Ink and React load here only: no other command pays for them.
      const { runTui } = await clientCommand(() => import('./tui/index.js'));
      exit(await runTui(o));
    });

  approvalOptions(program
    .command('run')
    .description('run one turn and print it as it streams (text on stdout; tools and approvals on stderr)')
    .argument('[prompt]', 'the prompt; `-` or absent: read it from stdin (with both, stdin is appended as context)')
    .option('--json', 'every event of the turn as a JSON line on stdout, then the final message')
    .option('--session <id>', 'continue this session')
    .option('--continue', 'continue the most recently updated session of the workspace')
    .option('--name <name>', 'name of a new session')
    .option('--provider <id>', 'provider of a new session')
    .option('--model <model>', 'model of a new session')
    .option('--workspace <dir>', 'the workspace (default: the current directory)')
    .option('--url <url>', 'run on this server (ws://host:port/rpc or http://host:port) instead of in-process on the data dir')
    .option('--api-key <key>', 'API key for --url (default: $AGENTD_API_KEY)')
    .option('--data-dir <dir>', 'data directory (default: $AGENTD_HOME or ~/.local/share/agentd)')
    .option('--verbose', 'show the server\'s log on stderr (default: <data dir>/agentd.log)'))
    .action(async (prompt: string | undefined, o: RunFlags) => {
      const { runOnce } = await clientCommand(() => import('./chat/run.js'));
      exit(await runOnce(prompt, o));
    });

  program
    .command('acp')
    .description('speak the Agent Client Protocol (v1) on stdin/stdout, for editors (Zed, JetBrains, Neovim, Emacs)')
    .option('--data-dir <dir>', 'data directory of the in-process server (default: $AGENTD_HOME or ~/.local/share/agentd)')
    .option('--url <url>', 'attach to a running server (ws://host:port/rpc) instead of opening the data dir')
    .option('--api-key <key>', 'API key for --url (default: $AGENTD_API_KEY)')
    .action(async (o: AcpFlags) => {
      const { runAcp } = await clientCommand(() => import('./acp/stdio.js'));
      exit(await runAcp(o, VERSION));
    });

  const auth = program.command('auth').description('provider credentials');
  connectOptions(auth.command('login').description('store a provider API key: asks for the provider and the key (hidden input); piped: reads both as lines')
    .option('--provider <id>', 'the provider (default: ask)'))
    .action(async (o: AuthFlags) => exit(await (await clientCommand(() => import('./chat/auth.js'))).authLogin(o)));

  const session = program.command('session').description('list, show and delete sessions (plain text, or --json)');
  connectOptions(session.command('list').description('one session per line: id, name, provider/model, status, updatedAt (tab-separated)').option('--json', 'print JSON'))
    .action(async (o: SessionFlags) => (await clientCommand(() => import('./chat/sessions.js'))).sessionList(o));
  connectOptions(session.command('show').description('a session and its messages').argument('<id>', 'session id').option('--json', 'print JSON'))
    .action(async (id: string, o: SessionFlags) => (await clientCommand(() => import('./chat/sessions.js'))).sessionShow(id, o));
  connectOptions(session.command('delete').description('delete a session and its history').argument('<id>', 'session id').option('--json', 'print JSON'))
    .action(async (id: string, o: SessionFlags) => (await clientCommand(() => import('./chat/sessions.js'))).sessionDelete(id, o));

  const mcp = program.command('mcp').description('sign in to and out of HTTP MCP servers (OAuth)');
  connectOptions(mcp.command('login').description('sign in: prints the URL to open, waits for the redirect on a loopback port').argument('<name>', 'the server\'s name in mcpServers')
    .option('--port <port>', 'loopback port of the redirect listener (default: any free port)')
    .option('--timeout <seconds>', 'how long to wait for the browser (default 600)'))
    .action(async (name: string, o: McpLoginFlags) => (await clientCommand(() => import('./chat/mcp-login.js'))).mcpLogin(name, o));
  connectOptions(mcp.command('logout').description('sign out: forget the server\'s tokens').argument('<name>', 'the server\'s name in mcpServers'))
    .action(async (name: string, o: McpLoginFlags) => (await clientCommand(() => import('./chat/mcp-login.js'))).mcpLogout(name, o));

  return program;
}

/** Exits once stdout has taken what was written (a pipe to jq must get the last line). */
function exit(code: number) {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}

export async function main(argv = process.argv) {
  // The REST + SSE bridge (/v1) answers every HTTP request that is not the WebSocket upgrade.
  // Loaded on first use: `serve --stdio` never needs Express (cold start, see bench/).
  setHttpHandler(async (core) => (await import('../bridge/app.js')).bridgeHandler()(core));
  const program = buildCli();
  // Plain `agentd` in a terminal opens the terminal UI.
  if (argv.length <= 2 && process.stdin.isTTY && process.stdout.isTTY) argv = [...argv.slice(0, 2), 'tui'];
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'agentd.usage') process.stderr.write(`${err.message}\n`);
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    }
    // The client commands' usage errors (server/chat/connect.ts UsageError), loaded lazily.
    if ((err as Error)?.name === 'UsageError') {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`agentd: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  }
}
