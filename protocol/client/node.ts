/**
 * Node-only parts of the client library: the spawn-and-stdio connector and a WebSocket
 * connector on `ws` that sends the API key as an `Authorization` header.
 */
import type { Connector } from './channel.js';
import { websocketConnector, type WebSocketConnectorOptions, type WebSocketLike } from './connectors/websocket.js';

export * from './index.js';
export { pipeConnector, stdioConnector, StdioChannel, StreamChannel, type PipeEnds, type StdioConnectorOptions } from './connectors/stdio.js';
export { parseRuleFlag, ruleFlag, ruleMatches } from '../rules.js';

/** A WebSocket connector for Node: `ws`, key in the Authorization header. */
export function nodeWebSocketConnector(opts: Omit<WebSocketConnectorOptions, 'createSocket' | 'headerAuth'>): Connector {
  return {
    kind: 'websocket',
    // `ws` is loaded on the first connect: a client that runs in-process or on stdio never pays for it.
    connect: async () => {
      const { default: WebSocket } = await import('ws');
      return websocketConnector({
        ...opts,
        headerAuth: true,
        createSocket: (url, protocols, headers) => new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike,
      }).connect();
    },
  };
}
