/**
 * Snapshots of a session's workspace around each turn, and what they allow: turn diffs
 * (`turn.diff`, session/diff), revert and unrevert. A turn is recorded before its first tool
 * call (a turn without tool calls cannot change the workspace, so it costs nothing) and at its
 * end, whatever the tools were (run_command counts as much as write_file). The records live in
 * the store (`snapshot:<sessionId>`, by turn); the trees in one shadow repository per workspace
 * under `<dataDir>/snapshots/` (server/snapshot/repo.ts). Every git operation on one workspace
 * runs after the previous one (one queue per workspace root).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type {
  Message, SessionDiffParams, SessionDiffResult, SessionRevertParams, SessionRevertResult, SessionUnrevertResult, SnapshotsCapability,
} from '../../protocol/index.js';
import { ErrorCodes } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import { requireSession } from '../session/service.js';
import type { SessionRecord, Store } from '../store/store.js';
import { GitError, gitVersion } from './git.js';
import { ShadowRepo, type Change, type Skipped } from './repo.js';

/** One turn's snapshots. */
interface TurnRecord {
  turnId: string;
  /** The user message that started the turn. */
  messageId: string;
  /** Event seq when recorded: orders a session's turns. */
  seq: number;
  before: string;
  after?: string;
  skipped?: Skipped[];
}

/** An undoable revert: where it went and the tree to go back to. */
interface RevertRecord { messageId: string; tree: string }

const ns = (sessionId: string) => `snapshot:${sessionId}`;

/**
 * A file recorded before and skipped by the later snapshot (it grew past the size limit) is not
 * gone: it is left out of the diff (the skipped list names it). A revert still puts its recorded bytes back.
 */
function unskipped<T extends { path: string; status: string }>(files: T[], skipped: Skipped[]): T[] {
  const s = new Set(skipped.map((x) => x.path));
  return s.size ? files.filter((f) => !(f.status === 'deleted' && s.has(f.path))) : files;
}
const REVERT_NS = 'revert';

export interface SnapshotServiceDeps {
  store: Pick<Store, 'getSession' | 'kvGet' | 'kvSet' | 'kvDelete' | 'kvList' | 'listMessages' | 'putMessage'>;
  events: Pick<EventLog, 'append' | 'lastSeq'>;
  log: Logger;
  config: Pick<ConfigService, 'snapshots'>;
  dataDir: string;
  /** Real paths never recorded even inside a workspace (the data directory). */
  hidden: readonly string[];
  /** Whether a turn of the session runs now (in this process). */
  busy(sessionId: string): boolean;
  /** The git executable (default `git` on PATH). */
  gitBin?: string;
}

export class SnapshotService {
  private repos = new Map<string, ShadowRepo>();
  private queues = new Map<string, Promise<unknown>>();
  private git?: Promise<string | undefined>;

  constructor(private deps: SnapshotServiceDeps) {}

  /** For initialize: whether snapshots work here, and why not. */
  async status(): Promise<SnapshotsCapability> {
    if (!this.deps.config.snapshots().enabled) return { enabled: false, reason: 'snapshots.enabled is false in the config' };
    const v = await (this.git ??= gitVersion(this.deps.gitBin));
    return v ? { enabled: true, gitVersion: v } : { enabled: false, reason: 'no git executable was found on PATH' };
  }

  private async require(): Promise<void> {
    const s = await this.status();
    if (!s.enabled) throw new RpcError(ErrorCodes.SnapshotsUnavailable, `Snapshots are unavailable: ${s.reason}`, { reason: s.reason });
  }

  private repo(root: string): ShadowRepo {
    let r = this.repos.get(root);
    if (!r) {
      const dir = join(this.deps.dataDir, 'snapshots', createHash('sha256').update(root).digest('hex').slice(0, 24));
      r = new ShadowRepo(join(dir, 'git'), root, this.deps.hidden, () => this.deps.config.snapshots(), this.deps.gitBin);
      this.repos.set(root, r);
    }
    return r;
  }

  /** Runs `fn` after every earlier operation on the same workspace. */
  private queued<T>(root: string, fn: (repo: ShadowRepo) => Promise<T>): Promise<T> {
    const prev = this.queues.get(root) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => fn(this.repo(root)));
    this.queues.set(root, next);
    void next.finally(() => { if (this.queues.get(root) === next) this.queues.delete(root); }).catch(() => {});
    return next;
  }

  private async records(sessionId: string): Promise<TurnRecord[]> {
    return (await this.deps.store.kvList(ns(sessionId))).map((r) => JSON.parse(r.value) as TurnRecord).sort((a, b) => a.seq - b.seq);
  }

  private put(sessionId: string, rec: TurnRecord) {
    return this.deps.store.kvSet(ns(sessionId), rec.turnId, JSON.stringify(rec));
  }

  /** Before a turn's first tool call: its `before` snapshot (once per turn; a failure is logged, never fails the turn). */
  async beforeTools(session: SessionRecord, turnId: string, messageId: string): Promise<void> {
    if (await this.deps.store.kvGet(ns(session.id), turnId)) return;
    if (!(await this.status()).enabled) return;
    try {
      const snap = await this.queued(session.workspaceRoot, (r) => r.snapshot());
      await this.put(session.id, { turnId, messageId, seq: await this.deps.events.lastSeq(session.id), before: snap.tree });
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, sessionId: session.id, turnId }, 'snapshot before the turn failed');
    }
  }

  /** At a turn's end: its `after` snapshot and, when something changed, `turn.diff`. */
  async afterTurn(session: SessionRecord, turnId: string): Promise<void> {
    const raw = await this.deps.store.kvGet(ns(session.id), turnId);
    if (!raw) return;
    const rec = JSON.parse(raw) as TurnRecord;
    try {
      const { snap, files } = await this.queued(session.workspaceRoot, async (r) => {
        const snap = await r.snapshot();
        return { snap, files: unskipped(await r.stats(rec.before, snap.tree), snap.skipped) };
      });
      await this.put(session.id, { ...rec, after: snap.tree, ...(snap.skipped.length ? { skipped: snap.skipped } : {}) });
      if (files.length || snap.skipped.length) {
        void this.deps.events.append(session.id, 'turn.diff', { turnId, files, ...(snap.skipped.length ? { skipped: snap.skipped } : {}) });
      }
      if (snap.skippedCount) this.deps.log.warn({ sessionId: session.id, turnId, skipped: snap.skippedCount, first: snap.skipped.slice(0, 5) }, 'snapshot skipped files (size or count limits)');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, sessionId: session.id, turnId }, 'snapshot after the turn failed');
    }
  }

  /** session/diff: one turn (before → after, or → now while it runs), or the whole session (first snapshot → now). */
  async diff(p: SessionDiffParams): Promise<SessionDiffResult> {
    const session = await requireSession(this.deps.store, p.sessionId);
    await this.require();
    const records = await this.records(session.id);
    let from: string;
    let to: string | undefined;
    let skippedAtEnd: Skipped[] = [];
    if (p.turnId !== undefined) {
      const rec = records.find((r) => r.turnId === p.turnId);
      if (!rec) {
        // A turn of this session that ran no tool: it changed nothing.
        if (await this.isTurnOf(session.id, p.turnId)) return { files: [] };
        throw RpcError.notFound('turn', p.turnId);
      }
      from = rec.before;
      to = rec.after;
      skippedAtEnd = rec.skipped ?? [];
    } else {
      if (!records.length) return { files: [] };
      from = records[0].before;
    }
    return this.run(session.workspaceRoot, async (r) => {
      let skipped = skippedAtEnd;
      if (to === undefined) {
        const now = await r.snapshot();
        to = now.tree;
        skipped = now.skipped;
      }
      const files = unskipped(await r.diff(from, to), skipped);
      return { files, ...(skipped.length ? { skipped } : {}) };
    });
  }

  private async isTurnOf(sessionId: string, turnId: string): Promise<boolean> {
    return (await this.deps.store.listMessages(sessionId)).some((m) => m.turnId === turnId);
  }

  /** Git failures as typed errors. */
  private async run<T>(root: string, fn: (repo: ShadowRepo) => Promise<T>): Promise<T> {
    try {
      return await this.queued(root, fn);
    } catch (err) {
      if (err instanceof GitError) {
        if (/timed out/.test(err.message)) throw RpcError.timeout(`snapshot (${err.message})`);
        throw new RpcError(ErrorCodes.InternalError, `Snapshot failed: ${err.message.slice(0, 300)}`);
      }
      throw err;
    }
  }

  private refuseBusy(session: SessionRecord) {
    if (this.deps.busy(session.id) || session.status === 'running') throw RpcError.busy(session.id, session.activeTurnId);
  }

  /**
   * session/revert: the workspace as it was before the turn of `messageId` (a user message that
   * started a turn), that message and every later one marked `reverted`. Files changed by hand
   * since the last turn ended are overwritten too, and listed.
   */
  async revert(p: SessionRevertParams): Promise<SessionRevertResult> {
    const session = await requireSession(this.deps.store, p.sessionId);
    this.refuseBusy(session);
    await this.require();
    const messages = await this.deps.store.listMessages(session.id);
    const at = messages.findIndex((m) => m.id === p.messageId);
    if (at < 0) throw RpcError.notFound('message', p.messageId);
    const msg = messages[at];
    if (msg.role !== 'user' || msg.kind === 'summary' || !msg.turnId || messages.findIndex((m) => m.turnId === msg.turnId) !== at) {
      throw RpcError.invalidParams('messageId', 'must name a user message that started a turn');
    }
    const records = await this.records(session.id);
    const laterTurns = new Set(messages.slice(at).map((m) => m.turnId));
    // The first later turn that ran a tool holds the state before this one (earlier tool-less turns changed nothing).
    const target = records.find((r) => laterTurns.has(r.turnId));
    const lastAfter = [...records].reverse().find((r) => r.after)?.after;
    const pending = await this.pendingRevert(session.id);
    const { files, overwritten, current } = await this.run(session.workspaceRoot, async (r) => {
      const now = await r.snapshot();
      const byHand = lastAfter ? new Set((await r.stats(lastAfter, now.tree)).map((f) => f.path)) : new Set<string>();
      const files = target ? await r.restore(now.tree, target.before) : [];
      return { files, overwritten: files.filter((f) => byHand.has(f.path)).map((f) => f.path), current: now.tree };
    });
    await this.deps.store.kvSet(REVERT_NS, session.id, JSON.stringify({ messageId: msg.id, tree: pending?.tree ?? current } satisfies RevertRecord));
    await this.mark(messages, at);
    void this.deps.events.append(session.id, 'session.reverted', { messageId: msg.id, files });
    return { sessionId: session.id, messageId: msg.id, files, overwritten };
  }

  /** session/unrevert: undoes the last revert (files and marks) until the next message is sent. */
  async unrevert(sessionId: string): Promise<SessionUnrevertResult> {
    const session = await requireSession(this.deps.store, sessionId);
    this.refuseBusy(session);
    await this.require();
    const pending = await this.pendingRevert(session.id);
    if (!pending) throw RpcError.conflict('nothing to unrevert (no revert since the last message)', { sessionId });
    const files: Change[] = await this.run(session.workspaceRoot, async (r) => r.restore((await r.snapshot()).tree, pending.tree));
    await this.deps.store.kvDelete(REVERT_NS, session.id);
    await this.mark(await this.deps.store.listMessages(session.id), Infinity);
    void this.deps.events.append(session.id, 'session.unreverted', { messageId: pending.messageId, files });
    return { sessionId: session.id, messageId: pending.messageId, files };
  }

  /** A new message makes the last revert final (unrevert no longer possible). */
  async commitRevert(sessionId: string) {
    if ((await this.deps.store.kvGet(REVERT_NS, sessionId)) !== undefined) await this.deps.store.kvDelete(REVERT_NS, sessionId);
  }

  /** Forgets a deleted session's records. */
  async forget(sessionId: string) {
    for (const { key } of await this.deps.store.kvList(ns(sessionId))) await this.deps.store.kvDelete(ns(sessionId), key);
    await this.commitRevert(sessionId);
  }

  private async pendingRevert(sessionId: string): Promise<RevertRecord | undefined> {
    const raw = await this.deps.store.kvGet(REVERT_NS, sessionId);
    return raw ? (JSON.parse(raw) as RevertRecord) : undefined;
  }

  /** Messages from index `from` on are marked reverted, the earlier ones not (a later revert replaces an earlier one's marks). */
  private async mark(messages: Message[], from: number) {
    for (const [i, m] of messages.entries()) {
      const want = i >= from;
      if ((m.reverted === true) === want) continue;
      const { reverted: _r, ...rest } = m;
      await this.deps.store.putMessage(want ? { ...rest, reverted: true } : rest);
    }
  }
}
