/**
 * Node-only parts of the client library: the spawn-and-stdio connector and a WebSocket
 * connector on `ws` that sends the API key as an `Authorization` header.
 */
import WebSocket from 'ws';
import { websocketConnector, type WebSocketConnectorOptions, type WebSocketLike } from './connectors/websocket.js';

export * from './index.js';
export { pipeConnector, stdioConnector, StdioChannel, StreamChannel, type PipeEnds, type StdioConnectorOptions } from './connectors/stdio.js';
export { parseRuleFlag, ruleFlag, ruleMatches } from '../rules.js';

/** A WebSocket connector for Node: `ws`, key in the Authorization header. */
export function nodeWebSocketConnector(opts: Omit<WebSocketConnectorOptions, 'createSocket' | 'headerAuth'>) {
  return websocketConnector({
    ...opts,
    headerAuth: true,
    createSocket: (url, protocols, headers) => new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike,
  });
}
