/**
 * `agentd acp`: the ACP agent on this process's stdin/stdout (newline-delimited JSON-RPC, the
 * SDK's ndJsonStream). Nothing but ACP goes to stdout; logs go to stderr. The agentd side is the
 * server in this process on the data dir, or a running server with `--url ws://…/rpc`.
 */
import { ndJsonStream } from '@agentclientprotocol/sdk';
import { Readable, Writable } from 'node:stream';
import { connectorFor, UsageError, type ConnectFlags } from '../chat/connect.js';
import { serveAcp } from './agent.js';

export interface AcpFlags extends Pick<ConnectFlags, 'url' | 'apiKey' | 'dataDir'> {}

export async function runAcp(flags: AcpFlags, version: string): Promise<number> {
  if (flags.url && !/^wss?:\/\//.test(flags.url)) throw new UsageError('--url must be a WebSocket URL (ws://host:port/rpc)');
  // In-process: the server's log on stderr (--verbose), never on stdout.
  const connector = await connectorFor({ ...flags, verbose: true }, 'inProcess');
  const stream = ndJsonStream(Writable.toWeb(process.stdout) as WritableStream<Uint8Array>, Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>);
  await serveAcp(stream, { connector, version, authArgs: ['auth', 'login', ...(flags.dataDir ? ['--data-dir', flags.dataDir] : []), ...(flags.url ? ['--url', flags.url] : [])] });
  return 0;
}
