/** initialize / shutdown (initialized and exit are notifications, handled by the transport). */
import { eventTable, PROTOCOL_VERSION } from '../../protocol/index.js';
import { PERMISSION_DECISIONS } from '../approval/gate.js';
import { RpcError } from '../rpc/errors.js';
import type { ConfigService } from '../config/service.js';
import type { Logger } from '../log.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { SnapshotService } from '../snapshot/service.js';
import type { CommandSandbox } from '../tools/sandbox.js';

const major = (v: string) => v.split('.')[0];

export interface LifecycleHandlerDeps {
  log: Logger;
  version: string;
  sandbox: Pick<CommandSandbox, 'status'>;
  /** Whether workspace snapshots work here (git found, not turned off). */
  snapshots: Pick<SnapshotService, 'status'>;
  config: Pick<ConfigService, 'projectState'>;
  /** The methods served (the handler table's names), advertised in the initialize result. */
  methods: readonly string[];
  /** Ends the server's work (stdio `shutdown`: the connection is the server). */
  close(): Promise<void>;
}

export const lifecycleHandlers = ({ log, version, sandbox, snapshots, config, methods, close }: LifecycleHandlerDeps) => ({
  initialize: async (p, { peer }) => {
    if (major(p.protocolVersion) !== major(PROTOCOL_VERSION)) {
      throw RpcError.invalidParams('protocolVersion', `must be ${PROTOCOL_VERSION} (major version ${major(PROTOCOL_VERSION)})`);
    }
    peer.state = 'initialized';
    // Only what agentd knows is kept: unknown fields were accepted (lenient) and are dropped here.
    const caps = p.capabilities ?? {};
    peer.capabilities = caps.permissionRequests === undefined ? {} : { permissionRequests: caps.permissionRequests };
    peer.clientInfo = p.clientInfo && { name: p.clientInfo.name, ...(p.clientInfo.version === undefined ? {} : { version: p.clientInfo.version }) };
    log.info({ peer: peer.id, transport: peer.transport, client: p.clientInfo?.name }, 'client initialized');
    const [sandboxStatus, snapshotStatus] = await Promise.all([sandbox.status(), snapshots.status()]);
    return {
      protocolVersion: PROTOCOL_VERSION,
      serverInfo: { name: 'agentd', version },
      capabilities: {
        methods: [...methods],
        events: Object.keys(eventTable),
        permissionRequests: peer.transport !== 'rest',
        sandbox: sandboxStatus,
        snapshots: snapshotStatus,
        permissionDecisions: [...PERMISSION_DECISIONS],
      },
      projectConfig: config.projectState(),
    };
  },
  shutdown: async (_p, { peer }) => {
    peer.state = 'shutdown';
    // stdio: the connection is the server (LSP), so its work ends now (subscribers still see
    // the turn.interrupted events); on WebSocket only the connection ends.
    if (peer.transport === 'stdio') await close();
    for (const off of peer.subscriptions.values()) off();
    peer.subscriptions.clear();
    return {};
  },
}) satisfies Partial<HandlerTable>;
