// The recorded flows server replay answers from, by request key. Each
// answer is used once, in recorded order, unless server_replay_reuse.
import type { HTTPFlow } from "@interloper/sdk";
import { requestKey, type MatchOptions } from "./request-key.ts";

/** The flows filed under one key, in recorded order; those before `next` were used. */
interface Queue {
  flows: HTTPFlow[];
  next: number;
}

export class ReplayStore {
  private byKey = new Map<string, Queue>();
  /** The flows left, counted as they come and go: every request asks, and a sum over the keys would make a replay quadratic. */
  private count = 0;

  constructor(private match: MatchOptions) {}

  get size(): number {
    return this.count;
  }

  /** Adds recorded flows (those without a response can never answer, but keep their place as mitmproxy does). */
  add(flows: Iterable<HTTPFlow>): void {
    for (const f of flows) {
      const key = requestKey(f.request, this.match);
      const queue = this.byKey.get(key);
      if (queue) queue.flows.push(f);
      else this.byKey.set(key, { flows: [f], next: 0 });
      this.count++;
    }
  }

  /** The match rules changed: every flow left is filed again under its new key, order kept. */
  rematch(match: MatchOptions): void {
    const left = [...this.byKey.values()].flatMap((q) => q.flows.slice(q.next));
    this.match = match;
    this.clear();
    this.add(left);
  }

  clear(): void {
    this.byKey.clear();
    this.count = 0;
  }

  /** The recorded flow that answers `flow`, or undefined. `reuse`: it stays for the next request too. */
  next(flow: HTTPFlow, reuse: boolean): HTTPFlow | undefined {
    const key = requestKey(flow.request, this.match);
    const queue = this.byKey.get(key);
    if (!queue) return undefined;
    if (reuse) return queue.flows.slice(queue.next).find(answers);
    let found: HTTPFlow | undefined;
    // Taken by moving an index: shifting a long array for every request would copy it every time.
    while (queue.next < queue.flows.length && !found) {
      const f = queue.flows[queue.next++]!;
      this.count--;
      if (answers(f)) found = f;
    }
    if (queue.next === queue.flows.length) this.byKey.delete(key);
    return found;
  }
}

/**
 * Whether a recorded flow can answer: it has a response, and its body was kept. A streamed body
 * was not recorded; answering with an empty one would be another response than the server's.
 */
export function answers(flow: HTTPFlow): boolean {
  return flow.response !== undefined && !flow.response.stream;
}
