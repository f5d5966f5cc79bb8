// The flows begun and not yet ended, for -w to write at shutdown. An array,
// not a Set: V8's Set (and Map) kept recently deleted flows reachable until
// the table was rebuilt, and each of them kept its whole exchange alive
// through young-generation GCs (bench W: 700 KB more surviving each scavenge,
// ~10 µs of GC per request). An array slot is cleared when it is removed.
// In-flight flows are few, so removal by search costs less than a hash.
import type { AnyFlow } from "@interloper/sdk";

export class UnfinishedFlows {
  private readonly flows: AnyFlow[] = [];

  add(flow: AnyFlow): void {
    this.flows.push(flow);
  }

  /** Forgets `flow` (nothing happens when it is not here). */
  delete(flow: AnyFlow): void {
    const flows = this.flows;
    const at = flows.lastIndexOf(flow);
    if (at < 0) return;
    const last = flows.pop()!;
    if (at < flows.length) flows[at] = last;
  }

  /** The flows now here, in no particular order. */
  list(): AnyFlow[] {
    return [...this.flows];
  }
}
