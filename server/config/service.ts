/**
 * The config document (protocol Config). Two layers: the user config, `config.json` in the
 * data directory (config/update replaces it whole), and the project config, `agentd.json` in
 * the server's working directory (the workspace), merged over it: objects merge key by key,
 * arrays and scalars replace, and an MCP server defined in the project replaces the user's
 * server of the same name whole. Both are validated on load (start-up fails on a bad file, naming
 * the field) and every update is validated before anything changes. Every default lives here,
 * next to the code that applies it.
 *
 * Secrets (MCP header and env values, OAuth client secrets) never leave through config/get or
 * config.updated: they read `[redacted]`, and an update that sends `[redacted]` back keeps the
 * stored value.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Limits } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import { validateParams } from '../rpc/validate.js';
import type { RateSubject } from '../security/rate.js';

export const DEFAULT_LIMITS: Required<Limits> = {
  maxSteps: 25,
  maxBodyBytes: 4 * 1024 * 1024,
  maxSubscriptions: 1000,
  maxConcurrentTurns: 256,
  sendBufferBytes: 16 * 1024 * 1024,
  totalSendBufferBytes: 256 * 1024 * 1024,
  eventRetention: 100_000,
  commandTimeoutMs: 120_000,
};

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

/** Checks beyond the JSON Schema; throws InvalidParams naming the field (`prefix` + path). */
export function checkConfig(c: Config, prefix = 'config'): void {
  for (const [name, s] of Object.entries(c.mcpServers ?? {})) {
    if (!s) continue;
    const f = `${prefix}.mcpServers.${name}`;
    if ((s.command === undefined) === (s.url === undefined)) throw RpcError.invalidParams(f, 'needs exactly one of `command` (stdio) or `url` (Streamable HTTP)');
    if (s.url !== undefined) {
      let u: URL | undefined;
      try { u = new URL(s.url); } catch { /* below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw RpcError.invalidParams(`${f}.url`, 'must be an http(s) URL');
      for (const k of ['args', 'env', 'cwd'] as const) if (s[k] !== undefined) throw RpcError.invalidParams(`${f}.${k}`, 'is only for stdio servers');
    } else if (s.headers !== undefined) throw RpcError.invalidParams(`${f}.headers`, 'is only for Streamable HTTP servers');
  }
}

/** Validates a whole config document (schema, then the extra checks). */
function validate(doc: unknown, prefix: string): Config {
  validateParams('ConfigGetResult', { config: doc });
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
  }
  for (const [id, p] of Object.entries(c.providers ?? {})) {
    const o = p?.oauth;
    if (o?.clientSecret !== undefined) fn(`providers.${id}.oauth.clientSecret`, o.clientSecret, (v) => { o.clientSecret = v; });
  }
}

export function redact(c: Config): Config {
  const copy = structuredClone(c);
  secrets(copy, (_p, _v, set) => set(REDACTED));
  return copy;
}

/**
 * A check a component adds for updates (the REST rate limiter: an update may not lock out its
 * caller). Gets the effective config the update would make and the caller; throws InvalidParams.
 */
export type ConfigCheck = (effective: Config, caller: { rate?: RateSubject }) => void | Promise<void>;

export class ConfigService {
  private user: Config = {};
  private project: Config = {};
  private effective: Config = {};
  private listeners: Array<(c: Config) => void> = [];
  private checks: Array<ConfigCheck> = [];
  readonly file: string;
  readonly projectFile: string;

  constructor(readonly dataDir: string, cwd = process.cwd()) {
    this.file = join(dataDir, 'config.json');
    this.projectFile = join(cwd, PROJECT_FILE);
    this.user = this.load(this.file);
    this.project = this.load(this.projectFile);
    this.effective = this.merged(this.user, `config file ${this.file} merged with ${this.projectFile}`);
  }

  private load(file: string): Config {
    if (!existsSync(file)) return {};
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    try {
      return validate(doc, '(file)');
    } catch (err) {
      throw new Error(`config file ${file} is invalid: ${err instanceof RpcError ? err.message.replace(/^Invalid params: /, '') : String(err)}`);
    }
  }

  private merged(user: Config, what: string): Config {
    const eff = mergeConfig(user, this.project);
    try {
      return validate(eff, '(merged)');
    } catch (err) {
      throw new Error(`${what} is invalid: ${err instanceof RpcError ? err.message : String(err)}`);
    }
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

  /** Called with the new effective config after every successful update. */
  onChange(fn: (c: Config) => void) {
    this.listeners.push(fn);
  }

  addCheck(fn: ConfigCheck) {
    this.checks.push(fn);
  }

  /** Runs the components' checks on what `next` would make the effective config (config/update calls it before update). */
  async check(next: Config, caller: { rate?: RateSubject }): Promise<void> {
    const eff = mergeConfig(next, this.project);
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
    const eff = mergeConfig(doc, this.project);
    try {
      validate(eff, 'config');
    } catch (err) {
      if (err instanceof RpcError) throw RpcError.invalidParams(String(err.data?.field ?? 'config'), `${err.data?.reason ?? 'is invalid'} (after merging ${PROJECT_FILE})`);
      throw err;
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.user = doc;
    this.effective = eff;
    for (const fn of this.listeners) fn(eff);
    return eff;
  }

  limits(): Required<Limits> {
    return { ...DEFAULT_LIMITS, ...(this.effective.limits ?? {}) };
  }

  defaultProvider(): string {
    return this.effective.defaultProvider ?? 'echo';
  }
}
