// A FlowWriter encodes each live connection once and reuses it while the connection is
// unchanged (sdk/src/flowfile/conn-cache.ts). What it writes must be, byte for byte, what
// encodeFlow writes for each flow on its own, whatever happened to the connection between flows.
import { Writable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HTTPFlow } from "@interloper/sdk";
import { encodeFlow, FlowWriter, type AnyFlow, type FlowFormatVersion } from "@interloper/sdk";
import { snapshot, unchanged } from "../../sdk/src/flowfile/conn-cache.ts";
import { downgrade as downgradeFlowState } from "../../sdk/src/flowfile/compat.ts";
import { flowToState } from "../../sdk/src/flowfile/state-write.ts";
import { encodeTNet } from "../../sdk/src/flowfile/tnetstring.ts";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow, tcpFlow, websocketFlow } from "../helpers/flowfile.ts";

const VERSIONS: FlowFormatVersion[] = [17, 18, 19, 20, 21];

/** Writes each flow with one writer, right after `before(i)`; returns what it wrote per flow, and what encodeFlow gives. */
async function writeBoth(
  flows: AnyFlow[],
  version: FlowFormatVersion,
  before: (i: number) => void = () => {},
): Promise<{ written: Buffer[]; alone: Buffer[] }> {
  const written: Buffer[] = [];
  const alone: Buffer[] = [];
  const out = new Writable({
    writev(chunks, done) {
      for (const c of chunks) written.push(c.chunk as Buffer);
      done();
    },
  });
  const writer = new FlowWriter(out, { version });
  for (let i = 0; i < flows.length; i++) {
    before(i);
    await writer.add(flows[i]!);
    alone.push(encodeFlow(flows[i]!, { version }));
  }
  await writer.close();
  return { written, alone };
}

/** `count` copies of `make()`'s flow on one client and one server connection. */
function sameConnection(make: () => AnyFlow, count: number): AnyFlow[] {
  const first = make();
  return Array.from({ length: count }, (_, i) => {
    if (i === 0) return first;
    const f = make();
    (f as { client: unknown }).client = first.client;
    f.server = first.server;
    return f;
  });
}

test("every kind of flow, every version: the same bytes as encodeFlow, flow after flow on one connection", async () => {
  const makers = [http1Flow, http2ErrorFlow, () => httpsStreamedFlow(Buffer.from("gz")), websocketFlow, tcpFlow];
  for (const version of VERSIONS) {
    for (const make of makers) {
      const { written, alone } = await writeBoth(sameConnection(make, 4), version);
      assert.equal(Buffer.concat(written), Buffer.concat(alone), `${make.name} v${version}`);
    }
  }
});

test("the bytes equal the state's own encoding (flowToState's Buffers for byte fields), text above U+00FF included", async () => {
  const odd = http1Flow();
  odd.request.headers.fields.push(["X-Made-By-An-Addon", "caf\u00e9 \u2603 \ud83d\ude00 \ud800"]);
  odd.request.path = "/\u00ff/\u0100";
  odd.response!.reason = "\u00e9t\u00e9";
  // Larger than the encoder's 256 KiB scratch: its two-pass path.
  const big = http1Flow();
  big.request.headers.fields.push(["X-Snow", "\u2603"]);
  big.response!.body = Buffer.alloc(300 * 1024, 0x61);
  const makers = [
    http1Flow,
    http2ErrorFlow,
    () => httpsStreamedFlow(Buffer.from("gz")),
    websocketFlow,
    tcpFlow,
    () => odd,
  ];
  for (const version of VERSIONS) {
    for (const make of makers) {
      const flow = make();
      const state = downgradeFlowState(flowToState(flow, { metadataBytes: version >= 19 }), version);
      assert.equal(encodeFlow(flow, { version }), encodeTNet(state), `${make.name} v${version}`);
    }
  }
});

test("a connection changed between flows (TLS set up, closed, fields added or changed in place) is encoded again", async () => {
  const flows = sameConnection(http1Flow, 9);
  const c = flows[0]!.client;
  const s = flows[0]!.server;
  const changes: Array<() => void> = [
    () => {},
    () => {
      c.tlsVersion = "TLSv1.3";
      c.sni = "a.example";
    },
    () => void (c.timestampEnd = 1_700_000_123.5),
    () => void (c.peername.port = 1), // in place, one level down
    () => {
      c.alpnOffers = ["h2"];
    },
    () => void c.alpnOffers!.push("http/1.1"), // an array changed in place
    () => void (s.error = "connection reset"),
    () => void delete s.error,
    () => void (s.address = { host: "other.example", port: 8443 }),
  ];
  for (const version of VERSIONS) {
    const { written, alone } = await writeBoth(flows, version, (i) => changes[i]!());
    written.forEach((w, i) => assert.equal(w, alone[i], `flow ${i} v${version}`));
  }
});

test("a flow read from a file keeps what it carried for its connections, beside live flows of the same connection", async () => {
  const [live, read] = sameConnection(http1Flow, 2) as [HTTPFlow, HTTPFlow];
  read.carried = { client_conn: { cipher_list: ["A", "B"], transport_protocol: "tcp" } };
  const { written, alone } = await writeBoth([live, read, live], 17);
  written.forEach((w, i) => assert.equal(w, alone[i], `flow ${i}`));
  assert.ok(written[1]!.includes("cipher_list") && !written[0]!.equals(written[1]!));
});

test("snapshot and unchanged: leaves, arrays and plain objects are followed; anything deeper is not cached", () => {
  const conn: Record<string, unknown> = { a: 1, b: "x", c: null, d: [1, "2"], e: { host: "h", port: 1 } };
  const seen = snapshot(conn)!;
  assert.ok(unchanged(conn, seen));
  (conn.d as unknown[])[1] = "3";
  assert.not.ok(unchanged(conn, seen));
  (conn.d as unknown[])[1] = "2";
  assert.ok(unchanged(conn, seen));
  (conn.e as Record<string, unknown>).extra = true;
  assert.not.ok(unchanged(conn, seen));
  delete (conn.e as Record<string, unknown>).extra;
  conn.f = undefined;
  assert.not.ok(unchanged(conn, seen), "a key added, even undefined");
  delete conn.f;
  assert.ok(unchanged(conn, seen));
  // An undefined field swapped for another undefined one: as many keys, not the same ones.
  const loose: Record<string, unknown> = { a: undefined, b: 1 };
  const looseSeen = snapshot(loose)!;
  assert.ok(unchanged(loose, looseSeen));
  delete loose.a;
  loose.c = undefined;
  assert.not.ok(unchanged(loose, looseSeen));
  assert.is(snapshot({ a: { b: { c: 1 } } }), undefined);
  assert.is(snapshot({ a: [[1]] }), undefined);
  assert.is(snapshot({ a: new Date(0) }), undefined);
});

test.run();
