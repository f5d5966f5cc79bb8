/**
 * How many streams an HTTP/2 client may reset before the proxy answered them:
 * a token bucket. A client may cancel every stream it can have open at once
 * (the burst), and then a steady trickle; a client that opens and resets
 * streams as fast as it can write (rapid reset, CVE-2023-44487) runs out.
 */
export class ResetBudget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    /** Tokens regained per second. */
    private readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Spends one reset; false once the budget is used up (the client resets at a flood rate). */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
