/**
 * The chat webview view: renders the session from the messages it is sent (history, then live
 * events) and sends back what the user does (send, cancel, approve). The page is media/chat.js.
 */
import * as vscode from 'vscode';
import type { Message, PermissionDecision, PermissionRequestParams, PermissionRequestResult, Session, TypedEvent } from '../../protocol/client/index.js';

/** Messages the extension posts to the page. */
export type ToView =
  | { type: 'state'; state: string }
  | { type: 'history'; session: Session; messages: Message[] }
  | { type: 'event'; event: TypedEvent }
  | { type: 'permission'; request: PermissionRequestParams }
  | { type: 'permissionClosed'; permissionId: string; decision?: string }
  | { type: 'error'; message: string };

/** Messages the page posts to the extension. */
export type FromView =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'cancel' }
  | { type: 'newSession' }
  | { type: 'sessions' }
  | { type: 'approve'; permissionId: string; decision: PermissionDecision };

export class ChatView implements vscode.WebviewViewProvider {
  static readonly viewType = 'agentd.chat';
  private view: vscode.WebviewView | undefined;
  private queue: ToView[] = [];
  private pending = new Map<string, (r: PermissionRequestResult) => void>();

  constructor(private extensionUri: vscode.Uri, private onMessage: (msg: FromView) => void) {}

  get visible(): boolean {
    return Boolean(this.view?.visible);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = this.html(view.webview, media);
    view.webview.onDidReceiveMessage((msg: FromView) => {
      if (msg.type === 'ready') for (const m of this.queue.splice(0)) void view.webview.postMessage(m);
      this.onMessage(msg);
    });
    view.onDidDispose(() => { this.view = undefined; });
  }

  /** Posts to the page (kept until the page is there). */
  post(msg: ToView) {
    if (this.view) void this.view.webview.postMessage(msg);
    else if (msg.type === 'history') this.queue = [msg];
    else this.queue.push(msg);
  }

  /** Shows allow once / always / deny in the view; resolves with the answer (deny if resolved elsewhere). */
  askApproval(request: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    return new Promise((resolve) => {
      this.pending.set(request.permissionId, resolve);
      signal.addEventListener('abort', () => {
        if (this.pending.delete(request.permissionId)) {
          this.post({ type: 'permissionClosed', permissionId: request.permissionId });
          resolve({ decision: 'deny', reason: 'no longer pending' });
        }
      }, { once: true });
      this.post({ type: 'permission', request });
    });
  }

  answer(permissionId: string, decision: PermissionDecision) {
    const resolve = this.pending.get(permissionId);
    if (!resolve) return;
    this.pending.delete(permissionId);
    this.post({ type: 'permissionClosed', permissionId, decision });
    resolve(decision === 'deny' ? { decision, reason: 'denied by the user' } : { decision });
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css'));
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style}" rel="stylesheet">
<title>agentd</title>
</head>
<body>
<header><span id="session">no session</span><span id="state"></span></header>
<main id="log" aria-live="polite"></main>
<form id="composer">
  <textarea id="input" rows="3" placeholder="Ask the agent… (Enter sends, Shift+Enter for a new line)"></textarea>
  <div class="buttons">
    <button type="submit" id="send">Send</button>
    <button type="button" id="cancel" class="secondary">Cancel</button>
    <button type="button" id="new" class="secondary">New</button>
    <button type="button" id="sessions" class="secondary">Sessions</button>
  </div>
</form>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
