/**
 * The agentd client library: generated types and constants, AgentClient, and the connectors
 * that need no Node APIs (WebSocket, REST+SSE). Node-only connectors: `protocol/client/node.js`.
 */
export * from '../generated/types.js';
export * from '../generated/methods.js';
export * from './channel.js';
export * from './client.js';
export { MessageChannel, type TextTransport } from './message-channel.js';
export * from './connectors/websocket.js';
export * from './connectors/rest.js';
