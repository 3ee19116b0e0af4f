/**
 * A stand-in for the `vscode` module: just the API the agentd extension uses, recording what the
 * extension shows and answering its prompts from scripted responders. `loadExtension()` loads the
 * built extension bundle (extension/dist/extension.cjs) with `require('vscode')` bound to it.
 */
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './rpc-client.js';

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

export class Uri {
  constructor(readonly fsPath: string) {}
  static file(p: string) { return new Uri(p); }
  static joinPath(base: Uri, ...parts: string[]) { return new Uri(join(base.fsPath, ...parts)); }
  get path() { return this.fsPath; }
  toString() { return `file://${this.fsPath}`; }
}

class Emitter<T> {
  private ls: Array<(v: T) => void> = [];
  event = (l: (v: T) => void) => { this.ls.push(l); return { dispose: () => { this.ls = this.ls.filter((x) => x !== l); } }; };
  fire(v: T) { for (const l of this.ls) l(v); }
}

class Memento {
  private m = new Map<string, unknown>();
  get<T>(k: string, d?: T): T | undefined { return this.m.has(k) ? (this.m.get(k) as T) : d; }
  async update(k: string, v: unknown) { if (v === undefined) this.m.delete(k); else this.m.set(k, v); }
  keys() { return [...this.m.keys()]; }
}

export class SecretStore {
  readonly m = new Map<string, string>();
  async get(k: string) { return this.m.get(k); }
  async store(k: string, v: string) { this.m.set(k, v); }
  async delete(k: string) { this.m.delete(k); }
  onDidChange = new Emitter<unknown>().event;
}

/** A webview view as VS Code would give the provider. */
export class FakeWebviewView {
  readonly posted: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  private receive = new Emitter<unknown>();
  private disposed = new Emitter<void>();
  visible = true;
  readonly webview = {
    options: {} as unknown,
    html: '',
    cspSource: 'vscode-resource:',
    asWebviewUri: (u: Uri) => u,
    postMessage: async (m: unknown) => { this.posted.push(m); return true; },
    onDidReceiveMessage: (l: (m: unknown) => void) => this.receive.event(l),
  };
  show() { this.visible = true; }
  onDidDispose = (l: () => void) => this.disposed.event(l);
  onDidChangeVisibility = new Emitter<void>().event;
  /** What the page would post (`ready`, `send`, `approve`, ...). */
  fromPage(m: unknown) { this.receive.fire(m); }
}

export interface Shown { kind: string; message: string; items: string[]; options?: unknown }

export function createVscodeStub(opts: { workspace: string; extensionPath: string; settings?: Record<string, unknown>; trusted?: boolean }) {
  const trustGranted = new Emitter<void>();
  const settings: Record<string, unknown> = { ...(opts.settings ?? {}) };
  const commands = new Map<string, Fn>();
  const providers = new Map<string, { resolveWebviewView: Fn }>();
  const outputs: Array<{ name: string; text: string }> = [];
  const shown: Shown[] = [];
  const statusItems: Array<{ text: string; tooltip?: string; command?: string; visible: boolean }> = [];
  /** Scripted answers: a function per prompt kind; default: dismiss (undefined). */
  const answer: {
    inputBox?: (o: unknown) => string | undefined;
    quickPick?: (items: Array<{ label: string }>, o: unknown) => unknown;
    message?: (s: Shown) => string | undefined;
  } = {};
  const message = (kind: string) => async (msg: string, ...rest: unknown[]) => {
    const options = rest[0] && typeof rest[0] === 'object' ? rest.shift() : undefined;
    const s: Shown = { kind, message: msg, items: rest as string[], options };
    shown.push(s);
    return answer.message?.(s);
  };
  const vscode = {
    Uri,
    StatusBarAlignment: { Left: 1, Right: 2 },
    ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
    EventEmitter: Emitter,
    window: {
      createOutputChannel: (name: string) => {
        const o = { name, text: '' };
        outputs.push(o);
        return { name, append: (s: string) => { o.text += s; }, appendLine: (s: string) => { o.text += `${s}\n`; }, show() {}, clear() { o.text = ''; }, dispose() {} };
      },
      createStatusBarItem: () => {
        const item = { text: '', tooltip: undefined as string | undefined, command: undefined as string | undefined, name: '', visible: false, show() { item.visible = true; }, hide() { item.visible = false; }, dispose() {} };
        statusItems.push(item);
        return item;
      },
      registerWebviewViewProvider: (id: string, p: { resolveWebviewView: Fn }) => { providers.set(id, p); return { dispose() {} }; },
      showInputBox: async (o: unknown) => answer.inputBox?.(o),
      showQuickPick: async (items: Array<{ label: string }> | Promise<Array<{ label: string }>>, o: unknown) => answer.quickPick?.(await items, o),
      showInformationMessage: message('info'),
      showWarningMessage: message('warning'),
      showErrorMessage: message('error'),
    },
    commands: {
      registerCommand: (id: string, fn: Fn) => { commands.set(id, fn); return { dispose: () => commands.delete(id) }; },
      executeCommand: async (id: string, ...args: unknown[]) => {
        const fn = commands.get(id);
        if (!fn) throw new Error(`command not found: ${id}`);
        return fn(...args);
      },
    },
    workspace: {
      /** VS Code's workspace trust (default trusted); `grantTrust()` trusts it as the user would. */
      isTrusted: opts.trusted ?? true,
      onDidGrantWorkspaceTrust: trustGranted.event,
      workspaceFolders: [{ uri: Uri.file(opts.workspace), name: 'ws', index: 0 }],
      getConfiguration: (section: string) => ({
        get: (key: string, d?: unknown) => (`${section}.${key}` in settings ? settings[`${section}.${key}`] : d),
        update: async (key: string, v: unknown) => { settings[`${section}.${key}`] = v; },
      }),
    },
  };
  const context = {
    extensionUri: Uri.file(opts.extensionPath),
    extensionPath: opts.extensionPath,
    subscriptions: [] as Array<{ dispose(): unknown }>,
    workspaceState: new Memento(),
    globalState: new Memento(),
    secrets: new SecretStore(),
    extension: { packageJSON: { version: '0.1.0' } },
  };
  const grantTrust = () => { vscode.workspace.isTrusted = true; trustGranted.fire(); };
  return { vscode, context, settings, commands, providers, outputs, shown, statusItems, answer, grantTrust };
}

/** Loads the built extension with `vscode` resolved to the stub. */
export function loadExtension(vscode: unknown): { activate: Fn; deactivate: Fn } {
  const M = Module as unknown as { _load: Fn };
  const original = M._load;
  M._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return vscode;
    return original.call(this, request, ...rest);
  };
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const path = require.resolve(join(ROOT, 'extension', 'dist', 'extension.cjs'));
    delete require.cache[path];
    return require(path);
  } finally {
    M._load = original;
  }
}
