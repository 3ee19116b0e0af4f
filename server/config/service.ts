/**
 * The config document (protocol Config). Two layers: the user config, `config.json` in the
 * data directory (config/update replaces it whole), and the project config, `agentd.json` in
 * the server's working directory (the workspace), merged over it: objects merge key by key,
 * arrays and scalars replace, and an MCP server defined in the project replaces the user's
 * server of the same name whole. The project layer applies whole only once the user trusted
 * that workspace and file content (server/config/trust.ts); until then only its harmless keys do.
 * Both are validated on load (start-up fails on a bad file, naming the field) and every update is
 * validated before anything changes. Every default lives in server/config/defaults.ts.
 *
 * Secrets (MCP header and env values, provider API keys and header values, OAuth client secrets) never leave through config/get or
 * config.updated: they read `[redacted]`, and an update that sends `[redacted]` back keeps the
 * stored value.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CompactionConfig, Config, Limits, ProjectConfigState, SnapshotsConfig } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import { validateParams } from '../rpc/validate.js';
import { type Ignored, type ProjectFile, readProjectFile, TrustStore, untrustedView, workspaceKey } from './trust.js';
import type { RateSubject } from '../security/rate.js';
import { DEFAULT_COMPACTION, DEFAULT_LIMITS, DEFAULT_SNAPSHOTS } from './defaults.js';

export const REDACTED = '[redacted]';
export const PROJECT_FILE = 'agentd.json';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of `over` onto `base` (see the file comment for the rules). */
export function mergeConfig(base: Config, over: Config): Config {
  const merge = (a: unknown, b: unknown, path: string[]): unknown => {
    if (!isObj(a) || !isObj(b)) return b === undefined ? a : b;
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const replaceWhole = path.length === 1 && path[0] === 'mcpServers';
      out[k] = replaceWhole ? v : merge(a[k], v, [...path, k]);
    }
    return out;
  };
  return merge(base, over, []) as Config;
}

/** Providers whose settings cannot define an openai-compatible provider. */
const NOT_OPENAI_COMPATIBLE = ['echo', 'anthropic'];
// `models` is for every provider: prices and context windows (session control); for openai-compatible ones it is also the model list.
const OPENAI_ONLY_FIELDS = ['name', 'apiKey', 'headers'] as const;

/** Checks beyond the JSON Schema; throws InvalidParams naming the field (`prefix` + path). */
export function checkConfig(c: Config, prefix = 'config'): void {
  for (const [id, p] of Object.entries(c.providers ?? {})) {
    if (!p) continue;
    const f = `${prefix}.providers.${id}`;
    if (p.type !== undefined && NOT_OPENAI_COMPATIBLE.includes(id)) throw RpcError.invalidParams(`${f}.type`, `is not allowed: ${id} is a built-in provider of its own type`);
    if (p.type === 'openai-compatible' && id !== 'openai' && p.baseUrl === undefined) throw RpcError.invalidParams(`${f}.baseUrl`, 'is required for an openai-compatible provider');
    if (NOT_OPENAI_COMPATIBLE.includes(id)) for (const k of OPENAI_ONLY_FIELDS) if (p[k] !== undefined) throw RpcError.invalidParams(`${f}.${k}`, 'is only for openai-compatible providers');
    if (p.baseUrl !== undefined) {
      let u: URL | undefined;
      try { u = new URL(p.baseUrl); } catch { /* below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw RpcError.invalidParams(`${f}.baseUrl`, 'must be an http(s) URL');
    }
  }
  for (const [name, s] of Object.entries(c.mcpServers ?? {})) {
    if (!s) continue;
    const f = `${prefix}.mcpServers.${name}`;
    if ((s.command === undefined) === (s.url === undefined)) throw RpcError.invalidParams(f, 'needs exactly one of `command` (stdio) or `url` (Streamable HTTP or SSE)');
    if (s.type === 'stdio' && s.command === undefined) throw RpcError.invalidParams(`${f}.type`, 'is `stdio`, which needs `command`');
    if ((s.type === 'http' || s.type === 'sse') && s.url === undefined) throw RpcError.invalidParams(`${f}.type`, `is \`${s.type}\`, which needs \`url\``);
    if (s.url !== undefined) {
      let u: URL | undefined;
      try { u = new URL(s.url); } catch { /* below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw RpcError.invalidParams(`${f}.url`, 'must be an http(s) URL');
      for (const k of ['args', 'env', 'cwd'] as const) if (s[k] !== undefined) throw RpcError.invalidParams(`${f}.${k}`, 'is only for stdio servers');
    } else {
      for (const k of ['headers', 'oauth'] as const) if (s[k] !== undefined) throw RpcError.invalidParams(`${f}.${k}`, 'is only for HTTP (Streamable or SSE) servers');
    }
  }
}

const isEmptyObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype && Object.keys(v).length === 0;

/** Validates a whole config document (schema, then the extra checks). */
function validate(doc: unknown, prefix: string): Config {
  // No config at all (no file, no project layer) is valid: the start of a fresh data dir does
  // not load the config validator, the largest of them (cold start, bench/).
  if (isEmptyObject(doc)) return doc as Config;
  validateParams('ConfigUpdateParams', { config: doc });
  checkConfig(doc as Config, prefix);
  return doc as Config;
}

/** Walks every secret slot of a config: (path, value, set). */
function secrets(c: Config, fn: (path: string, value: string, set: (v: string) => void) => void) {
  for (const [name, s] of Object.entries(c.mcpServers ?? {})) {
    for (const key of ['headers', 'env'] as const) {
      const map = s?.[key];
      if (map) for (const [k, v] of Object.entries(map)) if (v !== undefined) fn(`mcpServers.${name}.${key}.${k}`, v, (nv) => { map[k] = nv; });
    }
    const o = s?.oauth;
    if (o?.clientSecret !== undefined) fn(`mcpServers.${name}.oauth.clientSecret`, o.clientSecret, (v) => { o.clientSecret = v; });
  }
  for (const [id, p] of Object.entries(c.providers ?? {})) {
    if (p?.apiKey !== undefined) fn(`providers.${id}.apiKey`, p.apiKey, (v) => { p.apiKey = v; });
    const h = p?.headers;
    if (h) for (const [k, v] of Object.entries(h)) if (v !== undefined) fn(`providers.${id}.headers.${k}`, v, (nv) => { h[k] = nv; });
    const o = p?.oauth;
    if (o?.clientSecret !== undefined) fn(`providers.${id}.oauth.clientSecret`, o.clientSecret, (v) => { o.clientSecret = v; });
  }
  const st = c.store;
  if (st?.url !== undefined) fn('store.url', st.url, (v) => { st.url = v; });
}

export function redact(c: Config): Config {
  const copy = structuredClone(c);
  secrets(copy, (_p, _v, set) => set(REDACTED));
  return copy;
}

export interface ConfigOptions {
  /** Read the workspace's agentd.json at all (`serve --no-project-config`: false). Default true. */
  projectConfig?: boolean;
}
/**
 * A check a component adds for updates (the REST rate limiter: an update may not lock out its
 * caller). Gets the effective config the update would make and the caller; throws InvalidParams.
 */
export type ConfigCheck = (effective: Config, caller: { rate?: RateSubject }) => void | Promise<void>;

/** Where a config change came from: this node's config/update, or another node's (several nodes on one database). */
export type ConfigOrigin = 'local' | 'shared';

/** The part of a user config nodes share: all but `store` (each node's way to its database). */
function sharedPart(c: Config): Config {
  const { store: _store, ...rest } = c;
  return rest;
}

export class ConfigService {
  private user: Config = {};
  /** The project file as read (validated), whether or not it applies. */
  private project: Config = {};
  private projectHash: string | undefined;
  private trusted = false;
  private ignored: Ignored[] = [];
  /** Why the workspace's agentd.json could not be used at all (not JSON, invalid, too large). */
  private invalidProject: string | undefined;
  private effective: Config = {};
  private listeners: Array<(c: Config, origin: ConfigOrigin) => void> = [];
  private savers: Array<(shared: Config) => void | Promise<void>> = [];
  /** The savers' work of the last update (stored for other nodes). */
  private saving: Promise<unknown> = Promise.resolve();
  private checks: Array<ConfigCheck> = [];
  readonly file: string;
  readonly projectFile: string;
  readonly projectEnabled: boolean;
  readonly trust: TrustStore;

  constructor(readonly dataDir: string, cwd = process.cwd(), opts: ConfigOptions = {}) {
    this.file = join(dataDir, 'config.json');
    this.projectFile = join(workspaceKey(cwd), PROJECT_FILE);
    this.projectEnabled = opts.projectConfig !== false;
    this.trust = new TrustStore(dataDir);
    this.user = this.load(this.file);
    if (this.projectEnabled) {
      try {
        const f = readProjectFile(this.projectFile);
        if (f) {
          this.projectHash = f.hash;
          this.project = this.check(f.json, this.projectFile);
          this.trusted = this.trust.isTrusted(dirname(this.projectFile), f.hash);
        }
      } catch (err) {
        // An unreadable or invalid agentd.json was never trusted (config/trust validates what it
        // records), so it is ignored whole: a hostile repository cannot keep agentd from starting.
        this.project = {};
        this.invalidProject = (err as Error).message;
      }
    }
    const m = this.merged(this.user);
    try {
      validate(m.effective, '(merged)');
    } catch (err) {
      throw new Error(`config file ${this.file} merged with ${this.projectFile} is invalid: ${err instanceof RpcError ? err.message : String(err)}`);
    }
    this.effective = m.effective;
    this.ignored = m.ignored;
  }

  private load(file: string): Config {
    if (!existsSync(file)) return {};
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    return this.check(doc, file);
  }

  private check(doc: unknown, file: string): Config {
    try {
      return validate(doc, '(file)');
    } catch (err) {
      throw new Error(`config file ${file} is invalid: ${err instanceof RpcError ? err.message.replace(/^Invalid params: /, '') : String(err)}`);
    }
  }

  /** The user config with the project layer over it: all of it when trusted, its harmless part otherwise (server/config/trust.ts). */
  private merged(user: Config): { effective: Config; ignored: Ignored[] } {
    if (this.invalidProject !== undefined) return { effective: user, ignored: [{ key: `(the whole file: ${this.invalidProject})`, value: undefined }] };
    if (this.trusted) return { effective: mergeConfig(user, this.project), ignored: [] };
    const view = untrustedView(this.project, user, DEFAULT_LIMITS);
    return { effective: mergeConfig(user, view.applied), ignored: view.ignored };
  }

  /** Whether the workspace's agentd.json is there, trusted, and what of it does not apply. */
  projectState(): ProjectConfigState {
    return {
      path: this.projectFile,
      present: this.projectHash !== undefined,
      enabled: this.projectEnabled,
      trusted: this.trusted,
      ...(this.projectHash ? { hash: this.projectHash } : {}),
      ignoredKeys: this.ignored.map((i) => i.key),
    };
  }

  /** The keys of an untrusted agentd.json that do not apply, with their values (for `agentd trust`; may hold secrets). */
  ignoredEntries(): Ignored[] {
    return this.ignored;
  }

  /**
   * config/trust: trusts the workspace's agentd.json if its bytes still hash to `hash` (what the
   * client showed the user), records it in trust.json and applies it at once (listeners run).
   */
  trustProject(hash: string): ProjectConfigState {
    if (!this.projectEnabled) throw RpcError.forbidden(`this server does not read ${PROJECT_FILE} (started with --no-project-config)`);
    let f: ProjectFile | undefined;
    try {
      f = readProjectFile(this.projectFile);
    } catch (err) {
      throw RpcError.conflict(`${this.projectFile} cannot be trusted: ${(err as Error).message}`);
    }
    if (!f) throw RpcError.notFound('project config', this.projectFile);
    if (f.hash !== hash) throw RpcError.conflict(`${this.projectFile} changed since it was read (its hash is now ${f.hash})`, { hash: f.hash });
    let doc: Config;
    try {
      doc = this.check(f.json, this.projectFile);
    } catch (err) {
      throw RpcError.conflict((err as Error).message);
    }
    const eff = mergeConfig(this.user, doc);
    try {
      validate(eff, 'config');
    } catch (err) {
      throw RpcError.conflict(`${this.projectFile} merged with the user config is invalid: ${(err as Error).message}`);
    }
    this.trust.trust(dirname(this.projectFile), f.hash);
    this.project = doc;
    this.projectHash = f.hash;
    this.invalidProject = undefined;
    this.trusted = true;
    this.ignored = [];
    this.effective = eff;
    for (const fn of this.listeners) fn(eff, 'local');
    return this.projectState();
  }

  /** The user layer alone (config.json). */
  userConfig(): Config {
    return this.user;
  }

  /** The effective config (user config with the project's agentd.json merged over it). */
  get(): Config {
    return this.effective;
  }

  /** The effective config with secrets replaced by `[redacted]`. */
  public(): Config {
    return redact(this.effective);
  }

  /** Called with the new effective config after every successful update (and adopted shared one). */
  onChange(fn: (c: Config, origin: ConfigOrigin) => void) {
    this.listeners.push(fn);
  }

  /** Called with the shareable part of the user config after each local update (to store it for other nodes). */
  onSave(fn: (shared: Config) => void | Promise<void>) {
    this.savers.push(fn);
  }

  /** Resolves once the savers of every update so far finished. */
  saved(): Promise<void> {
    return this.saving.then(() => undefined);
  }

  /** The shareable part of the current user config. */
  shared(): Config {
    return structuredClone(sharedPart(this.user));
  }

  /**
   * Adopts the user config another node stored (keeping this node's `store`): validated, written
   * to the local file and applied. Unchanged: nothing happens. Throws when it is invalid here.
   */
  adopt(shared: Config): boolean {
    if (JSON.stringify(sharedPart(shared)) === JSON.stringify(sharedPart(this.user))) return false;
    const doc: Config = { ...sharedPart(shared), ...(this.user.store ? { store: this.user.store } : {}) };
    validate(doc, 'config');
    const { effective: eff, ignored } = this.merged(doc);
    validate(eff, 'config');
    this.write(doc);
    this.user = doc;
    this.effective = eff;
    this.ignored = ignored;
    for (const fn of this.listeners) fn(eff, 'shared');
    return true;
  }

  private write(doc: Config) {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  addCheck(fn: ConfigCheck) {
    this.checks.push(fn);
  }

  /** Runs the components' checks on what `next` would make the effective config (config/update calls it before update). */
  async checkUpdate(next: Config, caller: { rate?: RateSubject }): Promise<void> {
    const eff = this.merged(next).effective;
    for (const fn of this.checks) await fn(eff, caller);
  }

  /**
   * Replaces the user config. `[redacted]` secret values keep what the effective config had.
   * Throws InvalidParams (field `config.<path>`) and changes nothing when the result is invalid.
   */
  update(next: Config): Config {
    const doc = structuredClone(next);
    const old = new Map<string, string>();
    secrets(this.effective, (path, value) => old.set(path, value));
    secrets(doc, (path, value, set) => {
      if (value !== REDACTED) return;
      const kept = old.get(path);
      if (kept === undefined) throw RpcError.invalidParams(`config.${path}`, `is ${REDACTED} but there is no stored value to keep`);
      set(kept);
    });
    validate(doc, 'config');
    const { effective: eff, ignored } = this.merged(doc);
    try {
      validate(eff, 'config');
    } catch (err) {
      if (err instanceof RpcError) throw RpcError.invalidParams(String(err.data?.field ?? 'config'), `${err.data?.reason ?? 'is invalid'} (after merging ${PROJECT_FILE})`);
      throw err;
    }
    this.write(doc);
    this.user = doc;
    this.effective = eff;
    this.ignored = ignored;
    const shared = sharedPart(doc);
    // In order: each update's save starts after the previous one's.
    this.saving = this.saving.then(() => Promise.all(this.savers.map((fn) => fn(shared)))).catch(() => { /* each saver reports its own failure */ });
    for (const fn of this.listeners) fn(eff, 'local');
    return eff;
  }

  limits(): Required<Limits> {
    return { ...DEFAULT_LIMITS, ...(this.effective.limits ?? {}) };
  }

  snapshots(): Required<SnapshotsConfig> {
    return { ...DEFAULT_SNAPSHOTS, ...(this.effective.snapshots ?? {}) };
  }

  compaction(): Required<CompactionConfig> {
    return { ...DEFAULT_COMPACTION, ...(this.effective.compaction ?? {}) };
  }

  defaultProvider(): string {
    return this.effective.defaultProvider ?? 'echo';
  }
}
