// The recorded flows server replay answers from, by request key. Each
// answer is used once, in recorded order, unless server_replay_reuse.
import type { HTTPFlow } from "@interloper/sdk";
import { requestKey, type MatchOptions } from "./request-key.ts";

export class ReplayStore {
  private byKey = new Map<string, HTTPFlow[]>();

  constructor(private match: MatchOptions) {}

  get size(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }

  /** Adds recorded flows (those without a response can never answer, but keep their place as mitmproxy does). */
  add(flows: Iterable<HTTPFlow>): void {
    for (const f of flows) {
      const key = requestKey(f.request, this.match);
      const list = this.byKey.get(key);
      if (list) list.push(f);
      else this.byKey.set(key, [f]);
    }
  }

  /** The match rules changed: every flow is filed again under its new key, order kept. */
  rematch(match: MatchOptions): void {
    const all = [...this.byKey.values()].flat();
    this.match = match;
    this.byKey = new Map();
    this.add(all);
  }

  clear(): void {
    this.byKey.clear();
  }

  /** The recorded flow that answers `flow`, or undefined. `reuse`: it stays for the next request too. */
  next(flow: HTTPFlow, reuse: boolean): HTTPFlow | undefined {
    const key = requestKey(flow.request, this.match);
    const list = this.byKey.get(key);
    if (!list) return undefined;
    if (reuse) return list.find(answers);
    let found: HTTPFlow | undefined;
    while (list.length > 0 && !found) {
      const f = list.shift()!;
      if (answers(f)) found = f;
    }
    if (list.length === 0) this.byKey.delete(key);
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
