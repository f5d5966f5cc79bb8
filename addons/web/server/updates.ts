// Live updates over the WebSocket `/api/updates` (API.md): changes are gathered and sent at
// most ten times a second, one JSON array per message, serialised once for every client. A
// flow changed many times in 100 ms is sent once with its latest state. Nothing is gathered
// while no client listens. A client that stops reading is closed (1013) rather than buffered
// without bound. The `ws` package speaks RFC 6455: loaded only when the UI runs.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import type { AddonInfo, LogEntry, OptionInfo, Update } from "../api-types.ts";
import type { FlowStore } from "../store/flow-store.ts";

/** Changes are gathered this long before they are sent. */
export const BATCH_MS = 100;
/** Unsent bytes a client may leave waiting before it is closed. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** Events kept for the next message (a `-v` flood between two messages drops the oldest). */
const MAX_EVENTS_PER_BATCH = 1000;

/** What the hub asks for when it sends option and addon changes. */
export interface Describe {
  options(names: ReadonlySet<string>): OptionInfo[];
  addons(): AddonInfo[];
}

export class UpdateHub {
  private readonly clients = new Set<WebSocket>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private events: LogEntry[] = [];
  private options = new Set<string>();
  private addonsChanged = false;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly store: FlowStore,
    private readonly describe: Describe,
  ) {}

  static async create(store: FlowStore, describe: Describe): Promise<UpdateHub> {
    const { WebSocketServer } = await import("ws");
    // No compression (each message is made once and sent as it is); clients send nothing big.
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
    return new UpdateHub(wss, store, describe);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over an upgrade request the server has already let in. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      this.store.tracking = true;
      ws.on("close", () => this.left(ws));
      ws.on("error", () => ws.terminate());
      // Clients have nothing to say; a message is ignored.
      this.timer ??= setInterval(() => this.flush(), BATCH_MS);
    });
  }

  event(entry: LogEntry): void {
    if (this.clients.size === 0) return;
    this.events.push(entry);
    if (this.events.length > MAX_EVENTS_PER_BATCH) this.events.shift();
  }

  optionsChanged(names: ReadonlySet<string>): void {
    if (this.clients.size === 0) return;
    for (const n of names) this.options.add(n);
  }

  addons(): void {
    if (this.clients.size > 0) this.addonsChanged = true;
  }

  /** Sends what gathered since the last message, if anything did. */
  flush(): void {
    const updates = this.take();
    if (updates.length === 0) return;
    const text = JSON.stringify(updates);
    for (const ws of this.clients) {
      if (ws.bufferedAmount > MAX_BUFFERED) {
        ws.close(1013, "too far behind: fetch /api/flows again");
        continue;
      }
      ws.send(text);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const ws of this.clients) ws.terminate();
    this.clients.clear();
    this.store.tracking = false;
    this.wss.close();
  }

  private take(): Update[] {
    const out: Update[] = [];
    const { reset, changes } = this.store.takeChanges();
    if (reset) out.push({ type: "flows/reset", data: {} });
    for (const [id, change] of changes) {
      if (change === "remove") {
        out.push({ type: "flows/remove", data: { id } });
        continue;
      }
      const rec = this.store.get(id);
      if (rec) out.push({ type: change === "add" ? "flows/add" : "flows/update", data: this.store.summary(rec) });
    }
    for (const entry of this.events) out.push({ type: "events/add", data: entry });
    this.events = [];
    if (this.options.size > 0) out.push({ type: "options/update", data: this.describe.options(this.options) });
    this.options = new Set();
    if (this.addonsChanged) out.push({ type: "addons/update", data: this.describe.addons() });
    this.addonsChanged = false;
    return out;
  }

  private left(ws: WebSocket): void {
    this.clients.delete(ws);
    if (this.clients.size > 0) return;
    this.store.tracking = false;
    this.store.takeChanges();
    clearInterval(this.timer);
    this.timer = undefined;
    this.events = [];
    this.options.clear();
    this.addonsChanged = false;
  }
}
