// The web UI's store keeps a finished HTTP flow packed (addons/web/store/packed-flow.ts): the
// flow it gives back must be the one detach() keeps, field for field, for every shape; what
// cannot be packed must stay an object; and the store's readers and writers must see one flow.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Headers, HTTPFlow, Request, Response, type AnyFlow } from "@interloper/sdk";
import { detach } from "../../addons/web/store/detach.ts";
import { FlowStore } from "../../addons/web/store/flow-store.ts";
import { pack, unpack } from "../../addons/web/store/packed-flow.ts";
import { Slab } from "../../addons/web/store/slab.ts";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow, snapshot, websocketFlow } from "../helpers/flowfile.ts";
import { prng, randomFlow } from "../helpers/random-flows.ts";

const KEEP_ALL = { requestBody: false, responseBody: false };

/** What the store would keep without packing, as plain data. */
function expected(flow: HTTPFlow, leaveOut = KEEP_ALL): Record<string, unknown> {
  return snapshot(detach(flow, leaveOut));
}

function roundTrip(flow: HTTPFlow, slab = new Slab(), leaveOut = KEEP_ALL): HTTPFlow {
  const packed = pack(flow, leaveOut, slab);
  assert.ok(packed, "packed");
  return unpack(packed);
}

test("named shapes come back as detach() keeps them", () => {
  const shapes: [string, () => HTTPFlow][] = [
    ["HTTP/1 with bodies", http1Flow],
    ["HTTP/2 with an error and no response", http2ErrorFlow],
    ["HTTPS, streamed, gzipped", () => httpsStreamedFlow(Buffer.from([0x1f, 0x8b, 0, 1, 2]))],
  ];
  for (const [what, make] of shapes) {
    const flow = make();
    if (flow.request.trailers || flow.response?.trailers) continue;
    const back = roundTrip(flow);
    assert.equal(snapshot(back), expected(flow), what);
    assert.is(back.client, flow.client, `${what}: connections are shared, not copied`);
    assert.is(back.live, false);
  }
});

test("2,000 seeded random flows: packed when they can be, and given back exactly", () => {
  const rnd = prng(20261205);
  const slab = new Slab();
  let packed = 0;
  for (let i = 0; i < 2000; i++) {
    const flow = randomFlow(rnd);
    const p = pack(flow, KEEP_ALL, slab);
    const hasTrailers = flow.request.trailers !== undefined || flow.response?.trailers !== undefined;
    if (hasTrailers) {
      assert.is(p, undefined, `random flow ${i}: trailers keep it an object`);
      continue;
    }
    assert.ok(p, `random flow ${i}: declined`);
    packed++;
    assert.equal(snapshot(unpack(p)), expected(flow), `random flow ${i}`);
  }
  assert.ok(packed > 1000, `packed ${packed}`);
});

test("bodies left out (kept on disk) are not packed; the rest are", () => {
  const flow = http1Flow();
  const leaveOut = { requestBody: true, responseBody: false };
  const back = roundTrip(flow, new Slab(), leaveOut);
  assert.equal(snapshot(back), expected(flow, leaveOut));
  assert.is(back.request.body.length, 0);
  assert.ok(back.response!.body.length > 0);
});

test("what stays an object: WebSocket, trailers, a DEL in any text, NaN timestamps, a paused flow", () => {
  const slab = new Slab();
  assert.is(pack(websocketFlow(), KEEP_ALL, slab), undefined, "WebSocket");
  const odd: [string, (f: HTTPFlow) => void][] = [
    ["request trailers", (f) => (f.request.trailers = new Headers([["x", "1"]]))],
    ["response trailers", (f) => (f.response!.trailers = new Headers([["x", "1"]]))],
    ["DEL in a header value", (f) => f.request.headers.fields.push(["x", "a\x7fb"])],
    ["DEL in a header name", (f) => f.response!.headers.fields.push(["x\x7f", "v"])],
    ["DEL in the path", (f) => (f.request.path = "/\x7f")],
    ["DEL in the reason", (f) => (f.response!.reason = "\x7f")],
    ["DEL alone as a value", (f) => f.request.headers.fields.push(["x", "\x7f"])],
    ["NaN created", (f) => (f.timestampCreated = Number.NaN)],
    ["NaN response end", (f) => (f.response!.timestampEnd = Number.NaN)],
    ["paused", (f) => f.intercept()],
  ];
  // http1Flow has Latin-1 text, asciiFlow only ASCII: the text is encoded either way.
  for (const make of [http1Flow, asciiFlow])
    for (const [what, spoil] of odd) {
      const flow = make();
      assert.ok(pack(flow, KEEP_ALL, slab), `${make.name} unspoilt`);
      spoil(flow);
      assert.is(pack(flow, KEEP_ALL, slab), undefined, `${make.name}: ${what}`);
    }
});

test("all-ASCII heads and heads with control, Latin-1, other and lone surrogate characters give back every part", () => {
  const slab = new Slab();
  for (const value of ["plain", "", "\x00\x1f ~", "caf\u00e9", "\u20ac", "\ud800"]) {
    const flow = asciiFlow();
    flow.request.headers.fields.push(["x-v", value]);
    flow.response!.headers.fields.push([`x-${value.length}`, value]);
    flow.response!.reason = value;
    assert.equal(snapshot(roundTrip(flow, slab)), expected(flow), JSON.stringify(value));
  }
});

function asciiFlow(): HTTPFlow {
  const request = new Request({
    method: "POST",
    scheme: "http",
    host: "h.test",
    port: 8080,
    path: "/a?b=c",
    headers: new Headers([
      ["Host", "h.test:8080"],
      ["Content-Type", "text/plain"],
    ]),
    body: "req",
  });
  request.timestampStart = 1_764_000_000.25;
  request.timestampEnd = 1_764_000_000.5;
  const flow = new HTTPFlow(http1Flow().client, http1Flow().server, request);
  flow.response = new Response({ status: 201, headers: new Headers([["Content-Length", "2"]]), body: "ok" });
  flow.response.timestampStart = 1_764_000_000.75;
  flow.response.timestampEnd = 1_764_000_001;
  return flow;
}

test("metadata: an empty object is not kept; keys only a symbol or a non-enumerable property holds are", () => {
  const slab = new Slab();
  const plain = http1Flow();
  plain.metadata = {};
  assert.is(pack(plain, KEEP_ALL, slab)!.extra?.metadata, undefined);
  const key = Symbol("addon");
  const bySymbol = http1Flow();
  bySymbol.metadata = { [key]: 1 };
  assert.is(unpack(pack(bySymbol, KEEP_ALL, slab)!).metadata, bySymbol.metadata);
  const hidden = http1Flow();
  Object.defineProperty(hidden.metadata, "x", { value: 1, enumerable: false });
  assert.is(unpack(pack(hidden, KEEP_ALL, slab)!).metadata, hidden.metadata);
});

test("unpack(p, false) shares the kept bytes (for readers); unpack(p) copies them", () => {
  const flow = http1Flow();
  const p = pack(flow, KEEP_ALL, new Slab())!;
  const shared = unpack(p, false).response!.body;
  const copied = unpack(p).response!.body;
  assert.ok(shared.equals(flow.response!.body) && copied.equals(flow.response!.body));
  assert.is(shared.buffer, p.responseBody!.buffer, "a view of the chunk");
  assert.is.not(copied.buffer, p.responseBody!.buffer);
});

test("the slab: many flows fill and roll over chunks; large bodies are kept as they are, all read back", () => {
  const slab = new Slab();
  const flows: HTTPFlow[] = [];
  const packs = [];
  for (let i = 0; i < 6000; i++) {
    const flow = http1Flow();
    flow.timestampCreated = 1_700_000_000 + i / 7;
    flow.response!.body = Buffer.alloc(i % 3 === 0 ? 20_000 : 100 + (i % 50), i % 251);
    flows.push(flow);
    packs.push(pack(flow, KEEP_ALL, slab)!);
  }
  for (let i = 0; i < flows.length; i += 1) {
    const back = unpack(packs[i]!);
    assert.ok(back.response!.body.equals(flows[i]!.response!.body), `body ${i}`);
    assert.is(back.timestampCreated, flows[i]!.timestampCreated, `timestamp ${i}`);
  }
  assert.is(packs[0]!.responseBody, flows[0]!.response!.body, "a 20,000-byte body is not copied");
  assert.is.not(packs[0]!.numbers, packs[5999]!.numbers, "number chunks rolled over");
});

test("the heads' text: ASCII, Latin-1, UTF-16 with a lone surrogate, and over a chunk's piece size", () => {
  const slab = new Slab();
  const values = ["plain", "caf\u00e9", "\u2603 \ud83d\ude00", "half \ud800 pair", "x".repeat(20_000)];
  for (const value of values) {
    const flow = http1Flow();
    flow.request.headers.set("X-Value", value);
    flow.response!.reason = value.length < 100 ? value : "OK";
    const back = roundTrip(flow, slab);
    assert.equal(snapshot(back), expected(flow), JSON.stringify(value.slice(0, 20)));
  }
});

test("a flow with no mark, comment, error, metadata, replay or carried state keeps no object for them", () => {
  const flow = http1Flow();
  flow.marked = "";
  flow.comment = "";
  flow.isReplay = undefined;
  flow.metadata = {};
  const p = pack(flow, KEEP_ALL, new Slab())!;
  assert.is(p.extra, undefined);
  assert.equal(snapshot(unpack(p)), expected(flow));
  flow.comment = "now one";
  assert.is(pack(flow, KEEP_ALL, new Slab())!.extra?.comment, "now one");
});

test("an unpacked flow is a copy: changing it changes nothing kept", () => {
  const flow = http1Flow();
  const p = pack(flow, KEEP_ALL, new Slab())!;
  const a = unpack(p);
  a.response!.body[0] = a.response!.body[0]! ^ 0xff;
  a.request.headers.set("x-new", "1");
  a.marked = ":m:";
  const b = unpack(p);
  assert.equal(snapshot(b), expected(flow));
});

function finished(body: string): HTTPFlow {
  const flow = http1Flow();
  flow.response = new Response({ status: 200, headers: { "content-length": String(body.length) }, body });
  return flow;
}

test("the store packs finished flows; view() reads, own() takes one to change, and a change is kept", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const flow = finished("hello");
  store.observe(flow, false);
  const rec = store.get(flow.id)!;
  assert.is(rec.packed, undefined, "live: the proxy's own object");
  store.observe(flow, true);
  assert.ok(rec.packed, "finished: packed");
  assert.is(rec.object, undefined);
  assert.is(rec.id, flow.id);
  assert.is(rec.type, "http");
  assert.is(rec.live, false);
  assert.is(rec.intercepted, false);
  const seen = store.view(rec) as HTTPFlow;
  assert.is.not(store.view(rec), seen, "a view is made afresh and not kept");
  assert.is(seen.response!.text(), "hello");
  assert.is(store.summary(rec).responseSize, 5);
  assert.is(store.summary(rec).status, 200);
  const owned = store.own(rec) as HTTPFlow;
  assert.is(rec.packed, undefined);
  assert.equal(
    [rec.text, rec.numbers, rec.client, rec.responseBody],
    [undefined, undefined, undefined, undefined],
    "the record lets go of the shared chunks it no longer reads",
  );
  assert.is(store.view(rec), owned, "owned: the store keeps that object");
  owned.marked = ":m:";
  store.observe(owned, true);
  assert.ok(rec.packed, "settled again: packed again");
  assert.is(store.view(rec).marked, ":m:");
  assert.is(store.summary(rec).marked, ":m:");
});

test("the store: bodies over the budget go to disk or are dropped for packed flows too", async () => {
  const store = new FlowStore({ maxFlows: 10, inlineBudget: 4, inlineMax: 4 }, undefined);
  const flow = finished("0123456789");
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  assert.ok(rec.packed);
  assert.is(store.facts(rec).response, "dropped");
  assert.is(store.summary(rec).responseSize, 10);
  assert.is(await store.bodyBytes(rec, "response"), "dropped");
  assert.is(((await store.whole(rec)) as HTTPFlow).response!.body.length, 0);
});

test("the store: a flow that cannot be packed is kept detached, as before", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const flow = finished("x");
  flow.response!.trailers = new Headers([["grpc-status", "0"]]);
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  assert.is(rec.packed, undefined);
  const kept: AnyFlow = store.view(rec);
  assert.is.not(kept, flow);
  assert.is(store.view(rec), kept, "the detached copy is the one kept");
  assert.equal((kept as HTTPFlow).response!.trailers!.fields, [["grpc-status", "0"]]);
});

test("requests without a response, and with one that is the same object seen twice, pack", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const req = new Request({ host: "example.com", path: "/x" });
  const flow = new HTTPFlow(http1Flow().client, http1Flow().server, req);
  flow.error = { msg: "refused", timestamp: 1 };
  store.observe(flow, true);
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  assert.ok(rec.packed);
  const seen = store.view(rec) as HTTPFlow;
  assert.is(seen.response, undefined);
  assert.equal(seen.error, { msg: "refused", timestamp: 1 });
  assert.is(store.size, 1);
});

test.run();
