// The web store's index of records (addons/web/store/flow-index.ts): arrival order, lookups
// by id without a map of every record on the proxy's path, sweeps, compaction, and a newer
// record taking an older one's id. Also the store's use of it: late hooks, replays, duplicate ids.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response, type HTTPFlow } from "@interloper/sdk";
import { testFlow } from "@interloper/sdk/testing";
import { FlowIndex, type IndexedRecord } from "../../addons/web/store/flow-index.ts";
import { FlowStore } from "../../addons/web/store/flow-store.ts";

interface Rec extends IndexedRecord {
  n: number;
}

let made = 0;
function rec(id: string): Rec {
  return { id, gone: false, active: false, indexed: false, n: made++ };
}

/** An index whose superseded records are removed, as the store does. */
function index(): { idx: FlowIndex<Rec>; superseded: Rec[] } {
  const superseded: Rec[] = [];
  const idx: FlowIndex<Rec> = new FlowIndex<Rec>((older) => {
    superseded.push(older);
    remove(idx, older);
  });
  return { idx, superseded };
}

function remove(idx: FlowIndex<Rec>, r: Rec): void {
  r.gone = true;
  idx.removed(r);
}

function activeEntries(idx: FlowIndex<Rec>): number {
  return (idx as unknown as { active: Map<string, Rec> }).active.size;
}

test("records in the order they came; removed ones are gone from the list and from lookups", () => {
  const { idx } = index();
  const rs = ["a", "b", "c", "d"].map(rec);
  for (const r of rs) idx.add(r);
  remove(idx, rs[1]!);
  assert.equal(
    idx.values().map((r) => r.id),
    ["a", "c", "d"],
  );
  assert.is(idx.size, 3);
  assert.is(idx.get("b"), undefined);
  assert.is(idx.get("c"), rs[2]);
});

test("an active record is found by findActive; once deactivated only get finds it", () => {
  const { idx } = index();
  const a = rec("a");
  idx.add(a);
  assert.is(idx.findActive("a"), a);
  idx.deactivate(a);
  assert.is(idx.findActive("a"), undefined, "not active any more");
  assert.is(idx.get("a"), a, "still kept");
  idx.activate(a);
  assert.is(idx.findActive("a"), a, "given out again");
});

test("the map of active records stays small when records come and settle (swept in batches)", () => {
  const { idx } = index();
  let most = 0;
  for (let i = 0; i < 20_000; i++) {
    const r = rec(`r${i}`);
    idx.add(r);
    idx.deactivate(r);
    most = Math.max(most, activeEntries(idx));
  }
  assert.ok(most <= 1024, `at most one sweep's worth of entries (${most})`);
  assert.is(idx.size, 20_000);
  assert.is(idx.get("r0")?.id, "r0");
  assert.is(idx.get("r19999")?.id, "r19999");
});

test("a record that stays active survives the sweeps", () => {
  const { idx } = index();
  const live = rec("live");
  idx.add(live);
  for (let i = 0; i < 5000; i++) {
    const r = rec(`r${i}`);
    idx.add(r);
    idx.deactivate(r);
  }
  assert.is(idx.findActive("live"), live);
});

test("a newer record with an older one's id replaces it when the index catches up", () => {
  const { idx, superseded } = index();
  const older = rec("same");
  idx.add(older);
  idx.deactivate(older);
  assert.is(idx.get("same"), older, "indexed");
  const newer = rec("same");
  idx.add(newer);
  idx.deactivate(newer);
  assert.is(idx.get("same"), newer);
  assert.equal(superseded, [older]);
  assert.equal(
    idx.values().map((r) => r.n),
    [newer.n],
  );
  assert.is(idx.size, 1);
});

test("compaction keeps lookups right: removals at the start, the middle, before and after indexing", () => {
  const { idx } = index();
  const rs: Rec[] = [];
  for (let i = 0; i < 3000; i++) {
    const r = rec(`r${i}`);
    rs.push(r);
    idx.add(r);
    idx.deactivate(r);
  }
  assert.is(idx.get("r1500"), rs[1500], "indexes the first 3000");
  for (let i = 0; i < 2500; i++) remove(idx, rs[i]!);
  for (let i = 3000; i < 4000; i++) {
    const r = rec(`r${i}`);
    rs.push(r);
    idx.add(r);
    idx.deactivate(r);
  }
  for (let i = 3000; i < 3900; i += 2) remove(idx, rs[i]!);
  for (const r of rs) assert.is(idx.get(r.id), r.gone ? undefined : r, r.id);
  assert.equal(
    idx.values().map((r) => r.id),
    rs.filter((r) => !r.gone).map((r) => r.id),
  );
});

test("random operations agree with a plain model", () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const { idx } = index();
  const model: Rec[] = [];
  for (let step = 0; step < 30_000; step++) {
    const op = random(10);
    const alive = model.filter((r) => !r.gone);
    if (op < 5 || alive.length === 0) {
      const r = rec(`id${made}`);
      model.push(r);
      idx.add(r);
      if (random(4) > 0) idx.deactivate(r);
    } else if (op < 7) {
      remove(idx, alive[random(alive.length)]!);
    } else if (op < 8) {
      const r = alive[random(alive.length)]!;
      if (r.active) idx.deactivate(r);
      else idx.activate(r);
    } else {
      const r = model[random(model.length)]!;
      assert.is(idx.get(r.id), r.gone ? undefined : r, `step ${step}: ${r.id}`);
      assert.is(idx.findActive(r.id), r.active && !r.gone ? r : undefined);
    }
    if (step % 5000 === 0)
      assert.equal(
        idx.values().map((r) => r.id),
        model.filter((r) => !r.gone).map((r) => r.id),
      );
  }
  assert.is(idx.size, model.filter((r) => !r.gone).length);
});

function finished(): HTTPFlow {
  const flow = testFlow({ url: "http://h.test/x" });
  flow.response = new Response({ status: 200, body: "ok" });
  return flow;
}

/** The recorder's first hook and its last (done) for `flow`. */
function run(store: FlowStore, flow: HTTPFlow): void {
  store.observe(flow, false, true);
  store.observe(flow, true);
}

test("store: a hook after the flow was kept (error after response) updates the same record", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  store.tracking = true;
  const flow = finished();
  run(store, flow);
  flow.error = { msg: "killed", timestamp: 1 };
  store.observe(flow, true);
  assert.is(store.size, 1);
  const { changes } = store.takeChanges();
  assert.equal(
    changes.map((c) => c.change),
    ["add"],
  );
  assert.is(store.summary(store.get(flow.id)!).error, "killed");
});

test("store: a kept flow given out and replayed finds its record at its first hook", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const flow = finished();
  run(store, flow);
  const rec = store.get(flow.id)!;
  const owned = store.own(rec) as HTTPFlow;
  // What the core's replay does before the first hook.
  owned.live = true;
  owned.isReplay = "request";
  store.observe(owned, false, true);
  assert.is(store.size, 1);
  assert.is(store.get(flow.id), rec);
  assert.is(store.view(rec), owned);
});

test("store: a flow replayed from its first hook (a script's replay, or -C of flows read again) keeps one record", () => {
  const store = new FlowStore({ maxFlows: 3 }, undefined);
  store.tracking = true;
  const flow = finished();
  run(store, flow);
  // A script replays the object it got in a hook: the core marks it a replay before any hook.
  flow.live = true;
  flow.isReplay = "request";
  run(store, flow);
  // The same id on another object: a flow read again and replayed.
  const again = finished();
  again.id = flow.id;
  again.isReplay = "request";
  run(store, again);
  assert.is(store.size, 1);
  for (const other of [finished(), finished()]) {
    run(store, other);
  }
  assert.is(store.size, 3);
  const { changes } = store.takeChanges();
  assert.not.ok(
    changes.some((c) => c.change === "remove"),
    "nothing evicted: the replayed flow was one flow",
  );
  assert.is(store.values()[0]!.id, flow.id, "the replayed flow keeps its place");
});

test("store: a kept flow handed out and replayed keeps one record even when an addon clears isReplay", () => {
  const store = new FlowStore({ maxFlows: 3 }, undefined);
  store.tracking = true;
  const flow = finished();
  run(store, flow);
  const owned = store.own(store.get(flow.id)!) as HTTPFlow;
  owned.live = true;
  owned.isReplay = undefined;
  run(store, owned);
  assert.is(store.size, 1);
  for (const other of [finished(), finished()]) {
    run(store, other);
  }
  assert.not.ok(
    store.takeChanges().changes.some((c) => c.change === "remove"),
    "nothing evicted",
  );
});

test("store: a new flow an addon gave a kept flow's id replaces it; the UI is not told of a removal", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  store.tracking = true;
  const first = finished();
  run(store, first);
  store.takeChanges();
  const second = finished();
  second.id = first.id;
  second.comment = "second";
  run(store, second);
  assert.is(store.summary(store.get(first.id)!).comment, "second");
  assert.is(store.size, 1);
  const { changes } = store.takeChanges();
  assert.equal(
    changes.map((c) => c.change),
    ["add"],
    "the newer one's add, which the UI applies to the row it has",
  );
});

test.run();
