/**
 * Crash recovery: a turn whose process died (kill -9, power loss) leaves its session marked
 * `running` with that process's pid. Recovery ends such a turn as `turn.interrupted` (reason
 * `server restart`) from what the event log holds: the streaming assistant message is rebuilt
 * from its `message.delta` events and stored as `incomplete`; tool calls left without a result
 * get an error result; then every registered recovery step runs (approvals: deny what is
 * pending). The session is idle again and takes new messages at once.
 *
 * Runs for every session at start, and for one session when a new message finds it `running`
 * under a dead owner (two processes may share a data dir; turns of a live process are never
 * touched).
 */
import type { ErrorObject, Message, ToolResultPart, ToolUsePart } from '../../protocol/index.js';
import { timings } from '../config/defaults.js';
import { ErrorCodes } from '../../protocol/index.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import type { SessionRecord, Store } from '../store/store.js';
import { pidAlive } from '../store/liveness.js';
import { errorResult } from '../tools/host.js';
import { newId, now } from './ids.js';

export const RESTART_REASON = 'server restart';

export interface InterruptedTurn {
  sessionId: string;
  turnId: string;
  reason: string;
}

/** A step run for every recovered turn, before its `turn.interrupted` event (e.g. deny pending approvals). */
export type RecoveryStep = (turn: InterruptedTurn) => void | Promise<void>;

/** What reading a turn's record back and completing it needs (recovery, and the turn runner after an early end). */
export interface TurnRecordDeps {
  store: Store;
  events: EventLog;
  log: Logger;
}

export interface RecoveryDeps extends TurnRecordDeps {
  /** Sessions whose turn runs in this process now (never recovered). */
  liveTurns: { has(sessionId: string): boolean };
  /** Aborted when shutdown begins: the periodic sweep stops. */
  stopping: AbortSignal;
}

type Ev = { seq: number; type: string; data: Record<string, unknown> };
const PAGE = 1000;

export class Recovery {
  private steps: Array<{ name: string; run: RecoveryStep }> = [];

  constructor(private deps: RecoveryDeps) {}

  /** Registers a step run for each recovered turn (in registration order; a failing step is logged and skipped). */
  addStep(name: string, run: RecoveryStep) {
    this.steps.push({ name, run });
  }

  /** Recovers every session left running by a dead process; returns the turns ended. */
  async recoverAll(): Promise<InterruptedTurn[]> {
    const out: InterruptedTurn[] = [];
    for (const rec of await this.deps.store.runningSessions()) {
      const t = await this.recover(rec);
      if (t) out.push(t);
    }
    if (out.length) this.deps.log.warn({ turns: out.map((t) => t.turnId) }, 'interrupted turns recovered after restart');
    return out;
  }

  /**
   * Another process sharing the data dir may die while we run: every `AGENTD_RECOVERY_SWEEP_MS`
   * (default 30000) its turns are recovered too, so no session stays `running` for ever.
   */
  sweep(intervalMs = timings.recoverySweepMs()) {
    let sweeping = false;
    const timer = setInterval(() => {
      if (this.deps.stopping.aborted) return clearInterval(timer);
      if (sweeping) return;
      sweeping = true;
      this.recoverAll().catch((err) => this.deps.log.error({ err: String(err) }, 'recovery sweep failed')).finally(() => { sweeping = false; });
    }, intervalMs);
    timer.unref();
    this.deps.stopping.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  /** Recovers one session if its running turn belongs to a dead process. */
  async recoverSession(sessionId: string): Promise<InterruptedTurn | undefined> {
    const rec = await this.deps.store.getSession(sessionId);
    return rec ? this.recover(rec) : undefined;
  }

  private async recover(rec: SessionRecord): Promise<InterruptedTurn | undefined> {
    const core = this.deps;
    const turnId = rec.activeTurnId;
    if (rec.status !== 'running' || !turnId) return undefined;
    const owner = rec.ownerPid ?? null;
    // On a shared store the owner is a node id with a lease; else a pid on this machine.
    const cluster = core.store.cluster;
    const self = cluster ? cluster.nodeId : process.pid;
    // Ourselves: a live turn of ours, or a stale row from an earlier process that had our pid.
    if (owner === self ? core.liveTurns.has(rec.id) : cluster ? await cluster.ownerAlive(owner) : pidAlive(owner)) return undefined;
    if (!(await core.store.takeOverTurn(rec.id, turnId, owner, self))) return undefined;
    const turn: InterruptedTurn = { sessionId: rec.id, turnId, reason: RESTART_REASON };
    let messageId: string | null | undefined;
    try {
      await core.events.refresh(rec.id);
      messageId = await this.finish(rec.id, turnId);
    } finally {
      const released = core.store.releaseTurn(rec.id, turnId, now());
      // As at a turn's own end (server/turn/runner.ts): its end event is written once the session is idle again.
      if (messageId !== undefined) void core.events.append(rec.id, 'turn.interrupted', { turnId, messageId, reason: RESTART_REASON }, released);
      await released;
      await core.events.settled();
    }
    return turn;
  }

  /** Completes the record of an interrupted turn from its events; returns the message its end event names. */
  private async finish(sid: string, turnId: string): Promise<string | null> {
    const core = this.deps;
    const { events, store } = core;
    const error: ErrorObject = { code: ErrorCodes.RequestCancelled, message: `Turn interrupted: ${RESTART_REASON}` };

    const log = await readTurnLog(core, sid, turnId);

    // The assistant message that was streaming: kept with what arrived, marked incomplete.
    let messageId: string | null = null;
    for (const m of log.created.values()) {
      if (m.role !== 'assistant') continue;
      messageId = m.id;
      if (log.completed.has(m.id)) continue;
      m.content = m.content.filter((p) => p !== undefined && p !== null && p.type === 'text');
      m.status = 'incomplete';
      m.error = error;
      await store.putMessage(m);
      void events.append(sid, 'message.completed', { message: m });
    }

    await answerOpenToolCalls(core, sid, turnId, RESTART_REASON, log);

    for (const step of this.steps) {
      try {
        await step.run({ sessionId: sid, turnId, reason: RESTART_REASON });
      } catch (err) {
        core.log.error({ err, step: step.name, turnId }, 'recovery step failed');
      }
    }
    return messageId;
  }
}

/** What a turn logged: the messages it created (streamed text re-applied), which completed, its tool calls. */
export interface TurnLog {
  created: Map<string, Message>;
  completed: Set<string>;
  toolsStarted: Set<string>;
  toolResults: Map<string, ToolResultPart>;
}

/** Reads a turn's events (from seq `fromSeq` on, once all appended so far are stored) back into a TurnLog. */
export async function readTurnLog(core: Pick<TurnRecordDeps, 'events'>, sid: string, turnId: string, fromSeq = 0): Promise<TurnLog> {
  const log: TurnLog = { created: new Map(), completed: new Set(), toolsStarted: new Set(), toolResults: new Map() };
  await core.events.settled();
  for await (const page of core.events.pages(sid, fromSeq, PAGE)) {
    for (const pe of page) {
      const e = JSON.parse(pe.json) as Ev;
      const d = e.data;
      if ((d.turnId ?? (d.message as Message | undefined)?.turnId) !== turnId) continue;
      switch (e.type) {
        case 'message.created': {
          const m = d.message as Message;
          log.created.set(m.id, m);
          break;
        }
        case 'message.completed': log.completed.add((d.message as Message).id); break;
        case 'message.delta': applyDelta(log.created.get(d.messageId as string), d); break;
        case 'tool.started': log.toolsStarted.add(d.callId as string); break;
        case 'tool.completed': case 'tool.failed': if (d.result) log.toolResults.set(d.callId as string, d.result as ToolResultPart); break;
      }
    }
  }
  return log;
}

/**
 * A turn that ended early may leave tool calls without results, which no model accepts in a
 * history: answer each open call of the turn's last complete assistant message with the
 * result it got (tool.completed / tool.failed) or an error result naming `reason`, and store
 * them as the tool-result message the turn would have written. Unfinished tools get `tool.failed`.
 */
export async function answerOpenToolCalls(core: Pick<TurnRecordDeps, 'events' | 'store'>, sid: string, turnId: string, reason: string, log: TurnLog) {
  const { events, store } = core;
  const stored = (await store.listMessages(sid)).filter((m) => m.turnId === turnId);
  const answered = new Set(stored.flatMap((m) => m.content.filter((p): p is ToolResultPart => p.type === 'tool_result').map((p) => p.toolUseId)));
  const last = stored.filter((m) => m.role === 'assistant' && m.status === 'complete').at(-1);
  const open = (last?.content ?? []).filter((p): p is ToolUsePart => p.type === 'tool_use' && !answered.has(p.id));
  if (!last || !open.length || stored.indexOf(last) !== stored.length - 1) return;
  const error: ErrorObject = { code: ErrorCodes.RequestCancelled, message: `Tool interrupted: ${reason}` };
  const results: ToolResultPart[] = open.map((call) => {
    const done = log.toolResults.get(call.id);
    if (done) return done;
    const result = errorResult(call, error.message);
    if (log.toolsStarted.has(call.id)) void events.append(sid, 'tool.failed', { turnId, callId: call.id, tool: call.name, result, error });
    return result;
  });
  const msg: Message = { id: newId('msg'), sessionId: sid, turnId, role: 'user', content: results, status: 'complete', createdAt: now() };
  await store.putMessage(msg);
  void events.append(sid, 'message.created', { message: msg });
}

/** For the turn runner: after a turn ended early (cancel, shutdown, failure), answer its open tool calls. */
export async function closeOpenToolCalls(core: TurnRecordDeps, sid: string, turnId: string, reason: string, fromSeq = 0) {
  try {
    await answerOpenToolCalls(core, sid, turnId, reason, await readTurnLog(core, sid, turnId, fromSeq));
  } catch (err) {
    // The store closed under a turn that outlived the shutdown timeout: recovery finishes it on the next start.
    core.log.error({ err: String(err), turnId }, 'could not answer open tool calls');
  }
}

/** Appends a text delta; partial tool input is dropped (a tool_use without its call id and name is no use to anyone). */
function applyDelta(m: Message | undefined, d: Record<string, unknown>) {
  const delta = d.delta as { type: string; text?: string };
  if (!m || delta.type !== 'text_delta') return;
  const index = d.index as number;
  const part = m.content[index];
  if (part?.type === 'text') part.text += delta.text ?? '';
  else m.content[index] = { type: 'text', text: delta.text ?? '' };
}
