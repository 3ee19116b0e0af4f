/**
 * Who may talk to the HTTP server (REST, SSE, WebSocket upgrades). Checked, in order:
 * the Host header (DNS-rebinding defence), the Origin of browser requests (allowlist, same
 * origin allowed), then the API key (required off loopback, or once any key exists, or when
 * config says so). stdio never passes through here: its peer spawned the process.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCodes, httpRoutes } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { Caller } from './caller.js';
import { callerOf, type ApiKeys } from './keys.js';

/** Admitted: `caller` is set when a key was presented (no caller: the local user, no key needed). */
export type Verdict =
  | { ok: true; principal: string; keyId?: string; caller?: Caller }
  | { ok: false; status: number; code: number; message: string };

/** What the access guard leaves on an admitted HTTP request for the bridge. */
export interface AdmittedRequest { principal?: string; caller?: Caller }

export const WS_TOKEN_PREFIX = 'agentd.bearer.';
export const WS_PROTOCOL = 'agentd';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The chat page's static files (bridge/page.ts serves them). They hold no data, so a browser may
 * load them without a key (it cannot send one with a page load); Host and Origin are still checked,
 * and everything the page then asks (/rpc, /v1) needs the key as usual.
 */
export const PAGE_FILES = ['/', '/index.html', '/app.js', '/chat.js', '/chat.css', '/page.css'] as const;
// The manifest's public routes (the OpenAPI document) hold no secret either: tools fetch them before they have a key.
const PUBLIC = new Set<string>([...PAGE_FILES, ...Object.values(httpRoutes).filter((r) => r.public).map((r) => r.path)]);

export function isPageRequest(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = (req.url ?? '').split('?')[0];
  return PUBLIC.has(path);
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The host part of a Host header value, lower-cased, IPv6 kept in brackets. */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.split(':')[0];
}

/**
 * The API key a request presents: `Authorization: Bearer <key>`, or, on a WebSocket upgrade only
 * (browsers cannot set headers there), a subprotocol `agentd.bearer.<key>`. REST never takes the
 * subprotocol form.
 */
export function presentedKey(req: IncomingMessage, websocket = false): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : '';
  }
  const protocols = websocket ? req.headers['sec-websocket-protocol'] : undefined;
  if (protocols) {
    const token = protocols.split(',').map((p) => p.trim()).find((p) => p.startsWith(WS_TOKEN_PREFIX));
    if (token) return token.slice(WS_TOKEN_PREFIX.length);
  }
  return undefined;
}

/** What the guard needs: the API keys and the security config. */
export interface AccessGuardDeps {
  keys: ApiKeys;
  config: Pick<ConfigService, 'get'>;
}

export class AccessGuard {
  readonly keys: ApiKeys;

  constructor(private deps: AccessGuardDeps, private bindHost: string) {
    this.keys = deps.keys;
  }

  private security() {
    return this.deps.config.get().security ?? {};
  }

  /** Whether a key is needed right now (it changes as keys are created or revoked). */
  async keyRequired(): Promise<boolean> {
    return !isLoopback(this.bindHost) || this.security().requireKey === true || (await this.keys.count()) > 0;
  }

  allowedOrigin(origin: string | undefined, req: IncomingMessage): boolean {
    if (!origin) return true;
    if ((this.security().allowedOrigins ?? []).includes(origin)) return true;
    // Same origin: the page was served by this server under an allowed Host.
    try {
      const u = new URL(origin);
      return u.host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
    } catch {
      return false;
    }
  }

  /** CORS headers for an allowed cross-origin browser request (none for others). */
  corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (!origin || !(this.security().allowedOrigins ?? []).includes(origin)) return {};
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-headers': 'authorization, content-type, idempotency-key, last-event-id, prefer',
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'access-control-max-age': '600',
      vary: 'Origin',
    };
  }

  /** `websocket`: the request is a WebSocket upgrade (the subprotocol may carry the key). */
  async check(req: IncomingMessage, { websocket = false } = {}): Promise<Verdict> {
    const host = req.headers.host;
    const allowedHosts = new Set([...LOOPBACK_HOSTS, ...(this.security().allowedHosts ?? []).map((h) => h.toLowerCase())]);
    if (!host || !allowedHosts.has(hostOf(host))) {
      return { ok: false, status: 403, code: ErrorCodes.Forbidden, message: `Forbidden: Host ${JSON.stringify(host ?? '')} is not allowed (add it to security.allowedHosts)` };
    }
    const origin = req.headers.origin;
    if (!this.allowedOrigin(origin, req)) {
      return { ok: false, status: 403, code: ErrorCodes.Forbidden, message: `Forbidden: Origin ${JSON.stringify(origin)} is not allowed (add it to security.allowedOrigins)` };
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    try {
      if (isPageRequest(req) || !(await this.keyRequired())) return { ok: true, principal: `ip:${ip}` };
      const key = presentedKey(req, websocket);
      if (!key) return { ok: false, status: 401, code: ErrorCodes.Unauthorized, message: 'Unauthorized: an API key is required (Authorization: Bearer <key>)' };
      const rec = await this.keys.verify(key);
      if (!rec) return { ok: false, status: 401, code: ErrorCodes.Unauthorized, message: 'Unauthorized: invalid API key' };
      return { ok: true, principal: `key:${rec.id}`, keyId: rec.id, caller: callerOf(rec) };
    } catch {
      // The key store could not be read (a database gone): refuse rather than admit.
      return { ok: false, status: 503, code: ErrorCodes.StoreUnavailable, message: 'Store unavailable: the API keys could not be read; retry after a pause' };
    }
  }
}
