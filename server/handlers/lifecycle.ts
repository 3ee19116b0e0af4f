/** initialize / shutdown (initialized and exit are notifications, handled by the transport). */
import { eventTable, PROTOCOL_VERSION } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

const major = (v: string) => v.split('.')[0];

export const lifecycleHandlers = {
  initialize: (p, { core, peer }) => {
    if (major(p.protocolVersion) !== major(PROTOCOL_VERSION)) {
      throw RpcError.invalidParams('protocolVersion', `must be ${PROTOCOL_VERSION} (major version ${major(PROTOCOL_VERSION)})`);
    }
    peer.state = 'initialized';
    peer.capabilities = p.capabilities ?? {};
    peer.clientInfo = p.clientInfo;
    core.log.info({ peer: peer.id, transport: peer.transport, client: p.clientInfo?.name }, 'client initialized');
    return {
      protocolVersion: PROTOCOL_VERSION,
      serverInfo: { name: 'agentd', version: core.version },
      capabilities: {
        methods: core.dispatcher.methods,
        events: Object.keys(eventTable),
        permissionRequests: peer.transport !== 'rest',
      },
    };
  },
  shutdown: async (_p, { core, peer }) => {
    peer.state = 'shutdown';
    // stdio: the connection is the server (LSP), so its work ends now (subscribers still see
    // the turn.interrupted events); on WebSocket only the connection ends.
    if (peer.transport === 'stdio') await core.close();
    for (const off of peer.subscriptions.values()) off();
    peer.subscriptions.clear();
    return {};
  },
} satisfies Partial<HandlerTable>;
