/**
 * The `agentd` command. Exit codes: 0 clean, 1 failure (one line on stderr), 2 usage error.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { bridgeHandler } from '../bridge/app.js';
import { serve, setHttpHandler } from './serve.js';
import { VERSION } from './version.js';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
};

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
    .option('--port <port>', 'port to listen on (0: any free port)', port, 4096)
    .option('--data-dir <dir>', 'data directory (default: $AGENTD_HOME or ~/.local/share/agentd)')
    .action(async (o: { stdio?: boolean; host: string; port: number; dataDir?: string }) => {
      await serve({ stdio: o.stdio, host: o.host, port: o.port, dataDir: o.dataDir });
    });

  return program;
}

export async function main(argv = process.argv) {
  // The REST + SSE bridge (/v1) answers every HTTP request that is not the WebSocket upgrade.
  setHttpHandler(bridgeHandler());
  const program = buildCli();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    }
    process.stderr.write(`agentd: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  }
}
