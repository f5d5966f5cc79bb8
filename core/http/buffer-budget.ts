import { totalmem } from "node:os";

/**
 * How many body bytes all flows together may hold buffered at once
 * (`buffer_budget`). A body that would pass it is streamed instead, so one
 * huge download cannot take the proxy, and every other connection, down.
 * mitmproxy has no such budget: it buffers until body_size_limit or memory
 * runs out.
 */
export class BufferBudget {
  private used = 0;

  constructor(public limit: number) {}

  /** Half of the machine's memory: the default budget. */
  static defaultLimit(): number {
    return Math.floor(totalmem() / 2);
  }

  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` when they fit; false (nothing taken) when they would pass the budget. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
