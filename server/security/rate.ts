/**
 * Rate limiting: whom a client counts as, whether limits apply to it, and the WebSocket token
 * bucket (REST uses express-rate-limit in bridge/app.ts). Limits protect a server others can
 * reach: they apply to clients off loopback, and to loopback ones only with
 * `security.rateLimit.loopback`. Every loopback source address (127.0.0.0/8, ::1, ::ffff:127.x)
 * is one client.
 */
import type { Config } from '../../protocol/index.js';

type RateLimitConfig = NonNullable<NonNullable<Config['security']>['rateLimit']>;

/** Whether a socket's remote address is this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Whom rate limits count a client against: its API key, else its address (loopback is one client). */
export interface RateSubject {
  key: string;
  loopback: boolean;
  /** The remote address as the socket reports it. */
  address: string;
}

export function rateSubject(address: string | undefined, principal?: string): RateSubject {
  const loopback = isLoopbackAddress(address);
  const addr = address ?? 'unknown';
  const key = principal?.startsWith('key:') ? principal : loopback ? 'ip:loopback' : `ip:${addr.replace(/^::ffff:/i, '')}`;
  return { key, loopback, address: addr };
}

/** Whether the limits of `config` apply to this client. */
export function rateLimited(subject: RateSubject, config: RateLimitConfig | undefined): boolean {
  return !subject.loopback || config?.loopback === true;
}

/** A token bucket per principal (API key id, or client IP): WebSocket message rate limiting. Parameters are read per call (config updates apply at once). */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private params: () => { perSecond: number; burst: number }) {}

  /** 0 when admitted; otherwise the seconds to wait (for Retry-After). */
  take(principal: string, now = Date.now()): number {
    const { perSecond, burst } = this.params();
    let b = this.buckets.get(principal);
    if (!b) {
      b = { tokens: burst, at: now };
      this.buckets.set(principal, b);
      if (this.buckets.size > 10_000) this.sweep(now, perSecond, burst);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  /** Forget full buckets so the map stays bounded. */
  private sweep(now: number, perSecond: number, burst: number) {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.buckets.delete(k);
  }
}
