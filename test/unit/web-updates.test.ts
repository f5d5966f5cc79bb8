// The web UI's live updates (addons/web/server/updates.ts) over a real WebSocket on
// loopback: changes gathered and sent in batches (never more often than every 100 ms), a
// flow once per batch with its latest state (finished flows as rows, runs of them in one
// `flows/rows` update), nothing gathered without a client.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
import { Response } from "@interloper/sdk";
import { testFlow } from "@interloper/sdk/testing";
import { BATCH_MS, UpdateHub } from "../../addons/web/server/updates.ts";
import type { AddonInfo, RowBatch } from "../../addons/web/api-types.ts";
import { FlowStore } from "../../addons/web/store/flow-store.ts";
import { summariesOfRows } from "../../addons/web/ui/lib/summary-row.ts";
import { WAIT_MS, within } from "../helpers/harness.ts";

interface Update {
  type: string;
  data: { id?: string; ids?: string[]; status?: number | null; path?: string | null; message?: string };
}

/** The updates of a message with each row of a `flows/rows` as a `flows/row` update of its summary. */
function expandRows(updates: Update[]): Update[] {
  return updates.flatMap((u) =>
    u.type === "flows/rows"
      ? summariesOfRows(u.data as unknown as RowBatch).map((summary) => ({ type: "flows/row", data: summary }))
      : [u],
  );
}

const ADDON: AddonInfo = {
  name: "x",
  parent: null,
  kind: "script",
  source: "/tmp/x.ts",
  hooks: ["request"],
  options: [],
  loadedAt: 0,
  reloadable: true,
  lastError: null,
  log: [],
};

async function setUp(): Promise<{
  store: FlowStore;
  hub: UpdateHub;
  connect: () => Promise<{ ws: WebSocket; messages: Update[][]; raw: Update[][]; opened: number }>;
  close: () => Promise<void>;
}> {
  const store = new FlowStore({ maxFlows: 1000 }, undefined);
  const hub = await UpdateHub.create(store, { options: () => [], addons: () => [ADDON] });
  const server = http.createServer();
  server.on("upgrade", (req, socket, head) => hub.accept(req, socket, head));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const sockets: WebSocket[] = [];
  return {
    store,
    hub,
    connect: () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/updates`);
        sockets.push(ws);
        const messages: Update[][] = [];
        const raw: Update[][] = [];
        ws.on("message", (d: Buffer) => {
          raw.push(JSON.parse(d.toString()) as Update[]);
          messages.push(expandRows(raw[raw.length - 1]!));
        });
        ws.once("open", () => resolve({ ws, messages, raw, opened: Date.now() }));
        ws.once("error", reject);
      }),
    close: async () => {
      for (const ws of sockets) ws.terminate();
      hub.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Waits (bounded) until `check` holds, woken by each message. */
function until(ws: WebSocket, check: () => boolean, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (check()) return resolve();
      const on = () => {
        if (!check()) return;
        ws.off("message", on);
        resolve();
      };
      ws.on("message", on);
    }),
    what,
    WAIT_MS,
  );
}

/** Waits until the hub has registered the client (the server side of the upgrade ran). */
async function registered(hub: UpdateHub, n: number): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (hub.clientCount < n) {
    if (Date.now() > end) throw new Error("the client was never registered");
    await new Promise((r) => setImmediate(r));
  }
}

test("many changes arrive in few messages, each flow once per batch with its latest state", async () => {
  const { store, hub, connect, close } = await setUp();
  try {
    const client = await connect();
    await registered(hub, 1);
    const started = Date.now();
    const flows = Array.from({ length: 300 }, (_, i) => testFlow({ url: `http://h.test/${i}` }));
    for (const f of flows) store.observe(f, false);
    for (const f of flows) {
      f.response = new Response({ status: 201 });
      store.observe(f, true);
    }
    store.remove(flows[0]!.id);
    hub.event({ level: "info", message: "hello", timestamp: 1, seq: 1 });
    hub.addons();
    const all = () => client.messages.flat();
    await until(client.ws, () => all().some((u) => u.type === "addons/update"), "the batch");
    const elapsed = Date.now() - started;
    const adds = all().filter((u) => u.type === "flows/add" || u.type === "flows/row");
    assert.is(adds.length, 299, "the removed flow never shows: added and removed within one batch");
    assert.ok(
      adds.every((u) => u.type === "flows/row" && u.data.status === 201),
      "each finished flow comes as a row with its latest state",
    );
    const rowsUpdates = client.raw.flat().filter((u) => u.type === "flows/rows").length;
    assert.ok(rowsUpdates <= Math.ceil(299 / 32) + 1, `${rowsUpdates} flows/rows updates: a run of rows is one`);
    assert.not.ok(
      all().some((u) => u.type === "flows/update"),
      "no separate updates for flows added in the batch",
    );
    assert.ok(all().some((u) => u.type === "events/add" && u.data.message === "hello"));
    assert.ok(
      client.messages.length <= Math.floor(elapsed / BATCH_MS) + 1,
      `${client.messages.length} messages in ${elapsed} ms: at most one per ${BATCH_MS} ms`,
    );
  } finally {
    await close();
  }
});

test("a large batch is one message to every client: fragments joined, in order, UTF-8 intact", async () => {
  const { store, hub, connect, close } = await setUp();
  try {
    const a = await connect();
    const b = await connect();
    await registered(hub, 2);
    // 100 flows: four fragments of 32 updates; one path is not ASCII (that fragment goes as UTF-8).
    const paths = Array.from({ length: 100 }, (_, i) => (i === 70 ? "/caf\u00e9-\u2603-\ud83d\ude00" : `/${i}`));
    for (const path of paths) {
      const flow = testFlow({ url: "http://h.test/" });
      flow.request.path = path;
      store.observe(flow, true);
    }
    hub.flush();
    for (const client of [a, b]) {
      await until(client.ws, () => client.messages.length > 0, "the message");
      assert.is(client.messages.length, 1, "one message");
      assert.equal(
        client.messages[0]!.map((u) => u.data.path),
        paths,
        "every flow, in order",
      );
    }
  } finally {
    await close();
  }
});

test("later changes to known flows come as updates; removals as removes", async () => {
  const { store, hub, connect, close } = await setUp();
  try {
    const flow = testFlow({ url: "http://h.test/a" });
    store.observe(flow, false);
    const client = await connect();
    await registered(hub, 1);
    flow.marked = ":x:";
    store.touch(flow.id);
    await until(client.ws, () => client.messages.flat().some((u) => u.type === "flows/update"), "the update");
    store.remove(flow.id);
    await until(client.ws, () => client.messages.flat().some((u) => u.type === "flows/removed"), "the removal");
    assert.equal(client.messages.flat().find((u) => u.type === "flows/removed")!.data.ids, [flow.id]);
    store.clear();
    await until(client.ws, () => client.messages.flat().some((u) => u.type === "flows/reset"), "the reset");
  } finally {
    await close();
  }
});

test("past web_max_flows every new flow evicts the oldest: the removals of a message come first, as one update", async () => {
  const { store, hub, connect, close } = await setUp();
  try {
    store.setMaxFlows(5);
    const client = await connect();
    await registered(hub, 1);
    const flows = Array.from({ length: 12 }, (_, i) => testFlow({ url: `http://h.test/${i}` }));
    for (const f of flows.slice(0, 5)) store.observe(f, true);
    hub.flush();
    await until(client.ws, () => client.messages.length === 1, "the first five");
    // Seven more: each evicts one of the first five, then (after five) one of its own batch.
    for (const f of flows.slice(5)) store.observe(f, true);
    hub.flush();
    await until(client.ws, () => client.messages.length === 2, "the next message");
    const second = client.raw[1]!;
    assert.is(second[0]!.type, "flows/removed", "removals first");
    assert.equal(
      second[0]!.data.ids,
      flows.slice(0, 5).map((f) => f.id),
      "the five told before; the two added and evicted within the batch are never told",
    );
    assert.equal(
      client.messages[1]!.slice(1).map((u) => u.data.path),
      flows.slice(7).map((f) => f.request.path),
    );
    assert.is(second.filter((u) => u.type === "flows/removed").length, 1);
  } finally {
    await close();
  }
});

test("nothing is gathered while no client listens", async () => {
  const { store, hub, connect, close } = await setUp();
  try {
    store.observe(testFlow({ url: "http://h.test/before" }), false);
    hub.event({ level: "info", message: "unheard", timestamp: 1, seq: 1 });
    assert.is(store.takeChanges().changes.length, 0);
    const client = await connect();
    await registered(hub, 1);
    client.ws.terminate();
    const end = Date.now() + WAIT_MS;
    while (hub.clientCount > 0 && Date.now() < end) await new Promise((r) => setImmediate(r));
    assert.is(hub.clientCount, 0);
    store.observe(testFlow({ url: "http://h.test/after" }), false);
    assert.is(store.takeChanges().changes.length, 0, "the last client left: tracking stopped");
  } finally {
    await close();
  }
});

test.run();
