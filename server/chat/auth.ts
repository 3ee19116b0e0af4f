/**
 * `agentd auth login`: store a provider's API key from the terminal, as `provider/auth` does
 * (it is that request, to the server the connection flags name). It asks for the provider (a
 * number or an id from the list of providers that take a key) unless `--provider` names one,
 * then for the key with the input hidden. Piped (no terminal), it reads the provider and key as
 * lines of stdin. This is the `terminal` auth method `agentd acp` offers to editors.
 */
import { createInterface } from 'node:readline';
import { AgentClient } from '../../protocol/client/node.js';
import { connectorFor, UsageError, type ConnectFlags } from './connect.js';

export interface AuthFlags extends ConnectFlags {
  /** The provider id; asked for when absent. */
  provider?: string;
}

export interface AuthIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stderr: NodeJS.WritableStream;
}

/** Longest line accepted (an API key is far shorter). */
const MAX_LINE = 8192;

/** Lines of stdin, one at a time (the readline's queue keeps lines that came before they were asked for). */
function lineReader(input: NodeJS.ReadableStream) {
  const rl = createInterface({ input, terminal: false });
  const queue: string[] = [];
  const waiting: Array<(l: string | undefined) => void> = [];
  let closed = false;
  rl.on('line', (l) => { const w = waiting.shift(); if (w) w(l); else queue.push(l); });
  rl.on('close', () => { closed = true; for (const w of waiting.splice(0)) w(undefined); });
  return {
    next: () => new Promise<string | undefined>((resolve) => {
      if (queue.length) resolve(queue.shift());
      else if (closed) resolve(undefined);
      else waiting.push(resolve);
    }),
    close: () => rl.close(),
  };
}

/** Reads one line from a terminal without echoing it (Ctrl-C or Ctrl-D gives up). */
function readHidden(io: AuthIo): Promise<string | undefined> {
  return new Promise((resolve) => {
    const stdin = io.stdin;
    let text = '';
    const done = (v: string | undefined) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      resolve(v);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(text);
        if (ch === '\u0003' || ch === '\u0004') return done(undefined);
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (text.length < MAX_LINE) text += ch;
      }
    };
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

export async function authLogin(flags: AuthFlags, io: AuthIo = { stdin: process.stdin, stderr: process.stderr }): Promise<number> {
  const say = (s: string) => { io.stderr.write(s); };
  const client = new AgentClient(await connectorFor(flags), { clientInfo: { name: 'agentd-auth' } });
  const tty = Boolean(io.stdin.isTTY);
  const lines = tty ? undefined : lineReader(io.stdin);
  try {
    await client.connect();
    const keyed = (await client.listProviders()).providers.filter((p) => p.authMethods.includes('apiKey'));
    if (!keyed.length) throw new Error('no provider takes an API key');
    let provider = flags.provider;
    if (!provider) {
      say('Providers that take an API key:\n');
      keyed.forEach((p, i) => say(`  ${i + 1}. ${p.id}${p.name && p.name !== p.id ? ` (${p.name})` : ''}${p.authenticated ? ' [authenticated]' : ''}\n`));
      say('Provider (number or id): ');
      const answer = tty ? await askLine(io) : await lines!.next();
      if (!tty) say('\n');
      const a = answer?.trim() ?? '';
      provider = /^\d+$/.test(a) ? keyed[Number(a) - 1]?.id : a;
      if (!provider) throw new UsageError(`no such provider: ${a || '(nothing)'}`);
    }
    if (!keyed.some((p) => p.id === provider)) throw new UsageError(`${provider} is not a provider that takes an API key (${keyed.map((p) => p.id).join(', ')})`);
    say(`API key for ${provider} (input hidden): `);
    const key = (tty ? await readHidden(io) : await lines!.next())?.trim();
    if (!tty) say('\n');
    if (!key) throw new UsageError('no API key given');
    if (key.length > MAX_LINE) throw new UsageError('the API key is too long');
    await client.authProvider(provider, key);
    say(`stored the API key for ${provider}\n`);
    return 0;
  } finally {
    lines?.close();
    await client.close().catch(() => undefined);
  }
}

function askLine(io: AuthIo): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    let answered = false;
    rl.question('', (a) => { answered = true; rl.close(); resolve(a); });
    rl.once('close', () => { if (!answered) resolve(undefined); });
  });
}
