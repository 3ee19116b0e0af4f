/** A token bucket per principal (API key id, or client IP): WebSocket message rate limiting. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private perSecond: number, private burst: number) {}

  /** 0 when admitted; otherwise the seconds to wait (for Retry-After). */
  take(principal: string, now = Date.now()): number {
    let b = this.buckets.get(principal);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(principal, b);
      if (this.buckets.size > 10_000) this.sweep(now);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  /** Forget full buckets so the map stays bounded. */
  private sweep(now: number) {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
  }
}
