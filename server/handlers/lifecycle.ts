/** initialize / shutdown (initialized and exit are notifications, handled by the transport). */
import { eventTable, PROTOCOL_VERSION } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

const major = (v: string) => v.split('.')[0];

export const lifecycleHandlers = {
  initialize: async (p, { core, peer }) => {
    if (major(p.protocolVersion) !== major(PROTOCOL_VERSION)) {
      throw RpcError.invalidParams('protocolVersion', `must be ${PROTOCOL_VERSION} (major version ${major(PROTOCOL_VERSION)})`);
    }
    peer.state = 'initialized';
    // Only what agentd knows is kept: unknown fields were accepted (lenient) and are dropped here.
    const caps = p.capabilities ?? {};
    peer.capabilities = caps.permissionRequests === undefined ? {} : { permissionRequests: caps.permissionRequests };
    peer.clientInfo = p.clientInfo && { name: p.clientInfo.name, ...(p.clientInfo.version === undefined ? {} : { version: p.clientInfo.version }) };
    core.log.info({ peer: peer.id, transport: peer.transport, client: p.clientInfo?.name }, 'client initialized');
    const sandbox = await core.sandbox.status();
    return {
      protocolVersion: PROTOCOL_VERSION,
      serverInfo: { name: 'agentd', version: core.version },
      capabilities: {
        methods: core.dispatcher.methods,
        events: Object.keys(eventTable),
        permissionRequests: peer.transport !== 'rest',
        sandbox,
      },
      projectConfig: core.config.projectState(),
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
