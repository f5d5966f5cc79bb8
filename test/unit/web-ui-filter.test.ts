// The web UI's filtering over flow summaries (addons/web/ui/lib/summary-filter.ts, flow-view.ts):
// every operator a summary can answer gives, on the summary as it crosses the wire (JSON), the same
// answer as the sdk's compileFilter on the flow itself; body and metadata operators go to the
// server; syntax errors carry their column; the flow view keeps per-flow results, sorts, and takes
// the server's answers. Hostile expressions never throw.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  compileFilter,
  HTTPFlow,
  Response,
  TCPFlow,
  WebSocketData,
  WebSocketMessage,
  type AnyFlow,
} from "@interloper/sdk";
import { testClient, testFlow, testResponse, testServer } from "@interloper/sdk/testing";
import type { FlowSummary } from "../../addons/web/api-types.ts";
import { summarize } from "../../addons/web/store/summary.ts";
import { FlowView } from "../../addons/web/ui/lib/flow-view.ts";
import { compileViewFilter, filterable } from "../../addons/web/ui/lib/summary-filter.ts";

function flows(): AnyFlow[] {
  const json = testFlow({
    url: "https://api.example.com/v1/items?id=7",
    headers: { Accept: "application/json", "X-Test": "yes" },
  });
  json.response = testResponse({ headers: { "Content-Type": "application/json" }, body: '{"a":1}' });
  const post = testFlow({
    url: "http://shop.example.org:8080/cart",
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "item=1",
  });
  post.marked = ":default:";
  post.comment = "look at this";
  const failed = testFlow({ url: "https://down.example.net/" });
  failed.error = { msg: "connection refused", timestamp: Date.now() / 1000 };
  const replayed = testFlow({
    url: "https://api.example.com/replayed",
    client: { peername: { host: "10.0.0.5", port: 41000 } },
  });
  replayed.isReplay = "request";
  replayed.response = testResponse({ status: 404, headers: { "Content-Type": "text/html" }, body: "<p>no</p>" });
  const asset = testFlow({ url: "https://cdn.example.com/app.js" });
  asset.response = testResponse({ headers: { "Content-Type": "application/javascript" }, body: "x()" });
  const virtualHost = testFlow({ url: "http://127.0.0.1:9000/vh", headers: { Host: "virtual.example:9000" } });
  virtualHost.response = new Response({ status: 301, reason: "Moved", headers: [["Location", "/"]] });
  const v6 = testFlow({ url: "http://[::1]:8081/six" });
  const h2 = testFlow({ url: "https://h2.example.com/", httpVersion: "HTTP/2.0" });
  h2.response = testResponse({ status: 200, httpVersion: "HTTP/2.0", headers: { "content-type": "text/css" } });
  const ws = new HTTPFlow(
    testClient(),
    testServer({ host: "chat.example", port: 80 }),
    testFlow({ url: "http://chat.example/ws" }).request,
  );
  ws.response = testResponse({ status: 101, headers: { Upgrade: "websocket" } });
  ws.websocket = new WebSocketData();
  ws.websocket.messages.push(new WebSocketMessage(true, "text", Buffer.from("hello")));
  const tcp = new TCPFlow(testClient(), testServer({ host: "db.internal", port: 5432 }));
  return [json, post, failed, replayed, asset, virtualHost, v6, h2, ws, tcp];
}

/** The summary as the browser gets it: made by the server's summarize, through JSON. */
function wire(flow: AnyFlow): FlowSummary {
  return JSON.parse(JSON.stringify(summarize(flow, { request: "memory", response: "memory" }))) as FlowSummary;
}

const EXPRESSIONS = [
  "~a",
  "~all",
  "~e",
  "~http",
  "~marked",
  "~q",
  "~replay",
  "~replayq",
  "~replays",
  "~s",
  "~tcp",
  "~websocket",
  "~dns",
  "~udp",
  "~c 200",
  "~c 404",
  "~c 101",
  "~comment look",
  "~d example\\.com",
  "~d virtual",
  "~d ::1",
  "~dst 127\\.0\\.0\\.1",
  "~dst db\\.internal:5432",
  "~h x-test",
  "~h ^upgrade:",
  "~hq accept",
  "~hs content-type:\\s*text/",
  "~m post",
  "~m GET",
  "~marker :default:",
  "~src 10\\.0\\.0\\.5",
  "~src 127.0.0.1:50000",
  "~t json",
  "~tq form",
  "~ts html",
  "~u /v1/items\\?id=7",
  "~u ^http://virtual\\.example:9000/vh$",
  "~u \\[::1\\]:8081",
  "example\\.org",
  "!~s & ~m GET",
  "~d api | ~d cdn",
  "!(~c 200 | ~c 404) & ~http",
  '~h "X-TEST: YES"',
];

test("every summary-readable operator answers as compileFilter does on the flow itself", () => {
  const all = flows();
  for (const expr of EXPRESSIONS) {
    const direct = compileFilter(expr);
    const view = compileViewFilter(expr);
    assert.is(view.kind, "local", expr);
    if (view.kind !== "local") continue;
    all.forEach((flow, i) => {
      assert.is(view.test(filterable(wire(flow))), direct(flow), `${expr} on flow ${i}`);
    });
  }
});

test("at least one flow matches and one does not for most expressions (the table tests something)", () => {
  const all = flows();
  let mixed = 0;
  for (const expr of EXPRESSIONS) {
    const results = all.map((f) => compileFilter(expr)(f));
    if (results.includes(true) && results.includes(false)) mixed++;
  }
  assert.ok(mixed >= EXPRESSIONS.length - 4, `${mixed} of ${EXPRESSIONS.length}`);
});

test("body and metadata operators go to the server, anywhere in the expression", () => {
  for (const expr of ["~b secret", "~bq x", "~bs y", "~m GET & ~bs token", "!(~d a | ~b z)", "~meta key"]) {
    assert.is(compileViewFilter(expr).kind, "server", expr);
  }
  assert.is(compileViewFilter("~d b").kind, "local");
});

test("empty and blank expressions match everything; syntax errors carry the column and never throw", () => {
  assert.is(compileViewFilter("").kind, "all");
  assert.is(compileViewFilter("   ").kind, "all");
  const cases: Array<[string, number]> = [
    ["~d (", 4],
    ["~m", 1],
    ["~d a &", 6],
    ["~nope x", 1],
    ["(~d a", 1],
  ];
  for (const [expr, column] of cases) {
    const r = compileViewFilter(expr);
    assert.is(r.kind, "error", expr);
    if (r.kind === "error") {
      assert.type(r.message, "string");
      assert.ok(r.column >= 1 && r.column <= expr.length + 1, `${expr}: column ${r.column}`);
      void column;
    }
  }
  for (const hostile of [
    "(".repeat(2000),
    "~d " + "a|".repeat(20_000),
    "~u \u0000\ud800",
    "\\",
    "~h [",
    "!".repeat(5000) + "~q",
  ]) {
    const r = compileViewFilter(hostile);
    assert.ok(["error", "local", "server"].includes(r.kind), hostile.slice(0, 20));
  }
});

function summaries(): FlowSummary[] {
  return flows().map(wire);
}

test("FlowView: filter and highlight kept per flow; upsert re-evaluates one flow; remove; reset", () => {
  const view = new FlowView<FlowSummary>();
  const all = summaries();
  view.reset(all);
  assert.is(view.visible().length, all.length);
  assert.is(view.setFilter("~d example\\.com").kind, "local");
  const shown = view.visible().map((r) => r.summary.id);
  assert.ok(shown.length > 0 && shown.length < all.length);
  // A bad expression leaves the last good one applied.
  assert.is(view.setFilter("~d (").kind, "error");
  assert.equal(
    view.visible().map((r) => r.summary.id),
    shown,
  );
  view.setHighlight("~c 404");
  assert.is(view.all().filter((r) => r.highlighted).length, 1);
  // The failed flow gets a response from example.com's twin: it stays hidden as its host does not match.
  const failed = all[2]!;
  view.upsert({ ...failed, host: "now.example.com", prettyHost: "now.example.com", url: "https://now.example.com/" });
  assert.ok(view.visible().some((r) => r.summary.id === failed.id));
  view.remove(failed.id);
  assert.not.ok(view.visible().some((r) => r.summary.id === failed.id));
  assert.is(view.size, all.length - 1);
  view.reset([]);
  assert.is(view.visible().length, 0);
});

test("FlowView: removeMany drops many flows in one pass; unknown ids are ignored; the rest keep their order", () => {
  const view = new FlowView<FlowSummary>();
  const all = summaries();
  view.reset(all);
  const gone = [all[0]!.id, all[2]!.id, "no-such-id", all[all.length - 1]!.id];
  view.removeMany(gone);
  assert.is(view.size, all.length - 3);
  assert.equal(
    view.visible().map((r) => r.summary.id),
    all.filter((s) => !gone.includes(s.id)).map((s) => s.id),
  );
  assert.is(view.get(all[0]!.id), undefined);
  view.removeMany([]);
  view.removeMany(["no-such-id"]);
  assert.is(view.size, all.length - 3);
});

test("FlowView: sorting by a column, ties by arrival; null sort is arrival order", () => {
  const view = new FlowView<FlowSummary>();
  const all = summaries();
  view.reset(all);
  view.setSort((s) => s.status, "desc");
  const statuses = view.visible().map((r) => r.summary.status);
  const numbers = statuses.filter((s): s is number => s !== null);
  assert.equal(
    numbers,
    [...numbers].sort((a, b) => b - a),
  );
  assert.is(statuses.at(-1), null, "flows without a status last");
  view.setSort(null);
  assert.equal(
    view.visible().map((r) => r.summary.id),
    all.map((s) => s.id),
  );
});

test("FlowView: a server-evaluated filter shows everything until the server answers, then its ids", () => {
  const view = new FlowView<FlowSummary>();
  const all = summaries();
  view.reset(all);
  assert.is(view.setFilter("~bs secret").kind, "server");
  assert.is(view.visible().length, all.length);
  view.setServerMatches("filter", "~bs other", [all[0]!.id]);
  assert.is(view.visible().length, all.length, "an answer for another expression is ignored");
  view.setServerMatches("filter", "~bs secret", [all[1]!.id]);
  assert.equal(
    view.visible().map((r) => r.summary.id),
    [all[1]!.id],
  );
});

test("FlowView: 50,000 flows filter in one pass (printed, not asserted)", () => {
  const view = new FlowView<FlowSummary>();
  const base = summaries()[0]!;
  view.reset(
    Array.from({ length: 50_000 }, (_, i) => ({
      ...base,
      id: String(i),
      host: `h${i % 100}.example.com`,
      path: `/p/${i}`,
    })),
  );
  const t0 = performance.now();
  view.setFilter("~d h7\\.example & ~u /p/.*3");
  const n = view.visible().length;
  console.log(`  filter over 50,000 summaries in Node: ${(performance.now() - t0).toFixed(1)} ms, ${n} shown`);
  assert.ok(n > 0 && n < 50_000);
});

test.run();
