/** What the REST + SSE bridge needs from the server: the dispatcher it maps routes onto and the few services beside it. */
import type { ConfigService } from '../server/config/service.js';
import type { Logger } from '../server/log.js';
import type { Dispatcher } from '../server/rpc/dispatcher.js';
import type { Peer } from '../server/rpc/peer.js';
import type { SendBudget } from '../server/transport/writer.js';

export interface BridgeDeps {
  config: Pick<ConfigService, 'limits' | 'get' | 'addCheck'>;
  log: Logger;
  version: string;
  /** Aborted when shutdown begins: /v1/health answers ShuttingDown from then on. */
  stopping: AbortSignal;
  dispatcher: Pick<Dispatcher, 'request'>;
  /** Registers a connection so approvals and shutdown know about it. */
  trackPeer(peer: Peer): void;
  /** The process-wide outbound buffer budget shared with WebSocket peers. */
  sendBudget: SendBudget;
}

export type SsePeerDeps = Pick<BridgeDeps, 'config' | 'log' | 'sendBudget'>;
