/**
 * The `agentd tui` application: one Ink tree over an AgentClient. Final transcript items are
 * printed once into the terminal's scrollback (Ink's <Static>); below them stays the live part:
 * the streaming reply (its tail, so the live part always fits the screen and never flickers into
 * a full redraw), running tool calls, the approval prompt or a dialog, the input box and the
 * status line. A session switch, Ctrl-L, Ctrl-O and a resize clear the screen and print the
 * session again at the new width.
 */
import { Box, Static, useApp, useInput, useStdout, type Key } from 'ink';
import { createElement as h, useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { RpcResponseError, type AgentClient, type ConnectionState, type Session, type TypedEvent } from '../../protocol/client/index.js';
import { Editor, History } from './editor.js';
import { Transcript, MAX_ITEMS, type Item } from './transcript.js';
import {
  ApprovalPrompt, ItemView, KeyHelp, ModelPicker, SessionPicker, StatusLine, type ModelChoice, type PendingApproval,
} from './views.js';

/** Approvals waiting for the user, filled by the client's permission handler (index.ts). */
export interface ApprovalQueue {
  pending: PendingApproval[];
  onChange?: () => void;
}

export interface AppProps {
  client: AgentClient;
  approvals: ApprovalQueue;
  /** The session to open first (default: a new one). */
  session?: string;
  /** Provider and model of new sessions. */
  provider?: string;
  model?: string;
  /** Called once when the app ends; the caller unmounts. */
  onExit: (code: number, message?: string) => void;
}

type Dialog =
  | { kind: 'help' }
  | { kind: 'sessions'; sessions: Session[]; query: string; selected: number; mode: 'list' | 'rename' | 'delete'; text: string }
  | { kind: 'models'; models: ModelChoice[]; selected: number };

/** Characters of a streaming reply kept on the live part, by the screen's size. */
function liveTail(text: string, width: number, rows: number): string {
  let budget = Math.max(3, rows);
  const lines = text.split('\n');
  let i = lines.length;
  while (i > 0 && budget > 0) {
    i--;
    budget -= Math.max(1, Math.ceil(lines[i].length / Math.max(10, width)));
  }
  if (i === 0 && budget >= 0) return text;
  const kept = lines.slice(i + 1);
  const fences = lines.slice(0, i + 1).filter((l) => /^\s*(```|~~~)/.test(l)).length;
  return `${fences % 2 ? '```\n' : ''}${kept.join('\n')}`;
}

/** A prompt's key: typed text and whether Enter ended it (text and Enter may come in one chunk). */
function promptKey(input: string, key: Key): { text: string; enter: boolean } {
  if (input.length > 1 && input.endsWith('\r')) return { text: input.slice(0, -1).replace(/[\r\n]/g, ' '), enter: true };
  return { text: key.ctrl || key.meta || key.return ? '' : input, enter: key.return };
}

const errText = (err: unknown) => (err instanceof RpcResponseError ? `${err.message} (${err.code})` : (err as Error)?.message ?? String(err));

export function App(p: AppProps): ReactNode {
  const { client } = p;
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState({ width: stdout.columns || 80, rows: stdout.rows || 24 });
  const tr = useRef(new Transcript()).current;
  const history = useRef(new History()).current;
  const [, setTick] = useState(0);
  const [session, setSession] = useState<Session | undefined>();
  const sessionRef = useRef<Session | undefined>(undefined);
  const [conn, setConn] = useState<ConnectionState>(client.state);
  const [dialog, setDialog] = useState<Dialog | undefined>();
  const [approvals, setApprovals] = useState<PendingApproval[]>([...p.approvals.pending]);
  const [reason, setReason] = useState<string | undefined>();
  const [expanded, setExpanded] = useState(false);
  const [epoch, setEpoch] = useState(0);
  const [hint, setHint] = useState<string | undefined>();
  const [sending, setSending] = useState(false);
  const printed = useRef({ ids: new Set<string>(), list: [] as Item[] });
  const interrupts = useRef(0);
  const ended = useRef(false);
  const flushTimer = useRef<NodeJS.Timeout | undefined>(undefined);

  const rerender = useCallback(() => setTick((n) => n + 1), []);
  /** Deltas arrive fast: at most one render per 40 ms for them. */
  const scheduleRender = useCallback(() => {
    flushTimer.current ??= setTimeout(() => { flushTimer.current = undefined; rerender(); }, 40);
  }, [rerender]);

  const quit = useCallback((code: number, message?: string) => {
    if (ended.current) return;
    ended.current = true;
    for (const a of p.approvals.pending.splice(0)) a.answer('deny', 'the terminal UI closed');
    p.onExit(code, message);
    exit();
  }, [exit, p]);

  /** Clears the screen and prints the transcript again (new width, expanded output, new session). */
  const refresh = useCallback(() => {
    stdout.write('\x1b[2J\x1b[3J\x1b[H');
    printed.current = { ids: new Set(), list: [] };
    setEpoch((e) => e + 1);
  }, [stdout]);

  const banner = (s: Session) => `${s.name || 'session'} (${s.id}) · ${s.provider}/${s.model} · ${s.workspaceRoot}`;

  const open = useCallback(async (id: string) => {
    const { session: s, messages } = await client.getSession(id);
    const prev = sessionRef.current;
    if (prev && prev.id !== s.id) await client.unsubscribe({ sessionId: prev.id }).catch(() => undefined);
    sessionRef.current = s;
    setSession(s);
    tr.load(messages, s);
    tr.items.unshift({ kind: 'note', id: `banner_${s.id}_${Date.now()}`, text: banner(s), tone: 'dim' });
    refresh();
    if (client.lastSeen(s.id) === undefined) await client.subscribe({ sessionId: s.id, since: s.lastSeq });
  }, [client, tr, refresh]);

  const create = useCallback(async (name?: string) => {
    const s = await client.createSession({ ...(name ? { name } : {}), ...(p.provider ? { provider: p.provider } : {}), ...(p.model ? { model: p.model } : {}) });
    await open(s.id);
  }, [client, open, p.provider, p.model]);

  const attempt = useCallback((what: Promise<unknown>) => {
    what.catch((err) => { tr.note(`error: ${errText(err)}`, 'error'); rerender(); });
  }, [tr, rerender]);

  // ---- start: the first session, events, connection state, approvals, resize
  useEffect(() => {
    const offEvent = client.onEvent((e: TypedEvent) => {
      const s = sessionRef.current;
      if (!s || e.sessionId !== s.id) return;
      if (e.type === 'session.updated' || e.type === 'session.created') {
        sessionRef.current = { ...s, ...(e.data as { session: Session }).session };
        setSession(sessionRef.current);
        return;
      }
      if (tr.apply(e)) {
        if (e.type === 'message.delta' || e.type === 'tool.output') scheduleRender(); else rerender();
      }
    });
    let lost = false;
    const offState = client.onStateChange((state, err) => {
      setConn(state);
      if (ended.current) return;
      if (state === 'reconnecting' && !lost) { lost = true; tr.note(`connection lost (${err?.message ?? 'unknown'}); reconnecting…`); rerender(); }
      if (state === 'connected' && lost) {
        lost = false;
        tr.note('reconnected');
        rerender();
        const s = sessionRef.current;
        if (s) client.getSession(s.id).then(({ session: fresh }) => { sessionRef.current = fresh; setSession(fresh); if (fresh.status !== 'running' && tr.turnId) { tr.turnId = undefined; rerender(); } }).catch(() => undefined);
      }
      if (state === 'closed') quit(1, `connection closed${err ? `: ${err.message}` : ''}`);
    });
    p.approvals.onChange = () => setApprovals([...p.approvals.pending]);
    let resizeTimer: NodeJS.Timeout | undefined;
    const onResize = () => {
      setSize({ width: stdout.columns || 80, rows: stdout.rows || 24 });
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(refresh, 100);
    };
    stdout.on('resize', onResize);
    (p.session ? open(p.session) : create()).catch((err) => quit(1, errText(err)));
    return () => {
      offEvent(); offState(); stdout.off('resize', onResize);
      p.approvals.onChange = undefined;
      clearTimeout(resizeTimer);
      clearTimeout(flushTimer.current);
    };
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const running = sending || tr.turnId !== undefined || session?.status === 'running' && tr.turnId !== undefined;
  const approval = approvals[0];

  // ---- commands typed in the input box
  const send = useCallback(async (text: string) => {
    const m = /^\/(\w+)\s*(.*)$/s.exec(text.trim());
    if (m) {
      const [, name, arg] = m;
      switch (name) {
        case 'quit': case 'exit': quit(0); return;
        case 'help': setDialog({ kind: 'help' }); return;
        case 'sessions': await openSessions(arg.trim()); return;
        case 'new': await create(arg.trim() || undefined); return;
        case 'model': await openModels(); return;
        case 'rename': {
          const s = sessionRef.current;
          if (s && arg.trim()) { sessionRef.current = await client.updateSession({ sessionId: s.id, name: arg.trim() }); setSession(sessionRef.current); }
          return;
        }
        default: break; // anything else goes to the agent (the echo provider's `/tool …` needs that)
      }
    }
    const s = sessionRef.current;
    if (!s) return;
    if (tr.turnId) { tr.note('a turn is running: wait for it, or Ctrl-C to cancel it'); rerender(); return; }
    setSending(true);
    try {
      await client.sendMessage({ sessionId: s.id, content: text, async: true });
    } finally {
      setSending(false);
    }
  }, [client, create, quit, rerender, tr]); // eslint-disable-line react-hooks/exhaustive-deps

  async function openSessions(query = '') {
    const { sessions } = await client.listSessions({ limit: 100, ...(query ? { search: query } : {}) });
    const cur = sessions.findIndex((s) => s.id === sessionRef.current?.id);
    setDialog({ kind: 'sessions', sessions, query, selected: Math.max(0, query ? 0 : cur), mode: 'list', text: '' });
  }

  async function openModels() {
    const { providers } = await client.listProviders();
    const models: ModelChoice[] = providers.flatMap((pr) => pr.models.map((m) => ({ provider: pr.id, model: m, authenticated: pr.authenticated, isDefault: m === pr.defaultModel })));
    const s = sessionRef.current;
    setDialog({ kind: 'models', models, selected: Math.max(0, models.findIndex((m) => s && m.provider === s.provider && m.model === s.model)) });
  }

  function cancelTurn() {
    const s = sessionRef.current;
    for (const a of p.approvals.pending.filter((x) => x.req.sessionId === s?.id)) a.answer('deny', 'cancelled at the terminal');
    setReason(undefined);
    if (s) attempt(client.cancel(s.id));
  }

  // ---- keys of the dialogs and the approval prompt (the input box has its own)
  const onSessionsKey = (d: Extract<Dialog, { kind: 'sessions' }>, input: string, key: Key) => {
    const sel = d.sessions[d.selected];
    if (d.mode === 'rename') {
      const k = promptKey(input, key);
      const text = (d.text + k.text).slice(0, 200);
      if (key.escape) setDialog({ ...d, mode: 'list' });
      else if (k.enter && sel) {
        attempt(client.updateSession({ sessionId: sel.id, name: text.trim() }).then(() => openSessions(d.query)));
      } else if (key.backspace || key.delete) setDialog({ ...d, text: d.text.slice(0, -1) });
      else if (k.text) setDialog({ ...d, text });
      return;
    }
    if (d.mode === 'delete') {
      if (input === 'y' && sel) {
        attempt(client.deleteSession(sel.id).then(async () => {
          if (sel.id === sessionRef.current?.id) { sessionRef.current = undefined; await create(); }
          await openSessions(d.query);
        }));
      } else setDialog({ ...d, mode: 'list' });
      return;
    }
    if (key.escape) { setDialog(undefined); return; }
    if (key.upArrow) { setDialog({ ...d, selected: Math.max(0, d.selected - 1) }); return; }
    if (key.downArrow) { setDialog({ ...d, selected: Math.min(d.sessions.length - 1, d.selected + 1) }); return; }
    if (key.return) { if (sel) { setDialog(undefined); attempt(open(sel.id)); } return; }
    if (key.ctrl && input === 'n') { setDialog(undefined); attempt(create()); return; }
    if (key.ctrl && input === 'r') { if (sel) setDialog({ ...d, mode: 'rename', text: sel.name }); return; }
    if (key.ctrl && input === 'd') { if (sel) setDialog({ ...d, mode: 'delete' }); return; }
    if (key.ctrl && input === 'f') {
      if (sel) { setDialog(undefined); attempt(client.forkSession({ sessionId: sel.id }).then((r) => open(r.id))); }
      return;
    }
    let q = d.query;
    if (key.backspace || key.delete) q = q.slice(0, -1);
    else if (input && !key.ctrl && !key.meta) q = (q + input).slice(0, 200);
    if (q !== d.query) {
      // Narrowed here at once; the server's search (session/list `search`) then gives the full answer.
      setDialog({ ...d, query: q, selected: 0, sessions: d.sessions.filter((x) => x.name.toLowerCase().includes(q.toLowerCase())) });
      attempt(client.listSessions({ limit: 100, ...(q ? { search: q } : {}) }).then(({ sessions }) => setDialog((cur) => (cur?.kind === 'sessions' && cur.query === q ? { ...cur, sessions, selected: 0 } : cur))));
    }
  };

  const onModelsKey = (d: Extract<Dialog, { kind: 'models' }>, _input: string, key: Key) => {
    if (key.escape) setDialog(undefined);
    else if (key.upArrow) setDialog({ ...d, selected: Math.max(0, d.selected - 1) });
    else if (key.downArrow) setDialog({ ...d, selected: Math.min(d.models.length - 1, d.selected + 1) });
    else if (key.return) {
      const m = d.models[d.selected];
      const s = sessionRef.current;
      setDialog(undefined);
      if (m && s) {
        attempt(client.updateSession({ sessionId: s.id, provider: m.provider, model: m.model }).then((r) => {
          sessionRef.current = r;
          setSession(sessionRef.current);
          tr.note(`model: ${m.provider}/${m.model} from the next turn`);
          rerender();
        }));
      }
    }
  };

  const onApprovalKey = (a: PendingApproval, input: string, key: Key) => {
    if (reason !== undefined) {
      const k = promptKey(input, key);
      const text = (reason + k.text).slice(0, 500);
      if (k.enter) { a.answer('deny', text.trim() || undefined); setReason(undefined); } else if (key.escape) { a.answer('deny'); setReason(undefined); } else if (key.backspace || key.delete) setReason(reason.slice(0, -1));
      else if (k.text) setReason(text);
      return;
    }
    if (input === 'y') a.answer('allow_once');
    else if (input === 'a') a.answer('allow_always');
    else if (input === 'n') setReason('');
  };

  useInput((input, key) => {
    if (ended.current) return;
    if (key.ctrl && input === 'c') {
      interrupts.current++;
      if (running || approval) {
        if (interrupts.current > 1) { quit(130); return; }
        setHint('cancelling the turn · Ctrl-C again quits');
        cancelTurn();
        return;
      }
      if (dialog) { setDialog(undefined); interrupts.current = 0; return; }
      if (interrupts.current > 1) { quit(130); return; }
      setHint('Ctrl-C again quits');
      return;
    }
    interrupts.current = 0;
    if (hint) setHint(undefined);
    if (approval) { onApprovalKey(approval, input, key); return; }
    if (!dialog) return;
    if (dialog.kind === 'help') { if (key.escape || input === '?' || input === 'q') setDialog(undefined); return; }
    if (dialog.kind === 'sessions') onSessionsKey(dialog, input, key);
    else onModelsKey(dialog, input, key);
  });

  // Keys the input box passes on.
  const onOtherKey = (input: string, key: Key, empty: boolean) => {
    if (key.ctrl && input === 'c') return true;
    if (key.ctrl && input === 'p') { attempt(openSessions()); return true; }
    if (key.ctrl && input === 'n') { attempt(create()); return true; }
    if (key.ctrl && input === 'o') { setExpanded((x) => !x); refresh(); return true; }
    if (key.ctrl && input === 'l') { refresh(); return true; }
    if (input === '?' && empty) { setDialog({ kind: 'help' }); return true; }
    if (key.escape) return true;
    return false;
  };

  // ---- the screen
  const finals = tr.finalCount();
  const pr = printed.current;
  for (const it of tr.items.slice(0, finals)) {
    if (!pr.ids.has(it.id)) { pr.ids.add(it.id); pr.list.push(it); }
  }
  if (pr.list.length > 2 * MAX_ITEMS) queueMicrotask(refresh);
  const live = tr.items.slice(finals);
  const liveRows = Math.max(3, size.rows - 10 - (approval ? 12 : 0) - (dialog ? 14 : 0));
  let lastAssistant = -1;
  live.forEach((it, i) => { if (it.kind === 'assistant') lastAssistant = i; });

  return h(Box, { flexDirection: 'column', width: size.width },
    h(Static<Item>, { key: `static${epoch}`, items: [...pr.list], children: (it: Item) => h(Box, { key: it.id, flexDirection: 'column', width: size.width }, h(ItemView, { item: it, expanded })) }),
    ...live.map((it, i) => h(Box, { key: it.id, flexDirection: 'column' }, h(ItemView, {
      item: it.kind === 'assistant' && i === lastAssistant ? { ...it, text: liveTail(it.text, size.width, liveRows) } : it, expanded,
    }))),
    approval ? h(Box, { marginTop: 1 }, h(ApprovalPrompt, { req: approval.req, reason, otherSession: approval.req.sessionId !== session?.id })) : null,
    dialog?.kind === 'help' ? h(KeyHelp) : null,
    dialog?.kind === 'sessions' ? h(SessionPicker, { ...dialog, current: session?.id }) : null,
    dialog?.kind === 'models' ? h(ModelPicker, { ...dialog, current: session ? `${session.provider}/${session.model}` : '' }) : null,
    h(Box, { marginTop: 1 }, h(Editor, {
      active: !approval && !dialog && !ended.current,
      onSubmit: (text) => attempt(send(text)),
      onOtherKey,
      history,
      width: size.width,
      placeholder: running ? 'a turn is running · Ctrl-C cancels it' : 'message the agent · ? for keys',
    })),
    h(StatusLine, { session, connection: conn, transport: client.transport, tokens: tr.tokens, costUsd: tr.costUsd, running, hint }),
  );
}
