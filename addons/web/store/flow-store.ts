// The flows the web UI shows: at most `maxFlows` (the oldest go first; a paused flow is never
// dropped), in the order they came. While the proxy works on a flow the store holds the live
// flow object; once it is done the store keeps it packed (packed-flow.ts: into the record
// itself, for the garbage collector's sake) or, when it cannot be packed, a detached copy (detach.ts).
// Small bodies stay in memory up to a budget; other bodies go to disk (body-spill.ts) or,
// without a disk, are dropped with a marker. So a long session costs about `maxFlows` heads.
// Readers get a flow with view() (made afresh for a packed one: a scan keeps nothing); code
// that changes a kept flow takes it with own(): an object until the flow is settled again.
import type { AnyFlow, HTTPFlow, Request, Response } from "@interloper/sdk";
import type { BodyState, FlowSummary } from "../api-types.ts";
import type { BodySpill, SpilledBody } from "./body-spill.ts";
import { detach, requestWithBody, responseWithBody, withMessages } from "./detach.ts";
import { FlowIndex } from "./flow-index.ts";
import {
  clearSlots,
  heldBodies,
  packInto,
  summaryRow,
  unpack,
  type PackedHttp,
  type PackedSlots,
} from "./packed-flow.ts";
import type { RowBatchWriter } from "./row-batch.ts";
import { Slab } from "./slab.ts";
import { heldBodyState, summarize, type BodyFacts } from "./summary.ts";

/** A body the kept flow does not hold itself. */
interface KeptBody {
  /** On disk, or gone (too large, or the disk failed). */
  spilled: SpilledBody | undefined;
  length: number;
  /**
   * The message it was taken from, and the bodiless copy the kept flow holds: either means "this
   * body". Weakly: the live message still holds the bytes that went to disk.
   */
  from: WeakRef<Request | Response>;
  keptAs: Request | Response | undefined;
}

export class StoredFlow implements PackedSlots {
  /** The flow's id when it came: what the store and the UI know it by. */
  readonly id: string;
  /** The flow object (the proxy's while live, a detached copy after); undefined while packed. */
  object: AnyFlow | undefined;
  /** The finished flow is packed into this record's slots (below). */
  isPacked = false;
  /** The proxy is done with it: the store keeps it packed or detached. */
  settled = false;
  request: KeptBody | undefined = undefined;
  response: KeptBody | undefined = undefined;
  /** Body bytes of this flow counted against the memory budget. */
  inline = 0;
  /** Removed from the store (its place in the eviction queue is skipped). */
  gone = false;
  /** Its object may come back through hooks (kept by FlowIndex). */
  active = false;
  /** In the index of all flows by id (kept by FlowIndex). */
  indexed = false;
  /**
   * The change not yet told to the UI while the record is in the store's list of changed ones
   * (null: it was added and removed before anyone was told); undefined: not in the list.
   */
  change: Change | null | undefined = undefined;
  // The packed flow's slots (packed-flow.ts), in the record itself: one object for each of the
  // 50,000 kept flows instead of two, which the collector copies before they are old.
  client: PackedSlots["client"] = undefined;
  server: PackedSlots["server"] = undefined;
  numbers: Float64Array | undefined = undefined;
  at = 0;
  text: Buffer | undefined = undefined;
  requestBody: Buffer | undefined = undefined;
  responseBody: Buffer | undefined = undefined;
  extra: PackedSlots["extra"] = undefined;

  constructor(flow: AnyFlow, id: string) {
    this.id = id;
    this.object = flow;
  }

  /** The finished flow, packed: this record, its slots filled. */
  get packed(): PackedHttp | undefined {
    return this.isPacked ? (this as PackedSlots as PackedHttp) : undefined;
  }

  /** Not packed any more (an object again). */
  unpacked(): void {
    this.isPacked = false;
    clearSlots(this);
  }

  get type(): AnyFlow["type"] {
    return this.packed ? "http" : this.object!.type;
  }

  /** Paused by intercept (a packed flow never is). */
  get intercepted(): boolean {
    return this.packed ? false : this.object!.intercepted;
  }

  /** The proxy still works on it. */
  get live(): boolean {
    return this.packed ? false : this.object!.live;
  }
}

export type Change = "add" | "update" | "remove";

/** A flow whose change the UI has not been told yet. */
export interface Changed {
  rec: StoredFlow;
  change: Change;
}

export interface StoreLimits {
  maxFlows: number;
  /** Body bytes kept in memory across all flows. */
  inlineBudget?: number;
  /** The largest body kept in memory. */
  inlineMax?: number;
  /** The largest body kept on disk; larger ones are dropped. */
  diskMax?: number;
}

const INLINE_BUDGET = 32 * 1024 * 1024;
const INLINE_MAX = 64 * 1024;
const DISK_MAX = 512 * 1024 * 1024;

export class FlowStore {
  /** The flows in the order they came, and by id (see observe() for two flows with one id). */
  private readonly flows = new FlowIndex<StoredFlow>((older) => this.replaced(older));
  /**
   * The flows oldest first, for eviction: a paused flow found here goes to the end again.
   * Removed flows are skipped.
   */
  private order: StoredFlow[] = [];
  private head = 0;
  /** Flows removed while the proxy still worked on them: their later hooks must not bring them back. */
  private readonly forgotten = new WeakSet<AnyFlow>();
  /** Kept flows handed out by own(): their hooks may run again from the first (a replay). */
  private readonly givenOut = new WeakSet<AnyFlow>();
  private readonly slab = new Slab();
  /**
   * Records whose change the UI has not been told yet, in the order of their first change (only
   * while someone listens). The change itself is on the record: no map keyed by flow id to keep.
   */
  private changed: StoredFlow[] = [];
  private resetPending = false;
  private inlineTotal = 0;
  private maxFlows: number;
  private readonly inlineBudget: number;
  private readonly inlineMax: number;
  private readonly diskMax: number;
  /** Whether changes are recorded for the UI. */
  tracking = false;

  constructor(
    limits: StoreLimits,
    private readonly spill: BodySpill | undefined,
  ) {
    this.maxFlows = limits.maxFlows;
    this.inlineBudget = limits.inlineBudget ?? INLINE_BUDGET;
    this.inlineMax = limits.inlineMax ?? INLINE_MAX;
    this.diskMax = limits.diskMax ?? DISK_MAX;
  }

  get size(): number {
    return this.flows.size;
  }

  /** Body bytes held in memory by kept flows. */
  get inlineBytes(): number {
    return this.inlineTotal;
  }

  /** What the store holds, for the UI's state: flows, body bytes in memory and on disk. */
  stats(): { flows: number; inlineBytes: number; diskBytes: number; diskSegments: number } {
    return {
      flows: this.flows.size,
      inlineBytes: this.inlineTotal,
      diskBytes: this.spill?.diskBytes ?? 0,
      diskSegments: this.spill?.segments ?? 0,
    };
  }

  get(id: string): StoredFlow | undefined {
    return this.flows.get(id);
  }

  /** Every kept flow in the order they came (a copy). */
  values(): StoredFlow[] {
    return this.flows.values();
  }

  /**
   * A hook saw `flow`: add it or note the change; `done`: the proxy has finished with it.
   * `first`: the hook is the first a new flow gets (requestheaders, tcpStart), so a live flow
   * there is new unless it is a replay (of a kept flow, or of a flow read again from a file,
   * which keep their ids) or an object the store handed out (an addon may clear `isReplay`):
   * no lookup of its id, which the proxy's path would pay for (~150 ns:
   * the fresh id's hash and a miss). An addon that gives a new flow a kept one's id makes a
   * second record with it until the index next catches up (an API lookup), when the newer one
   * replaces the older.
   */
  observe(flow: AnyFlow, done: boolean, first = false): void {
    if (this.forgotten.has(flow)) return;
    const id = flow.id;
    const surelyNew = first && flow.live && flow.isReplay === undefined && !this.givenOut.has(flow);
    let rec = surelyNew ? undefined : this.flows.get(id);
    if (rec === undefined) {
      rec = new StoredFlow(flow, id);
      this.flows.add(rec);
      this.order.push(rec);
      this.note(rec, "add");
      if (this.flows.size > this.maxFlows) this.evict();
    } else {
      this.note(rec, "update");
    }
    if (done && !flow.intercepted) this.settle(rec, flow);
    else if (!done && (rec.settled || rec.object !== flow)) {
      // (A live flow's later hooks change nothing here: it is already the record's active object.)
      // Another object with a known id (a file opened again) brings its own bodies.
      if (rec.object !== flow && rec.settled) this.release(rec);
      rec.object = flow;
      rec.unpacked();
      rec.settled = false;
      this.flows.activate(rec);
    }
  }

  /** Something about the flow changed (paused, resumed, edited): tell the UI. */
  touch(id: string): void {
    const rec = this.flows.get(id);
    if (rec) this.note(rec, "update");
  }

  /** A paused flow went on: keep it as done if it is. */
  resumed(flow: AnyFlow, done: boolean): void {
    const rec = this.flows.get(flow.id);
    if (!rec || rec.object !== flow) return;
    this.note(rec, "update");
    if (done) this.settle(rec, flow);
  }

  /** Adds a flow the UI made (a duplicate): kept as done. */
  insert(flow: AnyFlow): StoredFlow {
    this.observe(flow, true);
    return this.flows.get(flow.id)!;
  }

  remove(id: string): boolean {
    const rec = this.flows.get(id);
    if (!rec) return false;
    this.removeRecord(rec);
    return true;
  }

  /** Removes every flow `keep` does not want; the UI is told to fetch the list again. */
  clear(keep: (rec: StoredFlow) => boolean = () => false): void {
    for (const rec of this.flows.values()) if (!keep(rec)) this.drop(rec);
    this.order = this.order.slice(this.head).filter((r) => !r.gone);
    this.head = 0;
    this.forgetChanges();
    if (this.tracking) this.resetPending = true;
  }

  setMaxFlows(max: number): void {
    this.maxFlows = max;
    while (this.flows.size > this.maxFlows) if (!this.evict()) break;
  }

  /** The changes since the last call, in order (a flow once, with its latest change), and whether the UI must start over first. */
  takeChanges(): { reset: boolean; changes: Changed[] } {
    const changes: Changed[] = [];
    for (const rec of this.changed) {
      const change = rec.change;
      rec.change = undefined;
      if (change) changes.push({ rec, change });
    }
    this.changed = [];
    const reset = this.resetPending;
    this.resetPending = false;
    return { reset, changes };
  }

  private forgetChanges(): void {
    for (const rec of this.changed) rec.change = undefined;
    this.changed = [];
  }

  /** The flow as kept, to read only: for a packed one a new object each time, which the store does not keep. */
  view(rec: StoredFlow): AnyFlow {
    // Its bodies are views of the kept bytes: readers do not change what they read.
    return rec.packed ? unpack(rec.packed, false) : rec.object!;
  }

  /** The kept flow itself, to change (mark, comment, edit): a packed one is an object until settled again. */
  own(rec: StoredFlow): AnyFlow {
    if (!rec.packed) {
      this.givenOut.add(rec.object!);
      return rec.object!;
    }
    const flow = unpack(rec.packed);
    rec.unpacked();
    rec.object = flow;
    // Its hooks may run again (a replay): they must find this record.
    this.givenOut.add(flow);
    this.flows.activate(rec);
    if (rec.request) rec.request.keptAs = flow.request;
    if (rec.response) rec.response.keptAs = flow.response;
    return flow;
  }

  /** Where each body is. */
  facts(rec: StoredFlow, flow: AnyFlow = this.view(rec)): BodyFacts {
    if (flow.type === "tcp") return { request: "none", response: "none" };
    return factsOf(rec, { request: heldBodyState(flow.request), response: heldBodyState(flow.response) });
  }

  summary(rec: StoredFlow): FlowSummary {
    const flow = this.view(rec);
    return summarize(flow, this.facts(rec, flow));
  }

  /** Adds the summary as a row (what live updates carry) to `batch` for a packed flow, made without unpacking it; false for others. */
  addRow(rec: StoredFlow, batch: RowBatchWriter): boolean {
    const p = rec.packed;
    if (!p) return false;
    batch.rows.push(summaryRow(p, factsOf(rec, heldBodies(p)), batch));
    return true;
  }

  /**
   * A body's bytes, `start` to `end`: from the flow, memory or disk. `undefined` when the
   * message is missing; a string saying why when its bytes are not kept.
   */
  async bodyBytes(
    rec: StoredFlow,
    which: "request" | "response",
    start?: number,
    end?: number,
  ): Promise<Buffer | "streamed" | "dropped" | undefined> {
    const flow = this.view(rec);
    if (flow.type === "tcp") return undefined;
    const message = which === "request" ? flow.request : flow.response;
    if (!message) return undefined;
    const kept = which === "request" ? rec.request : rec.response;
    if (kept) {
      if (!kept.spilled || kept.spilled.failed) return "dropped";
      return this.spill!.read(kept.spilled, start, end);
    }
    if (message.stream && message.body.length === 0) return "streamed";
    return message.body.subarray(start ?? 0, end ?? message.body.length);
  }

  /** The length of a body, when its bytes are kept. */
  bodyLength(rec: StoredFlow, which: "request" | "response"): number | undefined {
    const flow = this.view(rec);
    if (flow.type === "tcp") return undefined;
    const kept = which === "request" ? rec.request : rec.response;
    if (kept) return kept.length;
    return (which === "request" ? flow.request : flow.response)?.body.length;
  }

  /** The flow with every kept body in it (a copy when some are on disk): for export, dump, replay. */
  async whole(rec: StoredFlow): Promise<AnyFlow> {
    const flow = this.view(rec);
    if (flow.type === "tcp" || (!rec.request && !rec.response)) return flow;
    const req = await this.bodyBytes(rec, "request");
    const res = await this.bodyBytes(rec, "response");
    const request = Buffer.isBuffer(req) && rec.request ? requestWithBody(flow.request, req) : flow.request;
    const response =
      flow.response && Buffer.isBuffer(res) && rec.response ? responseWithBody(flow.response, res) : flow.response;
    return withMessages(flow, request, response);
  }

  /**
   * Puts the kept bodies back into the stored flow itself (before it is replayed or edited in
   * place), as the flow it is: the bytes count as memory until the flow is done again.
   */
  async takeBack(rec: StoredFlow): Promise<HTTPFlow | undefined> {
    for (;;) {
      const flow = this.own(rec);
      if (flow.type === "tcp") return undefined;
      if (!rec.request && !rec.response) return flow;
      const whole = (await this.whole(rec)) as HTTPFlow;
      // Settled again while the disk was read (a mark, a comment): take the flow it keeps now.
      if (rec.object !== flow && !rec.gone) continue;
      flow.request = whole.request;
      flow.response = whole.response;
      this.release(rec);
      return flow;
    }
  }

  /** Deletes the disk bodies. */
  close(): void {
    this.flows.clear();
    this.order = [];
    this.head = 0;
    this.forgetChanges();
    this.spill?.close();
  }

  private note(rec: StoredFlow, change: Change): void {
    if (!this.tracking) return;
    const before = rec.change;
    if (before === undefined) {
      rec.change = change;
      this.changed.push(rec);
    } else if (change === "remove") {
      // Added and gone before anyone was told: nothing to tell.
      rec.change = before === "add" || before === null ? null : "remove";
    }
    // A removed record never comes back (a flow with its id again, a file opened twice, gets a new one).
  }

  /** Drops the oldest flow that is not paused; false when every flow is paused. */
  private evict(): boolean {
    const waiting = this.order.length - this.head;
    for (let i = 0; i < waiting; i++) {
      const rec = this.order[this.head]!;
      this.head++;
      if (rec.gone) continue;
      // A paused flow keeps its place in the list; for eviction it counts as new again.
      if (rec.intercepted) {
        this.order.push(rec);
        continue;
      }
      this.removeRecord(rec);
      this.compact();
      return true;
    }
    this.compact();
    return false;
  }

  /** Lets go of the queue's consumed start once it is most of it. */
  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.order.length) return;
    this.order = this.order.slice(this.head);
    this.head = 0;
  }

  private removeRecord(rec: StoredFlow): void {
    this.drop(rec);
    this.note(rec, "remove");
  }

  /**
   * A newer flow came with this one's id. The UI already shows the newer one in its place
   * (an add with a known id updates it), so it is not told of a removal.
   */
  private replaced(older: StoredFlow): void {
    this.drop(older);
    if (older.change !== undefined) older.change = null;
  }

  private drop(rec: StoredFlow): void {
    rec.gone = true;
    this.flows.removed(rec);
    if (!rec.settled) this.forgotten.add(rec.object!);
    this.release(rec);
    this.inlineTotal -= rec.inline;
    rec.inline = 0;
  }

  private release(rec: StoredFlow): void {
    if (rec.request?.spilled) this.spill!.release(rec.request.spilled);
    if (rec.response?.spilled) this.spill!.release(rec.response.spilled);
    rec.request = undefined;
    rec.response = undefined;
  }

  /** Keeps the finished `flow`: its bodies where they fit, the rest detached. */
  private settle(rec: StoredFlow, flow: AnyFlow): void {
    this.inlineTotal -= rec.inline;
    rec.inline = 0;
    rec.settled = true;
    if (flow.type === "tcp") {
      rec.object = detach(flow);
      return;
    }
    rec.request = this.keep(rec, rec.request, flow.request);
    rec.response = flow.response ? this.keep(rec, rec.response, flow.response) : this.forget(rec.response);
    const leaveOut = { requestBody: rec.request !== undefined, responseBody: rec.response !== undefined };
    if (packInto(rec, flow, leaveOut, this.slab)) {
      rec.isPacked = true;
      rec.object = undefined;
      this.flows.deactivate(rec);
      // No kept object any more (a later hook's object is still known by `from`).
      if (rec.request) rec.request.keptAs = undefined;
      if (rec.response) rec.response.keptAs = undefined;
      return;
    }
    rec.unpacked();
    const kept = detach(flow, leaveOut) as HTTPFlow;
    if (rec.request) rec.request.keptAs = kept.request;
    if (rec.response) rec.response.keptAs = kept.response;
    rec.object = kept;
  }

  /** Where a finished message's body goes: left in it (undefined; counted as memory) or kept apart. */
  private keep(rec: StoredFlow, before: KeptBody | undefined, message: Request | Response): KeptBody | undefined {
    if (before && (before.from.deref() === message || before.keptAs === message)) return before;
    this.forget(before);
    const body = message.body;
    if (body.length === 0) return undefined;
    if (body.length <= this.inlineMax && this.inlineTotal + body.length <= this.inlineBudget) {
      rec.inline += body.length;
      this.inlineTotal += body.length;
      return undefined;
    }
    return { spilled: this.toDisk(body), length: body.length, from: new WeakRef(message), keptAs: undefined };
  }

  /** The body on disk; undefined (dropped) when too large or the disk fails (the spill said why). */
  private toDisk(body: Buffer): SpilledBody | undefined {
    if (!this.spill || body.length > this.diskMax) return undefined;
    try {
      return this.spill.put(body);
    } catch {
      return undefined;
    }
  }

  private forget(kept: KeptBody | undefined): undefined {
    if (kept?.spilled) this.spill!.release(kept.spilled);
    return undefined;
  }
}

/** Where each body is: kept apart by the store, or `held` in the flow (or packed record) itself. */
function factsOf(rec: StoredFlow, held: { request: BodyState; response: BodyState }): BodyFacts {
  const facts: BodyFacts = {
    request: rec.request ? keptState(rec.request) : held.request,
    response: rec.response ? keptState(rec.response) : held.response,
  };
  if (rec.request) facts.requestSize = rec.request.length;
  if (rec.response) facts.responseSize = rec.response.length;
  return facts;
}

function keptState(kept: KeptBody): "disk" | "dropped" {
  return kept.spilled && !kept.spilled.failed ? "disk" : "dropped";
}
