// The web UI's flow store (addons/web/store/): the bound and what it drops, live flows
// kept until the proxy is done, bodies in memory, on disk or dropped with a marker, the
// changes told to the UI; and the edits of PUT /api/flows/:id (server/edit.ts).
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response, type HTTPFlow } from "@interloper/sdk";
import { testFlow, testTcpFlow } from "@interloper/sdk/testing";
import { BodySpill } from "../../addons/web/store/body-spill.ts";
import { EventLog } from "../../addons/web/store/event-log.ts";
import { FlowStore } from "../../addons/web/store/flow-store.ts";
import { doneAfter } from "../../addons/web/recorder.ts";
import { summarize } from "../../addons/web/store/summary.ts";
import { applyEdit, parseEdit } from "../../addons/web/server/edit.ts";
import { HttpError } from "../../addons/web/server/http-io.ts";

function spillDir(): string {
  return mkdtempSync(join(tmpdir(), "web-store-"));
}

function finished(body = "", status = 200): HTTPFlow {
  const flow = testFlow({ url: "http://h.test/x", method: "POST", body: "req" });
  flow.response = new Response({ status, headers: { "content-length": String(body.length) }, body });
  return flow;
}

test("the bound: the oldest flows go first, a paused one stays", () => {
  const store = new FlowStore({ maxFlows: 3 }, undefined);
  const flows = Array.from({ length: 5 }, () => finished("x"));
  flows[0]!.intercept();
  for (const f of flows) store.observe(f, false);
  assert.is(store.size, 3);
  assert.equal(
    [...store.values()].map((r) => r.id),
    [flows[0]!.id, flows[3]!.id, flows[4]!.id],
    "the paused first flow is kept; the next oldest went",
  );
  store.setMaxFlows(1);
  assert.equal(
    [...store.values()].map((r) => r.id),
    [flows[0]!.id],
  );
});

test("a dropped live flow does not come back with its later hooks", () => {
  const store = new FlowStore({ maxFlows: 1 }, undefined);
  const a = finished();
  const b = finished();
  store.observe(a, false);
  store.observe(b, false);
  store.observe(a, true);
  assert.equal(
    [...store.values()].map((r) => r.id),
    [b.id],
  );
});

test("done flows are kept detached: same id and state, not live, not the proxy's object", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const flow = finished("hello");
  flow.marked = ":m:";
  store.observe(flow, false);
  assert.is(store.view(store.get(flow.id)!), flow, "live: the proxy's own object");
  store.observe(flow, true);
  const kept = store.view(store.get(flow.id)!) as HTTPFlow;
  assert.is.not(kept, flow);
  assert.is(kept.id, flow.id);
  assert.is(kept.live, false);
  assert.is(kept.marked, ":m:");
  assert.is(kept.response?.text(), "hello");
  kept.kill();
  assert.not.ok(flow.killed, "killing the kept copy touches no connection");
});

test("a paused flow is not settled until resumed", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const flow = finished("x");
  flow.intercept();
  store.observe(flow, true);
  assert.is(store.view(store.get(flow.id)!), flow);
  flow.resume();
  store.resumed(flow, true);
  assert.is.not(store.view(store.get(flow.id)!), flow);
  assert.ok(store.get(flow.id)!.settled);
});

test("bodies: small ones in memory up to the budget, others on disk, read back whole or in part", async () => {
  const dir = spillDir();
  const spill = new BodySpill(join(dir, "s"), () => {}, 1024);
  const store = new FlowStore({ maxFlows: 10, inlineBudget: 10, inlineMax: 8 }, spill);
  const small = finished("12345");
  const big = finished("b".repeat(3000));
  const over = finished("123456"); // fits inlineMax, but the budget (10) is spent by `small` (5) + its request (3)
  for (const f of [small, big, over]) store.observe(f, true);
  const facts = (f: HTTPFlow) => store.facts(store.get(f.id)!);
  assert.equal(facts(small), { request: "memory", response: "memory" });
  assert.equal(facts(big), { request: "disk", response: "disk", requestSize: 3, responseSize: 3000 });
  assert.is(facts(over).response, "disk");
  assert.is(store.summary(store.get(big.id)!).responseSize, 3000);
  const rec = store.get(big.id)!;
  assert.is((store.view(rec) as HTTPFlow).response!.body.length, 0, "the kept flow does not hold it");
  const whole = await store.bodyBytes(rec, "response");
  assert.is((whole as Buffer).toString(), "b".repeat(3000));
  await spill.whenWritten();
  assert.is(rec.response!.spilled!.pending, undefined, "written: read from the file now");
  const part = await store.bodyBytes(rec, "response", 10, 20);
  assert.is((part as Buffer).toString(), "b".repeat(10));
  const full = (await store.whole(rec)) as HTTPFlow;
  assert.is(full.response!.body.length, 3000, "whole() puts it back in a copy");
  assert.is((store.view(rec) as HTTPFlow).response!.body.length, 0);
  assert.ok(readdirSync(join(dir, "s")).length > 0);
  store.remove(big.id);
  store.remove(over.id);
  store.close();
  assert.not.ok(readdirSync(dir).includes("s"), "closing removes the folder");
  rmSync(dir, { recursive: true, force: true });
});

test("bodies: without a disk, too large ones are dropped with a marker; streamed ones are marked", async () => {
  const store = new FlowStore({ maxFlows: 10, inlineBudget: 4, inlineMax: 4 }, undefined);
  const flow = finished("0123456789");
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  assert.is(store.facts(rec).response, "dropped");
  assert.is(store.summary(rec).responseSize, 10);
  assert.is(await store.bodyBytes(rec, "response"), "dropped");
  const streamed = finished("");
  streamed.response!.stream = true;
  store.observe(streamed, true);
  const srec = store.get(streamed.id)!;
  assert.is(store.facts(srec).response, "streamed");
  assert.is(store.summary(srec).responseSize, null);
  assert.is(await store.bodyBytes(srec, "response"), "streamed");
});

test("segments are deleted once no kept flow refers to them (disk stays at the kept flows)", async () => {
  const dir = spillDir();
  const spill = new BodySpill(join(dir, "s"), () => {}, 100);
  const store = new FlowStore({ maxFlows: 3, inlineBudget: 0 }, spill);
  for (let i = 0; i < 50; i++) store.observe(finished("z".repeat(90)), true);
  await spill.whenWritten();
  assert.is(store.size, 3);
  assert.ok(spill.segments <= 5, `segments in use: ${spill.segments}`);
  assert.ok(readdirSync(join(dir, "s")).length <= 5);
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("takeBack puts disk bodies into the stored flow itself (for replay and edits)", async () => {
  const dir = spillDir();
  const store = new FlowStore({ maxFlows: 3, inlineBudget: 0 }, new BodySpill(join(dir, "s"), () => {}));
  const flow = finished("on disk");
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  const back = await store.takeBack(rec);
  assert.is(back, rec.object, "the store keeps the flow it gave back");
  assert.is(back!.response!.text(), "on disk");
  assert.is(back!.request.text(), "req");
  assert.equal(store.facts(rec), { request: "memory", response: "memory" });
  store.observe(rec.object!, true);
  assert.equal(store.facts(rec), { request: "disk", response: "disk", requestSize: 3, responseSize: 7 });
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("takeBack: a flow settled again while its bodies were read from disk gives back the flow kept now", async () => {
  const dir = spillDir();
  const store = new FlowStore({ maxFlows: 3, inlineBudget: 0 }, new BodySpill(join(dir, "s"), () => {}));
  const flow = finished("on disk");
  store.observe(flow, true);
  const rec = store.get(flow.id)!;
  const taking = store.takeBack(rec);
  // A mark lands while the disk is read: the flow is settled (and packed) again.
  const marked = store.own(rec);
  marked.marked = ":m:";
  store.observe(marked, true);
  const back = await taking;
  assert.is(back, rec.object, "the flow the store keeps");
  assert.is(back!.marked, ":m:", "the mark is not lost");
  assert.is(back!.response!.text(), "on disk");
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a body sent to disk is not also kept in memory (the live message's bytes can be collected)", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const dir = spillDir();
  const spill = new BodySpill(join(dir, "s"), () => {});
  const store = new FlowStore({ maxFlows: 3, inlineBudget: 0 }, spill);
  const seen = (() => {
    const flow = finished("x".repeat(100_000));
    store.observe(flow, true);
    return new WeakRef(flow.response!.body);
  })();
  await spill.whenWritten();
  // WeakRefs are cleared only after the job that made them: let it end, then collect.
  await new Promise((r) => setImmediate(r));
  gc();
  assert.is(seen.deref(), undefined, "the 100,000 bytes were let go");
  const rec = [...store.values()][0]!;
  assert.is(((await store.bodyBytes(rec, "response")) as Buffer).length, 100_000, "and are read from disk");
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("changes for the UI: gathered only while tracking, coalesced per flow, in order", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const a = finished();
  store.observe(a, false);
  assert.is(store.takeChanges().changes.length, 0, "nobody listens: nothing gathered");
  store.tracking = true;
  const b = finished();
  const c = finished();
  store.observe(b, false);
  store.observe(b, true);
  store.observe(a, true);
  store.observe(c, false);
  store.remove(c.id);
  store.touch("no-such-id");
  assert.equal(
    store.takeChanges().changes.map(({ rec, change }) => [rec.id, change]),
    [
      [b.id, "add"],
      [a.id, "update"],
    ],
  );
  store.remove(a.id);
  store.clear();
  const after = store.takeChanges();
  assert.ok(after.reset);
  assert.is(after.changes.length, 0);
});

test("changes: a flow removed and brought back (a file opened again) is a remove then an add; a clear forgets what was gathered", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  store.tracking = true;
  const a = finished();
  const b = finished();
  store.observe(a, true);
  store.observe(b, true);
  store.takeChanges();
  store.remove(a.id);
  const again = a.copy();
  again.id = a.id;
  store.insert(again);
  store.touch(b.id);
  store.remove(b.id);
  assert.equal(
    store.takeChanges().changes.map(({ rec, change }) => [rec.id, change]),
    [
      [a.id, "remove"],
      [a.id, "add"],
      [b.id, "remove"],
    ],
    "in the order of their first change; b's touch became its remove",
  );
  const c = finished();
  store.observe(c, false);
  store.clear();
  store.observe(c, true);
  const after = store.takeChanges();
  assert.ok(after.reset);
  assert.equal(
    after.changes.map(({ rec, change }) => [rec.id, change]),
    [],
    "c was removed by the clear and never comes back (its later hooks are ignored)",
  );
  const d = finished();
  store.observe(d, true);
  assert.equal(
    store.takeChanges().changes.map(({ rec, change }) => [rec.id, change]),
    [[d.id, "add"]],
  );
});

test("TCP flows are kept too, with their messages", () => {
  const store = new FlowStore({ maxFlows: 10 }, undefined);
  const tcp = testTcpFlow({ host: "db.test", port: 5432 });
  tcp.messages.push({ fromClient: true, content: Buffer.from("hi"), timestamp: 1 });
  store.observe(tcp, false);
  store.observe(tcp, true);
  const s = store.summary(store.get(tcp.id)!);
  assert.equal(
    [s.type, s.protocol, s.host, s.port, s.messageCount, s.method],
    ["tcp", "tcp", "db.test", 5432, 1, null],
  );
});

test("a summary's url is the request's prettyUrl (Host name, brackets, default ports, CONNECT)", () => {
  const cases = [
    testFlow({ url: "http://h.test/a?b=1" }),
    testFlow({ url: "https://h.test:443/x" }),
    testFlow({ url: "https://h.test:8443/x", headers: { Host: "named.test:8443" } }),
    testFlow({ url: "http://[::1]:8080/v6" }),
    testFlow({ url: "http://10.0.0.1/", headers: { Host: "[2001:db8::1]:80" } }),
  ];
  const connect = testFlow({ url: "http://h.test:443/", method: "CONNECT" });
  connect.request.form = "authority";
  for (const f of [...cases, connect]) {
    const s = summarize(f, { request: "none", response: "none" });
    assert.is(s.url, f.request.prettyUrl);
    assert.is(s.prettyHost, f.request.prettyHost);
  }
});

test("doneAfter: when the proxy is done with a flow", () => {
  const live = finished();
  assert.ok(doneAfter("response", live));
  assert.ok(doneAfter("error", live));
  assert.not.ok(doneAfter("request", live));
  const upgrade = finished("", 101);
  assert.not.ok(doneAfter("response", upgrade), "a live 101 goes on as a WebSocket");
  assert.ok(doneAfter("websocketEnd", upgrade));
  const recorded = testFlow();
  recorded.live = false;
  assert.ok(doneAfter("request", recorded), "a recorded request without an answer");
  const tcp = testTcpFlow();
  assert.ok(doneAfter("tcpEnd", tcp));
  assert.not.ok(doneAfter("request", tcp));
});

test("the event log keeps the last entries, oldest first", () => {
  const log = new EventLog(3);
  for (let i = 0; i < 5; i++) log.add({ level: "info", message: `m${i}`, timestamp: i });
  assert.equal(
    log.entries().map((e) => e.message),
    ["m2", "m3", "m4"],
  );
  assert.equal(
    log.entries().map((e) => e.seq),
    [3, 4, 5],
    "numbered in order from 1, the dropped ones counted",
  );
  const entry = log.add({ level: "warn", message: "from an addon", addon: "a.ts", timestamp: 9 });
  assert.equal(entry, { level: "warn", message: "from an addon", addon: "a.ts", timestamp: 9, seq: 6 });
  assert.is(log.entries().at(-1), entry, "what the live update sends is what the list holds");
});

// Edits.

function editError(body: unknown): string {
  try {
    parseEdit(body as Record<string, unknown>);
  } catch (err) {
    assert.instance(err, HttpError);
    assert.is((err as HttpError).status, 400);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

test("edit: method, URL, headers and text content; Content-Length kept true, encoding applied", () => {
  const flow = finished("x");
  applyEdit(
    flow,
    parseEdit({
      request: {
        method: "PUT",
        url: "https://other.test:8443/p?q=1",
        headers: [
          ["Host", "other.test:8443"],
          ["X-Edited", "yes"],
          ["Content-Length", "3"],
        ],
        content: "new body",
      },
      marked: ":x:",
      comment: "looked at",
    }),
  );
  const r = flow.request;
  assert.equal([r.method, r.scheme, r.host, r.port, r.path], ["PUT", "https", "other.test", 8443, "/p?q=1"]);
  assert.is(r.headers.get("x-edited"), "yes");
  assert.is(r.headers.get("content-length"), "8");
  assert.is(r.text(), "new body");
  assert.equal([flow.marked, flow.comment], [":x:", "looked at"]);
  applyEdit(flow, parseEdit({ response: { headers: [["Content-Encoding", "gzip"]], content: "zipped", status: 201 } }));
  assert.is(flow.response!.status, 201);
  assert.is(flow.response!.text(), "zipped");
  assert.is.not(flow.response!.body.toString(), "zipped", "the bytes are gzip");
});

test("edit: raw bytes, and a response made for a flow that has none", () => {
  const flow = testFlow();
  applyEdit(flow, parseEdit({ response: { status: 418, contentBase64: Buffer.from([0, 1, 2]).toString("base64") } }));
  assert.is(flow.response!.status, 418);
  assert.equal([...flow.response!.body], [0, 1, 2]);
});

test("edit: bad input is refused in one line and nothing changes", () => {
  for (const [body, want] of [
    [{ request: "x" }, /'request' must be an object/],
    [{ request: { method: "G ET" } }, /not a method/],
    [{ request: { url: "ftp://x/" } }, /must be http or https/],
    [{ request: { url: "not a url" } }, /not a URL/],
    [{ request: { headers: [["Bad Name", "v"]] } }, /not a field name/],
    [{ request: { headers: [["X", "a\r\nInjected: 1"]] } }, /line breaks/],
    [{ request: { headers: [["X"]] } }, /must be \[name, value\]/],
    [{ request: { headers: { X: "1" } } }, /list of \[name, value\] pairs/],
    [{ request: { content: "a", contentBase64: "YQ==" } }, /not both/],
    [{ request: { contentBase64: "***" } }, /not base64/],
    [{ request: { httpVersion: "HTTP/9x" } }, /not an HTTP version/],
    [{ response: { status: 99 } }, /from 100 to 999/],
    [{ response: { status: "200" } }, /from 100 to 999/],
    [{ response: { reason: "OK\nX: y" } }, /line breaks/],
    [{ marked: 1 }, /'marked' must be a string/],
  ] as [unknown, RegExp][]) {
    const message = editError(body);
    assert.match(message, want, JSON.stringify(body));
    assert.not.match(message, /\n/);
  }
  const flow = finished("keep");
  flow.response!.headers.set("Content-Encoding", "zstd-unknown");
  let err: unknown;
  try {
    applyEdit(flow, parseEdit({ request: { method: "DELETE" }, response: { content: "new" } }));
  } catch (e) {
    err = e;
  }
  assert.instance(err, HttpError);
  assert.is(flow.request.method, "POST", "the request part did not change either");
  assert.is(flow.response!.body.toString(), "keep");
});

test.run();
