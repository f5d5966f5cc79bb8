// The rows live updates carry for finished flows (SummaryRow): the proxy writes one from the
// packed flow, the browser makes the summary (ui/lib/summary-row.ts). Through JSON, as on the
// wire, a row must give exactly the summary the server's summarize() makes of the same flow:
// named shapes, bodies kept in memory, on disk, dropped or streamed, and 2,000 seeded random flows.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Headers, HTTPFlow, Request, Response } from "@interloper/sdk";
import type { FlowSummary } from "../../addons/web/api-types.ts";
import { BodySpill } from "../../addons/web/store/body-spill.ts";
import { FlowStore, type StoredFlow } from "../../addons/web/store/flow-store.ts";
import { RowBatchWriter } from "../../addons/web/store/row-batch.ts";
import { HEADS_SEPARATOR, prettyHostOf, summariesOfRows } from "../../addons/web/ui/lib/summary-row.ts";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow } from "../helpers/flowfile.ts";
import { prng, randomFlow } from "../helpers/random-flows.ts";

const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The row of `rec` through JSON, and the server's summary through JSON: equal, field for field. */
function assertSameSummary(store: FlowStore, rec: StoredFlow, what: string): FlowSummary {
  const batch = new RowBatchWriter();
  assert.ok(store.addRow(rec, batch), `${what}: a packed flow has a row`);
  const fromRow = wire(summariesOfRows(wire(batch))[0]!);
  const summary = wire(store.summary(rec));
  assert.equal(fromRow, summary, what);
  return fromRow;
}

function withStore<T>(
  limits: { inlineBudget?: number; inlineMax?: number; diskMax?: number },
  fn: (s: FlowStore) => T,
): T {
  const dir = mkdtempSync(join(tmpdir(), "web-row-"));
  const store = new FlowStore({ maxFlows: 5000, ...limits }, new BodySpill(join(dir, "s"), () => {}, 1 << 20));
  try {
    return fn(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function keep(store: FlowStore, flow: HTTPFlow): StoredFlow {
  flow.live = false;
  store.observe(flow, true);
  return store.get(flow.id)!;
}

test("named shapes: the row gives the summary summarize() gives (a flow kept as an object has none)", () => {
  withStore({}, (store) => {
    const packed: string[] = [];
    for (const [name, make] of [
      ["HTTP/1 with bodies", http1Flow],
      ["HTTP/2, an error, trailers", http2ErrorFlow],
      ["HTTPS, streamed", () => httpsStreamedFlow(gzipSync("streamed body"))],
    ] as const) {
      const rec = keep(store, make());
      if (!rec.packed) {
        assert.not.ok(store.addRow(rec, new RowBatchWriter()), name);
        continue;
      }
      assertSameSummary(store, rec, name);
      packed.push(name);
    }
    assert.equal(packed, ["HTTP/1 with bodies", "HTTPS, streamed"]);
  });
});

test("what the summary works out: pretty host and URL, content types, protocol, no response", () => {
  withStore({}, (store) => {
    const req = new Request({
      method: "GET",
      scheme: "https",
      host: "10.0.0.1",
      port: 8443,
      path: "/a?b=1",
      headers: new Headers([
        ["Host", "[2001:db8::1]:8443"],
        ["Content-Type", "text/plain"],
        ["content-type", "charset=utf-8"],
      ]),
      httpVersion: "HTTP/2.0",
    });
    const flow = new HTTPFlow(http1Flow().client, http1Flow().server, req);
    flow.error = { msg: "server refused", timestamp: 1_700_000_001.25 };
    const s = assertSameSummary(store, keep(store, flow), "IPv6 Host header, repeated content type, an error");
    assert.is(s.prettyHost, "2001:db8::1");
    assert.is(s.url, "https://[2001:db8::1]:8443/a?b=1");
    assert.is(s.requestContentType, "text/plain, charset=utf-8");
    assert.is(s.protocol, "h2");
    assert.is(s.status, null);
    assert.is(s.responseHeaders, null);
    assert.is(s.timestampEnd, 1_700_000_001.25);

    const connect = new Request({ method: "CONNECT", host: "::1", port: 443, path: "", form: "authority" });
    const c = assertSameSummary(
      store,
      keep(store, new HTTPFlow(http1Flow().client, http1Flow().server, connect)),
      "CONNECT",
    );
    assert.is(c.url, "[::1]:443");

    const answered = new HTTPFlow(
      http1Flow().client,
      http1Flow().server,
      new Request({ host: "example.com", path: "/" }),
    );
    answered.response = new Response({ status: 204, reason: "", headers: new Headers() });
    answered.killed = true;
    answered.marked = ":default:";
    answered.isReplay = "request";
    const a = assertSameSummary(store, keep(store, answered), "an empty reason and no fields");
    assert.is(a.reason, "");
    assert.equal(a.responseHeaders, []);
    assert.is(a.killed, true);
  });
});

test("bodies in memory, on disk, dropped and streamed: states and sizes as the summary says", () => {
  withStore({ inlineBudget: 64, inlineMax: 16, diskMax: 100 }, (store) => {
    const sizes = [0, 10, 50, 500];
    for (const reqSize of sizes)
      for (const resSize of sizes) {
        const flow = http1Flow();
        flow.request.body = Buffer.alloc(reqSize, 97);
        flow.response!.body = Buffer.alloc(resSize, 98);
        const s = assertSameSummary(store, keep(store, flow), `request ${reqSize} B, response ${resSize} B`);
        assert.is(s.responseSize, resSize);
      }
    const states = new Set(
      [...store.values()].flatMap((r) => {
        const s = store.summary(r);
        return [s.bodies.request, s.bodies.response];
      }),
    );
    for (const state of ["none", "memory", "disk", "dropped"]) assert.ok(states.has(state as never), `some ${state}`);
    const streamed = http1Flow();
    streamed.response!.stream = true;
    streamed.response!.body = Buffer.alloc(0);
    assert.is(assertSameSummary(store, keep(store, streamed), "a streamed response").responseSize, null);
  });
});

test("2,000 seeded random flows: every packed one's row gives its summary", () => {
  withStore({ inlineBudget: 4096, inlineMax: 32 }, (store) => {
    const rnd = prng(20261203);
    let rows = 0;
    for (let i = 0; i < 2000; i++) {
      const rec = keep(store, randomFlow(rnd));
      if (!rec.packed) {
        assert.not.ok(store.addRow(rec, new RowBatchWriter()), "a flow kept as an object has no row");
        continue;
      }
      assertSameSummary(store, rec, `random flow ${i}`);
      rows++;
    }
    assert.ok(rows > 1000, `${rows} packed`);
  });
});

test("one batch of many rows: shared connections, times after one base, rare fields only when set", () => {
  withStore({ inlineBudget: 4096, inlineMax: 32 }, (store) => {
    const rnd = prng(31);
    const a = http1Flow();
    const recs: StoredFlow[] = [];
    for (let i = 0; i < 400; i++) {
      // Every other flow on one connection; the rest random (connections of their own, odd times).
      const flow = i % 2 === 0 ? new HTTPFlow(a.client, a.server, a.request.copy()) : randomFlow(rnd);
      if (i % 2 === 0) {
        flow.response = a.response!.copy();
        flow.timestampCreated = flow.request.timestampStart = 1_764_000_000 + i / 1000;
        if (i % 10 === 0) flow.marked = ":default:";
      }
      const rec = keep(store, flow);
      if (rec.packed) recs.push(rec);
    }
    const batch = new RowBatchWriter();
    for (const rec of recs) assert.ok(store.addRow(rec, batch));
    const wired = wire(batch);
    const summaries = summariesOfRows(wired);
    assert.is(summaries.length, recs.length);
    recs.forEach((rec, i) => assert.equal(wire(summaries[i]), wire(store.summary(rec)), `row ${i}`));
    const shared = wired.rows.filter((row) => row[0] && store.view(store.get(row[0])!).client === a.client);
    assert.ok(shared.length >= 150, `${shared.length} rows of the shared connection`);
    assert.is(new Set(shared.map((row) => row[13])).size, 1, "they name one connection");
    assert.ok(wired.conns.length < wired.rows.length);
    assert.ok(
      shared.every((row) => typeof row[6] === "number" && Number.isInteger(row[6])),
      "whole milliseconds go as integers",
    );
    assert.ok(
      shared.every((row) => (row[14] !== undefined) === (store.view(store.get(row[0])!).marked !== "")),
      "the rare fields come only with a mark",
    );
  });
});

test("times: whole milliseconds after a base, other times as text, never a neighbour's spoilt by an odd one", () => {
  withStore({}, (store) => {
    const times = [1.7e15, 1_700_000_000.123, 1e300, 1_700_000_000.456, 5e-324, -1_000.5, 1_764_000_000.000001];
    const odd = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const recs = [...times, ...odd].map((t, i) => {
      const flow = http1Flow();
      flow.timestampCreated = t;
      flow.request.timestampStart = times[(i + 1) % times.length]!;
      flow.error = { msg: "e", timestamp: i === 0 ? Number.NaN : t };
      flow.response = undefined;
      return keep(store, flow);
    });
    const batch = new RowBatchWriter();
    for (const rec of recs) assert.ok(store.addRow(rec, batch), "packed");
    const summaries = summariesOfRows(wire(batch));
    recs.forEach((rec, i) => {
      const flow = store.view(rec) as HTTPFlow;
      const finite = (t: number) => (Number.isFinite(t) ? t : null);
      assert.is(summaries[i]!.timestampCreated, finite(flow.timestampCreated), `created ${flow.timestampCreated}`);
      assert.is(summaries[i]!.timestampStart, finite(flow.request.timestampStart), `start ${i}`);
      assert.is(summaries[i]!.timestampEnd, finite(flow.error!.timestamp), `error's time ${i}`);
      assert.equal(wire(summaries[i]), wire(store.summary(rec)), `row ${i}`);
    });
  });
});

test("the pretty host is the sdk's for every kind of Host field, hostile ones included", () => {
  const odd = [
    "",
    "a",
    "a:1",
    ":1",
    "[::1]",
    "[::1]:8",
    "[]",
    "[",
    "[a",
    "]",
    "a]:1",
    "[a]b",
    "[[a]]",
    "x:y:z",
    "::",
    "[:]",
  ];
  const rnd = prng(5);
  const alphabet = "[]:a1.\u00e9 ";
  for (let i = 0; i < 2000; i++) {
    let value = "";
    for (let n = Math.floor(rnd() * 8); n > 0; n--) value += alphabet[Math.floor(rnd() * alphabet.length)];
    odd.push(value);
  }
  for (const value of odd) {
    const req = new Request({ method: "GET", scheme: "http", host: "10.0.0.1", port: 80, path: "/" });
    req.headers.set("host", value);
    assert.is(prettyHostOf("10.0.0.1", req.headers.get("host")), req.prettyHost, JSON.stringify(value));
  }
});

test("a row's heads are the packed text: DEL between the parts, none inside one", () => {
  withStore({}, (store) => {
    const batch = new RowBatchWriter();
    store.addRow(keep(store, http1Flow()), batch);
    const row = batch.rows[0]!;
    const parts = row[1].split(HEADS_SEPARATOR);
    assert.is(parts.length, 6 + 2 * row[2] + (row[3] >= 0 ? 2 + 2 * row[3] : 0));
  });
});

test.run();
