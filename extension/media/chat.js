// The agentd chat page. It only renders what it is sent (history, events, approval requests)
// and posts back what the user does; all protocol work happens in the extension.
// @ts-check
(function () {
  const vscode = acquireVsCodeApi();
  const log = /** @type {HTMLElement} */ (document.getElementById('log'));
  const input = /** @type {HTMLTextAreaElement} */ (document.getElementById('input'));
  const sessionLabel = /** @type {HTMLElement} */ (document.getElementById('session'));
  const stateLabel = /** @type {HTMLElement} */ (document.getElementById('state'));
  /** @type {Map<string, HTMLElement>} */ const bubbles = new Map();
  /** @type {Map<string, HTMLElement>} */ const tools = new Map();
  /** @type {Map<string, HTMLElement>} */ const approvals = new Map();

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  function add(node) { log.appendChild(node); scroll(); return node; }
  const textOf = (parts) => (parts || []).filter((p) => p.type === 'text').map((p) => p.text).join('');
  const json = (v) => { try { return JSON.stringify(v, null, 2); } catch { return String(v); } };

  function bubble(id, role) {
    let b = bubbles.get(id);
    if (!b) {
      b = el('div', `msg ${role}`);
      b.dataset.messageId = id;
      b.appendChild(el('div', 'role', role === 'user' ? 'You' : 'agentd'));
      b.appendChild(el('div', 'text'));
      bubbles.set(id, b);
      add(b);
    }
    return b;
  }
  function setText(b, text) { /** @type {HTMLElement} */ (b.querySelector('.text')).textContent = text; scroll(); }
  function appendText(b, text) { /** @type {HTMLElement} */ (b.querySelector('.text')).textContent += text; scroll(); }

  function toolBlock(callId, name, inputValue) {
    let t = tools.get(callId);
    if (!t) {
      t = el('details', 'tool running');
      t.dataset.callId = callId;
      t.open = true;
      const summary = el('summary', '', `⚙ ${name}`);
      t.appendChild(summary);
      t.appendChild(el('div', 'label', 'input'));
      t.appendChild(el('pre', 'input', json(inputValue ?? {})));
      t.appendChild(el('div', 'label', 'output'));
      t.appendChild(el('pre', 'output', ''));
      tools.set(callId, t);
      add(t);
    }
    return t;
  }
  function toolResult(t, text, failed) {
    t.classList.remove('running');
    t.classList.add(failed ? 'failed' : 'done');
    /** @type {HTMLElement} */ (t.querySelector('pre.output')).textContent = text;
    scroll();
  }
  function note(text, cls) { add(el('div', `note ${cls || ''}`, text)); }

  function renderMessage(m) {
    const b = bubble(m.id, m.role);
    setText(b, textOf(m.content));
    for (const p of m.content || []) {
      if (p.type === 'tool_use') toolBlock(p.id, p.name, p.input);
      if (p.type === 'tool_result') { const t = tools.get(p.toolUseId); if (t) toolResult(t, textOf(p.content), p.isError); }
    }
    if (m.role === 'user' && !textOf(m.content)) b.remove();
  }

  function onEvent(e) {
    const d = e.data;
    switch (e.type) {
      case 'message.created': if (d.message.role === 'user') renderMessage(d.message); else bubble(d.message.id, 'assistant'); break;
      case 'message.delta': if (d.delta && d.delta.type === 'text_delta') appendText(bubble(d.messageId, 'assistant'), d.delta.text); break;
      case 'message.completed': if (d.message.role === 'assistant') { const b = bubble(d.message.id, 'assistant'); setText(b, textOf(d.message.content)); } break;
      case 'turn.started': stateLabel.textContent = 'working…'; document.body.classList.add('busy'); break;
      case 'turn.completed': stateLabel.textContent = ''; document.body.classList.remove('busy'); break;
      case 'turn.failed': case 'turn.cancelled': case 'turn.interrupted':
        stateLabel.textContent = ''; document.body.classList.remove('busy');
        note(`Turn ${e.type.slice(5)}${d.error ? `: ${d.error.message}` : d.reason ? `: ${d.reason}` : ''}`, 'warn');
        break;
      case 'tool.started': toolBlock(d.callId, d.tool, d.input); break;
      case 'tool.output': { const t = toolBlock(d.callId, d.tool, d.input); /** @type {HTMLElement} */ (t.querySelector('pre.output')).textContent += d.text || ''; break; }
      case 'tool.completed': toolResult(toolBlock(d.callId, d.tool, d.input), d.result ? textOf(d.result.content) : '', Boolean(d.result && d.result.isError)); break;
      case 'tool.failed': toolResult(toolBlock(d.callId, d.tool, d.input), d.error ? d.error.message : (d.result ? textOf(d.result.content) : 'failed'), true); break;
      case 'permission.resolved': closeApproval(d.permissionId, d.decision); break;
    }
  }

  function askApproval(req) {
    if (approvals.has(req.permissionId)) return;
    const box = el('div', 'approval');
    box.dataset.permissionId = req.permissionId;
    box.appendChild(el('div', 'title', `Allow ${req.tool}?`));
    box.appendChild(el('div', 'summary', req.summary));
    box.appendChild(el('pre', 'input', json(req.input)));
    const buttons = el('div', 'buttons');
    for (const [label, decision] of [['Allow once', 'allow_once'], ['Allow always', 'allow_always'], ['Deny', 'deny']]) {
      const b = el('button', decision === 'deny' ? 'secondary' : '', label);
      b.dataset.decision = decision;
      b.addEventListener('click', () => vscode.postMessage({ type: 'approve', permissionId: req.permissionId, decision }));
      buttons.appendChild(b);
    }
    box.appendChild(buttons);
    approvals.set(req.permissionId, box);
    add(box);
  }
  function closeApproval(permissionId, decision) {
    const box = approvals.get(permissionId);
    if (!box || box.classList.contains('answered')) return;
    box.classList.add('answered');
    const buttons = box.querySelector('.buttons');
    if (buttons) buttons.replaceWith(el('div', 'decision', decision ? `Answered: ${decision.replace('_', ' ')}` : 'No longer pending'));
  }

  window.addEventListener('message', (ev) => {
    const msg = ev.data;
    switch (msg.type) {
      case 'state': document.body.dataset.state = msg.state; if (msg.state !== 'connected') stateLabel.textContent = `server ${msg.state}`; else if (stateLabel.textContent.startsWith('server')) stateLabel.textContent = ''; break;
      case 'history':
        log.textContent = ''; bubbles.clear(); tools.clear(); approvals.clear();
        sessionLabel.textContent = `${msg.session.name || msg.session.id} · ${msg.session.provider}/${msg.session.model}`;
        document.body.dataset.sessionId = msg.session.id;
        for (const m of msg.messages) renderMessage(m);
        break;
      case 'event': onEvent(msg.event); break;
      case 'permission': askApproval(msg.request); break;
      case 'permissionClosed': closeApproval(msg.permissionId, msg.decision); break;
      case 'error': note(msg.message, 'error'); break;
    }
  });

  const form = /** @type {HTMLFormElement} */ (document.getElementById('composer'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    vscode.postMessage({ type: 'send', text });
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById('cancel')?.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
  document.getElementById('new')?.addEventListener('click', () => vscode.postMessage({ type: 'newSession' }));
  document.getElementById('sessions')?.addEventListener('click', () => vscode.postMessage({ type: 'sessions' }));
  vscode.postMessage({ type: 'ready' });
})();
