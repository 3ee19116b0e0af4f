/** Entry point: VS Code calls activate() on the first agentd command or when the chat view opens. */
import type * as vscode from 'vscode';
import { AgentdController } from './controller.js';

let controller: AgentdController | undefined;

export function activate(context: vscode.ExtensionContext) {
  controller = new AgentdController(context);
  context.subscriptions.push(controller);
  // Start the server right away so the status bar tells its state; failures are shown, not thrown.
  void controller.start().catch((err: Error) => controller?.output.appendLine(`agentd did not start: ${err.message}`));
  return controller;
}

export async function deactivate() {
  await controller?.stop();
  controller = undefined;
}
