// Live updates over the WebSocket `/api/updates` (API.md): changes are gathered and sent at
// most ten times a second, one JSON array per message, serialised once for every client. A
// flow changed many times in 100 ms is sent once with its latest state. Nothing is gathered
// while no client listens. A message goes out as WebSocket fragments of about 32 updates (RFC
// 6455 §5.4; the client still gets one message): a whole batch made as one string and one
// buffer (800 KB at 8,000 flows a second) took fresh memory from the kernel at every flush,
// and touching fresh pages cost this VM ~12 µs per 4 KB, 3 µs a flow (bench V). A client
// that stops reading is closed (1013) rather than buffered without bound. The `ws` package
// speaks RFC 6455: loaded only when the UI runs.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import type { AddonInfo, LogEntry, OptionInfo, Update } from "../api-types.ts";
import type { FlowStore, StoredFlow } from "../store/flow-store.ts";
import { RowBatchWriter } from "../store/row-batch.ts";

/** Changes are gathered this long before they are sent. */
export const BATCH_MS = 100;
/** Unsent bytes a client may leave waiting before it is closed. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** Events kept for the next message (a `-v` flood between two messages drops the oldest). */
const MAX_EVENTS_PER_BATCH = 1000;
/** Updates per fragment: ~30 KB of summaries, well below the sizes the allocators take fresh pages for. */
const PER_FRAGMENT = 32;

/** An update whose flow summary is made only when its fragment is written (so few are alive at once). */
type Pending = Update | { type: "flows/add" | "flows/update"; rec: StoredFlow };

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
    const pending = this.take();
    if (pending.length === 0) return;
    const pieces = this.fragments(pending);
    for (const ws of this.clients) {
      if (ws.bufferedAmount > MAX_BUFFERED) {
        ws.close(1013, "too far behind: fetch /api/flows again");
        continue;
      }
      pieces.forEach((piece, i) => ws.send(piece, { binary: false, fin: i === pieces.length - 1 }));
    }
  }

  /** The message, one JSON array, as the UTF-8 bytes of its fragments. */
  private fragments(pending: Pending[]): Buffer[] {
    const out: Buffer[] = [];
    const chunk: Update[] = [];
    for (let at = 0; at < pending.length; at += PER_FRAGMENT) {
      chunk.length = 0;
      let rows: RowBatchWriter | undefined;
      for (const p of pending.slice(at, at + PER_FRAGMENT)) {
        // Finished flows go as rows (made from the packed flow: no summary object), a run of them as one update.
        if ("rec" in p) {
          const batch = rows ?? new RowBatchWriter();
          if (this.store.addRow(p.rec, batch)) {
            if (!rows) chunk.push({ type: "flows/rows", data: (rows = batch) });
            continue;
          }
        }
        rows = undefined;
        chunk.push("rec" in p ? { type: p.type, data: this.store.summary(p.rec) } : p);
      }
      // A chunk's JSON is "[a,b]": the brackets are kept only at the message's two ends.
      const json = JSON.stringify(chunk);
      const last = at + PER_FRAGMENT >= pending.length;
      out.push(wireBytes(`${at === 0 ? "[" : ","}${json.slice(1, -1)}${last ? "]" : ""}`));
    }
    return out;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const ws of this.clients) ws.terminate();
    this.clients.clear();
    this.store.tracking = false;
    this.wss.close();
  }

  private take(): Pending[] {
    const out: Pending[] = [];
    const { reset, changes } = this.store.takeChanges();
    if (reset) out.push({ type: "flows/reset", data: {} });
    // Every removal first, as one update: at 50,000 flows each new flow evicts one, and a client
    // drops them in one pass. A flow removed and brought back (a new record, same id) still sees
    // its remove before its add; one added and removed within the batch was never noted.
    const removedAt = out.length;
    const ids: string[] = [];
    for (const { rec, change } of changes) {
      if (change === "remove") ids.push(rec.id);
      else out.push({ type: change === "add" ? "flows/add" : "flows/update", rec });
    }
    if (ids.length > 0) out.splice(removedAt, 0, { type: "flows/removed", data: { ids } });
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

/**
 * A fragment's bytes, made once for every client (handed a string, `ws` measures and encodes it
 * per client). A summary is nearly always ASCII, whose UTF-8 is its Latin-1: the cheaper encoder.
 */
function wireBytes(text: string): Buffer {
  return Buffer.byteLength(text, "utf8") === text.length ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
}
