/** What the agent changed: session/diff, session/revert, session/unrevert (snapshots) and session/compact (compaction). */
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { Compactor } from '../session/compaction.js';
import type { SnapshotService } from '../snapshot/service.js';

export interface ChangeHandlerDeps {
  snapshots: Pick<SnapshotService, 'diff' | 'revert' | 'unrevert'>;
  compactor: Pick<Compactor, 'compactSession'>;
}

export const changeHandlers = ({ snapshots, compactor }: ChangeHandlerDeps) => ({
  'session/diff': (p) => snapshots.diff(p),
  'session/revert': (p) => snapshots.revert(p),
  'session/unrevert': (p) => snapshots.unrevert(p.sessionId),
  'session/compact': (p, { signal }) => compactor.compactSession(p.sessionId, signal),
}) satisfies Partial<HandlerTable>;
