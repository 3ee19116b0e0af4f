/**
 * The chat webview view: a thin host of the chat UI shared with the page at `/` (bridge/web/ui,
 * bundled by extension/build.mjs into dist/webview/chat.js and chat.css). It posts the UI what the
 * controller gives it (ToView) and hands what the UI posts (FromView) to the controller.
 */
import * as vscode from 'vscode';
import type { FromView, ToView } from '../../bridge/web/ui/messages.js';

export type { FromView, ToView };

/** Messages kept for a view that is not there yet. */
const QUEUE_MAX = 1000;

export class ChatView implements vscode.WebviewViewProvider {
  static readonly viewType = 'agentd.chat';
  private view: vscode.WebviewView | undefined;
  private queue: ToView[] = [];

  constructor(private extensionUri: vscode.Uri, private onMessage: (msg: FromView) => void) {}

  get visible(): boolean {
    return Boolean(this.view?.visible);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = this.html(view.webview, media);
    view.webview.onDidReceiveMessage((msg: FromView) => {
      if (msg.type === 'ready') for (const m of this.queue.splice(0)) void view.webview.postMessage(m);
      this.onMessage(msg);
    });
    view.onDidDispose(() => { this.view = undefined; });
  }

  /** Posts to the UI (kept until the view is there). */
  post(msg: ToView) {
    if (this.view) void this.view.webview.postMessage(msg);
    else if (msg.type === 'history') this.queue = [msg];
    else if (this.queue.length < QUEUE_MAX) this.queue.push(msg);
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css'));
    // Only our script and styles; images only as data: URLs (pasted images); nothing else loads.
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; img-src data:; font-src ${webview.cspSource}; base-uri 'none'; form-action 'none';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style}" rel="stylesheet">
<title>agentd</title>
</head>
<body>
<div id="chat"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
