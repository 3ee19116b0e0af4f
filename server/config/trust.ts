/**
 * Workspace trust. A workspace's `agentd.json` comes with whatever repository was cloned, so
 * until the user trusts it only harmless keys apply (untrustedView below); everything that could
 * run code, reach the network, loosen a check or move a secret is ignored and named.
 *
 * Trust is recorded in the user's data dir (`trust.json`, mode 0600, replaced atomically), keyed
 * by the workspace's real path and the SHA-256 of the file's bytes: any edit needs trust again.
 * The hash is of the very bytes that are parsed and applied, so a file swapped after the check
 * is never the one that applies.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_APPROVAL_TIMEOUT_MS, DEFAULT_MAX_RETRIES, DEFAULT_MAX_TOKENS } from './defaults.js';
import { existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ApprovalAction, ApprovalRule, Config, Limits } from '../../protocol/index.js';

export const TRUST_FILE = 'trust.json';
/** agentd.json and trust.json larger than this are refused (they are small documents). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Providers every server has (server/core.ts registers them); `defaultProvider` may name one untrusted. */
export const BUILTIN_PROVIDERS = ['echo', 'anthropic', 'openai'];
/** Defaults the bounds are compared with: the ones the server applies. */
const DEFAULTS = { maxTokens: DEFAULT_MAX_TOKENS, maxRetries: DEFAULT_MAX_RETRIES, approvalTimeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS };

export const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** The real path of a directory (symlinks resolved), or its absolute path when it does not exist. */
export function workspaceKey(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

export interface TrustRecord { path: string; hash: string; trustedAt: string }
interface TrustDoc { version: 1; workspaces: Record<string, { hash: string; trustedAt: string }> }

export class TrustStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, TRUST_FILE);
  }

  /** Fails closed: a missing, oversized or unreadable file trusts nothing. */
  private read(): TrustDoc {
    const empty: TrustDoc = { version: 1, workspaces: {} };
    try {
      if (!existsSync(this.file) || statSync(this.file).size > MAX_FILE_BYTES) return empty;
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as TrustDoc;
      if (typeof doc !== 'object' || doc === null || typeof doc.workspaces !== 'object' || doc.workspaces === null) return empty;
      return { version: 1, workspaces: { ...doc.workspaces } };
    } catch {
      return empty;
    }
  }

  private write(doc: TrustDoc) {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  list(): TrustRecord[] {
    return Object.entries(this.read().workspaces)
      .filter(([, r]) => typeof r?.hash === 'string')
      .map(([path, r]) => ({ path, hash: r.hash, trustedAt: String(r.trustedAt ?? '') }));
  }

  isTrusted(dir: string, hash: string): boolean {
    const { workspaces } = this.read();
    const key = workspaceKey(dir);
    return Object.hasOwn(workspaces, key) && workspaces[key]?.hash === hash;
  }

  /** Records trust in this exact content (replacing an older hash of the same workspace). */
  trust(dir: string, hash: string): TrustRecord {
    const doc = this.read();
    const path = workspaceKey(dir);
    const rec = { hash, trustedAt: new Date().toISOString() };
    doc.workspaces[path] = rec;
    this.write(doc);
    return { path, ...rec };
  }

  /** Removes a workspace's trust; false when it was not trusted. */
  revoke(dir: string): boolean {
    const doc = this.read();
    const keys = [workspaceKey(dir), resolve(dir)].filter((k) => Object.hasOwn(doc.workspaces, k));
    if (!keys.length) return false;
    for (const k of keys) delete doc.workspaces[k];
    this.write(doc);
    return true;
  }
}

/** The workspace's agentd.json as read: its bytes' hash and parsed JSON (not yet validated). */
export interface ProjectFile { path: string; hash: string; json: unknown }

/** Reads `<dir>/agentd.json` once (bounded); undefined when there is none. Throws on bad JSON. */
export function readProjectFile(path: string): ProjectFile | undefined {
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new Error(`config file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  const bytes = readFileSync(path);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return { path, hash: sha256(bytes), json };
}

export interface Ignored { key: string; value: unknown }

const RANK: Record<ApprovalAction, number> = { allow: 0, ask: 1, deny: 2 };
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What of an untrusted project config may apply over `user`, and what is ignored (dotted keys).
 * Default deny: a key not handled here is ignored. Applies:
 *  - `defaultModel`; `defaultProvider` when it names a built-in provider or one the user config has;
 *  - `providers.<id>.defaultModel`, and `maxTokens` / `maxRetries` no higher than the user's (or default);
 *  - `approvals.rules` with action `ask` or `deny` (put before the user's rules, which stay: a
 *    project can add checks, never remove one); `approvals.default` at least as strict as the
 *    user's (`allow` < `ask` < `deny`; with no user default only `ask` and `deny`); `approvals.timeoutMs`
 *    no longer than the user's (unanswered approvals are denied sooner);
 *  - `limits.*` no higher than the user's (or default), except `eventRetention` (lowering it
 *    deletes the history of every session).
 *  - `providerDetection.enabled: false`.
 * Ignored: all of `mcpServers` and `security`, every other provider field (`type`, `name`,
 * `baseUrl`, `apiKey`, `headers`, `models`, `oauth`: a project can neither define a provider nor
 * move one's traffic or key), `allow` rules, detection ports, and every bound raised.
 */
export function untrustedView(project: Config, user: Config, limitDefaults: Required<Limits>, builtinProviders: readonly string[] = BUILTIN_PROVIDERS): { applied: Config; ignored: Ignored[] } {
  const applied: Config = {};
  const ignored: Ignored[] = [];
  const skip = (key: string, value: unknown) => ignored.push({ key, value });
  const bound = (value: unknown, max: number) => typeof value === 'number' && value <= max;

  for (const [k, v] of Object.entries(project as Obj)) {
    switch (k) {
      case 'defaultModel':
        applied.defaultModel = v as string;
        break;
      case 'defaultProvider':
        if (builtinProviders.includes(v as string) || Object.hasOwn(user.providers ?? {}, v as string)) applied.defaultProvider = v as string;
        else skip(k, v);
        break;
      case 'providers': {
        for (const [id, p] of Object.entries(v as Obj)) {
          if (!isObj(p)) continue;
          const mine = user.providers?.[id] ?? {};
          const out: Obj = {};
          for (const [f, fv] of Object.entries(p)) {
            const key = `providers.${id}.${f}`;
            if (f === 'defaultModel') out[f] = fv;
            else if (f === 'maxTokens' && bound(fv, mine.maxTokens ?? DEFAULTS.maxTokens)) out[f] = fv;
            else if (f === 'maxRetries' && bound(fv, mine.maxRetries ?? DEFAULTS.maxRetries)) out[f] = fv;
            else skip(key, fv);
          }
          if (Object.keys(out).length) (applied.providers ??= {})[id] = out;
        }
        break;
      }
      case 'approvals': {
        const a = v as Obj;
        const out: Obj = {};
        for (const [f, fv] of Object.entries(a)) {
          if (f === 'rules') {
            const rules = fv as ApprovalRule[];
            const tight = rules.filter((r, i) => {
              if (r.action === 'ask' || r.action === 'deny') return true;
              skip(`approvals.rules[${i}]`, r);
              return false;
            });
            if (tight.length) out.rules = [...tight, ...(user.approvals?.rules ?? [])];
          } else if (f === 'default') {
            const mine = user.approvals?.default;
            const p = fv as ApprovalAction;
            if (mine ? RANK[p] >= RANK[mine] : p !== 'allow') out.default = p;
            else skip('approvals.default', p);
          } else if (f === 'timeoutMs' && bound(fv, user.approvals?.timeoutMs ?? DEFAULTS.approvalTimeoutMs)) out.timeoutMs = fv;
          else skip(`approvals.${f}`, fv);
        }
        if (Object.keys(out).length) applied.approvals = out;
        break;
      }
      case 'limits': {
        const out: Obj = {};
        for (const [f, fv] of Object.entries(v as Obj)) {
          const mine = (user.limits as Obj | undefined)?.[f] ?? (limitDefaults as Obj)[f];
          if (f !== 'eventRetention' && typeof mine === 'number' && bound(fv, mine)) out[f] = fv;
          else if (f === 'eventRetention' && fv === mine) out[f] = fv;
          else skip(`limits.${f}`, fv);
        }
        if (Object.keys(out).length) applied.limits = out as Limits;
        break;
      }
      case 'mcpServers':
        for (const [name, s] of Object.entries(v as Obj)) skip(`mcpServers.${name}`, s);
        break;
      case 'providerDetection': {
        // Turning detection off only narrows; ports and timeouts are the user's to set.
        for (const [f, fv] of Object.entries(v as Obj)) {
          if (f === 'enabled' && fv === false) applied.providerDetection = { enabled: false };
          else skip(`providerDetection.${f}`, fv);
        }
        break;
      }
      case 'security':
        for (const [f, fv] of Object.entries(v as Obj)) skip(`security.${f}`, fv);
        break;
      default:
        skip(k, v);
    }
  }
  return { applied, ignored };
}
