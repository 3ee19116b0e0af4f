// The WebSocket transport's fast path reads two ws internals (server/transport/ws-internals.ts).
// This test pins them to the installed ws: its version must be the one the adapter was written
// for, and on a real connection the reads must give what the fast path relies on.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Socket } from 'node:net';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { senderIdle, socketOf, WS_INTERNALS_VERSION } from '../../server/transport/ws-internals.js';
import { ROOT } from '../helpers/rpc-client.js';

t.test('the installed ws is the version the adapter reads', async (t) => {
  const { version } = JSON.parse(readFileSync(`${ROOT}/node_modules/ws/package.json`, 'utf8')) as { version: string };
  t.equal(version, WS_INTERNALS_VERSION, 'ws was upgraded: re-check server/transport/ws-internals.ts, then bump WS_INTERNALS_VERSION');
});

t.test('socketOf and senderIdle on a live connection', async (t) => {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { wss.close(); server.close(); });
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  t.teardown(() => client.terminate());
  const ws = await accepted;
  t.ok(socketOf(ws) instanceof Socket, 'the connection socket');
  t.equal(senderIdle(ws), true, 'an idle sender');
  // A frame written straight to the socket arrives as a message, as the fast path expects.
  const got = new Promise<string>((r) => client.once('message', (d) => r(d.toString())));
  const body = Buffer.from('{"x":1}');
  socketOf(ws).write(Buffer.concat([Buffer.from([0x81, body.length]), body]));
  t.equal(await got, '{"x":1}');
});
