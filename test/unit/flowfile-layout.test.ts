// A FlowWriter writes a live HTTP flow straight into the encoder (sdk/src/flowfile/flow-layout.ts)
// rather than through flowToState, the version steps and the generic encoder. The two ways must
// give the same bytes, and the same warnings, for every shape of flow and every version.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  encodeFlow,
  Headers,
  HTTPFlow,
  Request,
  Response,
  type FlowFormatVersion,
  type FlowWriteOptions,
} from "@interloper/sdk";
import { ConnStateCache } from "../../sdk/src/flowfile/conn-cache.ts";
import { LiveHttpLayout } from "../../sdk/src/flowfile/flow-layout.ts";
import type { Backwards } from "../../sdk/src/flowfile/tnetstring.ts";
import { encodeBackwards, encodeTNet, TNetFloat } from "../../sdk/src/flowfile/tnetstring.ts";
import { client, http1Flow, http2ErrorFlow, httpsStreamedFlow, server, websocketFlow } from "../helpers/flowfile.ts";
import { prng, randomFlow } from "../helpers/random-flows.ts";

const VERSIONS: FlowFormatVersion[] = [17, 18, 19, 20, 21];

/** Both ways for one flow and version: the layout's bytes (undefined when it declined) and encodeFlow's. */
function bothWays(flow: HTTPFlow, version: FlowFormatVersion) {
  const layoutWarnings: string[] = [];
  const genericWarnings: string[] = [];
  const layout = new LiveHttpLayout(version, new ConnStateCache(version), (m) => layoutWarnings.push(m)).encode(flow);
  const opts: FlowWriteOptions = { version, onWarning: (m) => genericWarnings.push(m) };
  return { layout, generic: encodeFlow(flow, opts), layoutWarnings, genericWarnings };
}

function assertSame(flow: HTTPFlow, what: string): void {
  for (const version of VERSIONS) {
    const r = bothWays(flow, version);
    assert.ok(r.layout, `${what} v${version}: the layout declined a live HTTP flow`);
    assert.equal(r.layout.toString("latin1"), r.generic.toString("latin1"), `${what} v${version}`);
    assert.equal(r.layoutWarnings, r.genericWarnings, `${what} v${version}: warnings`);
  }
}

test("the helpers' HTTP flows: the same bytes as encodeFlow in every version", () => {
  assertSame(http1Flow(), "http1Flow");
  assertSame(http2ErrorFlow(), "http2ErrorFlow");
  assertSame(httpsStreamedFlow(Buffer.from([0x1f, 0x8b, 0, 1])), "httpsStreamedFlow");
});

/** A plain live flow to vary: GET in origin form, no response. */
function bare(): HTTPFlow {
  const req = new Request({ method: "GET", host: "example.com", path: "/", form: "origin", headers: [] });
  req.timestampStart = 1_700_000_000.5;
  const flow = new HTTPFlow(client(false), server(false), req);
  flow.timestampCreated = 1_700_000_000.25;
  return flow;
}

function withResponse(flow: HTTPFlow, init: ConstructorParameters<typeof Response>[0] = {}): HTTPFlow {
  flow.response = new Response({ status: 200, ...init });
  flow.response.timestampStart = 1_700_000_001;
  return flow;
}

const SHAPES: Array<[string, () => HTTPFlow]> = [
  ["no response, no headers", bare],
  [
    "whole timestamps (1700000000.0), no end",
    () => {
      const f = withResponse(bare());
      f.timestampCreated = 1_700_000_000;
      f.request.timestampStart = 1_700_000_000;
      return f;
    },
  ],
  [
    "CONNECT (authority form)",
    () => {
      const req = new Request({ method: "CONNECT", host: "example.com", port: 443, form: "authority", path: "" });
      return withResponse(new HTTPFlow(client(false), server(false), req));
    },
  ],
  [
    "CONNECT to an IPv6 address",
    () => {
      const req = new Request({ method: "CONNECT", host: "::1", port: 8443, form: "authority", path: "" });
      return new HTTPFlow(client(false), server(false), req);
    },
  ],
  [
    "absolute form with a port",
    () => {
      const req = new Request({ method: "GET", host: "example.com", port: 8080, path: "/x?y", form: "absolute" });
      return withResponse(new HTTPFlow(client(false), server(false), req), { status: 304, reason: "Not Modified" });
    },
  ],
  [
    "HTTP/2: authority from the Host field",
    () => {
      const f = http2ErrorFlow();
      f.error = undefined;
      return withResponse(f, { httpVersion: "HTTP/2.0", headers: [["content-type", "text/plain"]] });
    },
  ],
  [
    "HTTP/2 without a Host field",
    () => {
      const req = new Request({
        method: "GET",
        scheme: "https",
        host: "h.example",
        port: 443,
        path: "/",
        form: "origin",
      });
      req.httpVersion = "HTTP/2.0";
      return new HTTPFlow(client(true), server(true), req);
    },
  ],
  [
    "an error and a response",
    () => {
      const f = withResponse(bare(), { body: "partial" });
      f.error = { msg: "server closed the connection \u2603", timestamp: 1_700_000_002.75 };
      return f;
    },
  ],
  [
    "trailers both ways, an empty trailer list",
    () => {
      const f = withResponse(bare(), { headers: [["Trailer", "x-sum"]] });
      f.request.trailers = new Headers();
      f.response!.trailers = new Headers([
        ["x-sum", "abc"],
        ["x-more", ""],
      ]);
      return f;
    },
  ],
  [
    "text beyond latin1 in path, header, reason and host",
    () => {
      const f = withResponse(bare(), { reason: "\u00e9t\u00e9 \u2603" });
      f.request.path = "/\u00ff/\u0100/\ud83d\ude00";
      f.request.host = "b\u00fccher.example";
      f.request.headers.fields.push(["X-Snow", "\u2603 \ud800"], ["X-Latin", "\u00fe"]);
      return f;
    },
  ],
  [
    "200 header fields, an empty value, an empty name",
    () => {
      const f = bare();
      for (let i = 0; i < 200; i++) f.request.headers.fields.push([`x-h${i}`, i % 7 === 0 ? "" : `v${i}`]);
      f.request.headers.fields.push(["", "odd"]);
      return f;
    },
  ],
  [
    "replayed, marked, commented with UTF-8",
    () => {
      const f = withResponse(bare());
      f.isReplay = "response";
      f.marked = ":red_circle:";
      f.comment = "z\u00fcrich \u{1f600}";
      return f;
    },
  ],
  [
    "metadata with bytes and a class instance (left out with warnings in some versions)",
    () => {
      const f = withResponse(bare());
      f.metadata = { raw: Buffer.from([0, 255]), when: new Date(0), fn: () => 1, list: [1.5, -2, 2 ** 60], n: null };
      return f;
    },
  ],
  [
    "metadata whose only value is undefined",
    () => {
      const f = bare();
      f.metadata = { gone: undefined };
      return f;
    },
  ],
  [
    "port 0, status 999, a negative and a huge number in odd places",
    () => {
      const f = withResponse(bare(), { status: 999 });
      f.request.port = 0;
      f.request.timestampEnd = -1.5;
      f.response!.timestampEnd = 1e22;
      return f;
    },
  ],
  [
    "a streamed response (content null) and an empty buffered request body",
    () => {
      const f = withResponse(bare());
      f.response!.stream = true;
      return f;
    },
  ],
  [
    "a TLS client and server with every field",
    () => {
      const req = new Request({
        method: "POST",
        scheme: "https",
        host: "example.com",
        port: 443,
        path: "/",
        body: "x",
      });
      return withResponse(new HTTPFlow(client(true), server(true), req), { body: Buffer.alloc(1000, 7) });
    },
  ],
];

test("flows of every shape: the same bytes and warnings as encodeFlow in every version", () => {
  for (const [what, make] of SHAPES) assertSame(make(), what);
});

test("2,000 seeded random flows: the same bytes and warnings as encodeFlow in every version", () => {
  const rnd = prng(20261203);
  for (let i = 0; i < 2000; i++) {
    const flow = randomFlow(rnd);
    for (const version of VERSIONS) {
      const r = bothWays(flow, version);
      assert.ok(r.layout, `random flow ${i} v${version}: declined`);
      if (!r.layout.equals(r.generic)) {
        assert.equal(r.layout.toString("latin1"), r.generic.toString("latin1"), `random flow ${i} v${version}`);
      }
      assert.equal(r.layoutWarnings, r.genericWarnings, `random flow ${i} v${version}: warnings`);
    }
  }
});

test("a warning's listener that encodes other flows meanwhile does not disturb the flow being written", () => {
  const flow = withResponse(bare());
  flow.metadata = { when: new Date(0), n: 1 };
  const other = http1Flow();
  const expected = encodeFlow(flow);
  let nested = 0;
  const layout = new LiveHttpLayout(17, new ConnStateCache(17), () => {
    nested++;
    encodeFlow(other);
    new LiveHttpLayout(17, new ConnStateCache(17), undefined).encode(other);
  });
  assert.equal(layout.encode(flow, true)!.toString("latin1"), expected.toString("latin1"));
  assert.is(nested, 1);
});

test("what the layout leaves to the generic path: WebSocket flows, flows read from a file, flows too large", () => {
  const layout = new LiveHttpLayout(17, new ConnStateCache(17), undefined);
  assert.is(layout.encode(websocketFlow()), undefined);
  const read = withResponse(bare());
  read.carried = { flow: { intercepted: true } };
  assert.is(layout.encode(read), undefined);
  const big = withResponse(bare(), { body: Buffer.alloc(300 * 1024, 0x61) });
  assert.is(layout.encode(big), undefined, "larger than the scratch");
  // A connection the cache cannot follow (an object two levels deep).
  const deep = bare();
  (deep.client as unknown as Record<string, unknown>).extra = { nested: { x: 1 } };
  assert.is(layout.encode(deep), undefined);
  // The writer still writes each of them, through the generic path.
  for (const f of [websocketFlow(), read, big, deep]) assert.ok(encodeFlow(f).length > 0);
});

test("Backwards: each step writes what encodeTNet writes for the value", () => {
  const cases: Array<[(w: Backwards) => void, Parameters<typeof encodeTNet>[0]]> = [
    [(w) => w.int(0), 0],
    [(w) => w.int(65535), 65535],
    [(w) => w.int(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
    [(w) => w.int(-7), -7],
    [(w) => w.int(2 ** 60), 2 ** 60],
    [(w) => w.int(1.5), 1.5],
    [(w) => w.float(1_700_000_000), new TNetFloat(1_700_000_000)],
    [(w) => w.float(0.1), new TNetFloat(0.1)],
    [(w) => w.float(-0), new TNetFloat(-0)],
    [(w) => w.float(1e21), new TNetFloat(1e21)],
    [(w) => w.float(1e-7), new TNetFloat(1e-7)],
    [(w) => w.float(NaN), new TNetFloat(NaN)],
    [(w) => w.float(-Infinity), new TNetFloat(-Infinity)],
    [(w) => w.null(), null],
    [(w) => w.bool(true), true],
    [(w) => w.bool(false), false],
    [(w) => w.value("caf\u00e9"), "caf\u00e9"],
    [(w) => w.bytes(Buffer.from([0, 1, 2])), Buffer.from([0, 1, 2])],
    [
      (w) => {
        const end = w.close(0x5d);
        w.value("b");
        w.int(1);
        w.open(end);
      },
      [1, "b"],
    ],
    [
      (w) => {
        const end = w.close(0x7d);
        w.null();
        w.value("k");
        w.open(end);
      },
      { k: null },
    ],
  ];
  cases.forEach(([write, value], i) => assert.equal(encodeBackwards(write, undefined), encodeTNet(value), `case ${i}`));
});

test("Backwards: timestamps (whole milliseconds written from their digits) as String() writes them", () => {
  const rnd = prng(7);
  const xs = [
    0.001,
    0.005,
    0.01,
    0.1,
    0.999,
    1,
    1.5,
    9.99,
    10,
    123.4,
    1_700_000_000,
    1_700_000_000.1,
    1_700_000_000.01,
    1_700_000_000.001,
    1_700_000_000.999,
    1e9 - 0.001,
    999_999_999_999.999,
    1e12,
    1e12 + 0.5,
    1_700_000_000.123456,
    0,
    -0.5,
    -1_700_000_000.25,
    2 ** -20,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    4.35e-7,
  ];
  for (let i = 0; i < 100_000; i++) {
    const scale = [1, 1e3, 1e6, 1e9, 1e12, 1e15][i % 6]!;
    xs.push(Math.floor(rnd() * scale) / 1000);
  }
  for (const x of xs) {
    const got = encodeBackwards((w) => w.float(x), undefined)!;
    const want = encodeTNet(new TNetFloat(x));
    if (!got.equals(want)) assert.is(got.toString(), want.toString(), `float ${x}`);
  }
});

test("Backwards: running out of room gives undefined, never a cut value; other errors pass through", () => {
  assert.is(
    encodeBackwards((w) => w.bytes(Buffer.alloc(256 * 1024)), undefined),
    undefined,
  );
  assert.is(
    encodeBackwards((w) => {
      for (let i = 0; i < 100_000; i++) w.int(i);
    }, undefined),
    undefined,
  );
  assert.throws(() => encodeBackwards((w) => w.value(undefined as never), undefined), /cannot encode/);
  // The scratch is whole again after a failure.
  assert.equal(
    encodeBackwards((w) => w.value("ok"), undefined),
    encodeTNet("ok"),
  );
});

test.run();
