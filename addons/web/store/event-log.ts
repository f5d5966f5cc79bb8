// The last entries of the event log, for the UI's event panel: a ring, so a chatty `-v`
// session keeps constant memory. Its entries are what `/api/events` sends, typed as API.md's,
// numbered in order (`seq`) so that a page can tell the list it loaded from the live updates.
import type { LogEntry as ProxyLogEntry } from "@interloper/sdk";
import type { LogEntry } from "../api-types.ts";

export class EventLog {
  private readonly ring: (LogEntry | undefined)[];
  private next = 0;
  private count = 0;
  private seq = 0;

  constructor(readonly capacity = 1000) {
    this.ring = new Array<LogEntry | undefined>(capacity);
  }

  /** Keeps the proxy's entry, numbered: the entry as the UI gets it. */
  add(from: ProxyLogEntry): LogEntry {
    const entry: LogEntry = { level: from.level, message: from.message, timestamp: from.timestamp, seq: ++this.seq };
    if (from.addon !== undefined) entry.addon = from.addon;
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    return entry;
  }

  /** Oldest first. */
  entries(): LogEntry[] {
    const out: LogEntry[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }
}
