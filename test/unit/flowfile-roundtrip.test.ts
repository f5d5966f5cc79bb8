// Flows of every kind written to mitmproxy's flow format (every version this
// sdk writes) and read back: equal field by field. Also the shape of what is
// written (mitmproxy's exact fields and types for version 17 and 21), the
// streaming writer (one flow per write, appending), and flow.copy().
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import * as zlib from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  decodeTNet,
  encodeFlow,
  FlowWriter,
  readFlowFile,
  readFlows,
  TNetFloat,
  writeFlowFile,
  type AnyFlow,
  type FlowFormatVersion,
  type TNetDict,
} from "@interloper/sdk";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow, snapshot, tcpFlow, websocketFlow } from "../helpers/flowfile.ts";

const dir = mkdtempSync(join(tmpdir(), "interloper-flowfile-"));
const VERSIONS: FlowFormatVersion[] = [17, 18, 19, 20, 21];

function everyKind(): AnyFlow[] {
  return [
    http1Flow(),
    http2ErrorFlow(),
    httpsStreamedFlow(zlib.gzipSync("<html>hello</html>")),
    websocketFlow(),
    tcpFlow(),
  ];
}

async function collect(source: AsyncIterable<AnyFlow>): Promise<AnyFlow[]> {
  const out: AnyFlow[] = [];
  for await (const f of source) out.push(f);
  return out;
}

function bytesOf(flows: AnyFlow[], version: FlowFormatVersion): Buffer {
  return Buffer.concat(flows.map((f) => encodeFlow(f, { version })));
}

for (const version of VERSIONS) {
  test(`version ${version}: every kind of flow is read back equal, field by field`, async () => {
    const flows = everyKind();
    const read = await collect(readFlows([bytesOf(flows, version)]));
    assert.is(read.length, flows.length);
    for (let i = 0; i < flows.length; i++) {
      assert.equal(snapshot(read[i]!), snapshot(flows[i]!), `flow ${i} (${flows[i]!.type})`);
      // Everything an sdk flow holds is modelled: nothing needs carrying.
      assert.is(read[i]!.carried, undefined, `flow ${i} carries nothing`);
      assert.is(read[i]!.live, false);
    }
  });
}

test("what was read and is written again is the same file, byte for byte (version 17 and 21)", async () => {
  for (const version of [17, 21] as const) {
    const first = bytesOf(everyKind(), version);
    const again = bytesOf(await collect(readFlows([first])), version);
    assert.ok(again.equals(first), `version ${version}`);
  }
});

/** mitmproxy 8.1.1's Flow/Client/Server/Request state keys, exactly (it refuses others when loading). */
const V17_KEYS = {
  flow: "client_conn comment error id intercepted is_replay marked metadata request response server_conn timestamp_created type version websocket",
  client:
    "address alpn alpn_offers certificate_list cipher_list cipher_name error id mitmcert sni sockname state timestamp_end timestamp_start timestamp_tls_setup tls tls_established tls_extensions tls_version",
  server:
    "address alpn alpn_offers certificate_list cipher_list cipher_name error id ip_address sni source_address state timestamp_end timestamp_start timestamp_tcp_setup timestamp_tls_setup tls tls_established tls_version via via2",
  request: "authority content headers host http_version method path port scheme timestamp_end timestamp_start trailers",
};
const V21_KEYS = {
  flow: "backup client_conn comment error id intercepted is_replay marked metadata request response server_conn timestamp_created type version websocket",
  client:
    "alpn alpn_offers certificate_list cipher cipher_list error id mitmcert peername proxy_mode sni sockname timestamp_end timestamp_start timestamp_tls_setup tls tls_version transport_protocol",
  server:
    "address alpn alpn_offers certificate_list cipher cipher_list error id peername sni sockname timestamp_end timestamp_start timestamp_tcp_setup timestamp_tls_setup tls tls_version transport_protocol via",
  request: V17_KEYS.request,
};

function keys(d: unknown): string {
  return Object.keys(d as TNetDict)
    .sort()
    .join(" ");
}

test("the fields written are mitmproxy's, with its types: bytes, str, floats for timestamps", () => {
  for (const [version, expected] of [
    [17, V17_KEYS],
    [21, V21_KEYS],
  ] as const) {
    const state = decodeTNet(encodeFlow(http1Flow(), { version })) as TNetDict;
    assert.is(keys(state), expected.flow, `v${version} flow`);
    assert.is(keys(state.client_conn), expected.client, `v${version} client`);
    assert.is(keys(state.server_conn), expected.server, `v${version} server`);
    assert.is(keys(state.request), expected.request, `v${version} request`);
    assert.is(state.version, version);
    const req = state.request as TNetDict;
    assert.ok(Buffer.isBuffer(req.method) && Buffer.isBuffer(req.path) && Buffer.isBuffer(req.authority));
    assert.type(req.host, "string");
    assert.ok(req.timestamp_start instanceof TNetFloat);
    // Absolute form: mitmproxy's authority is the target's.
    assert.equal(req.authority, Buffer.from("example.com"));
    const headers = req.headers as Buffer[][];
    assert.equal(headers[2], [Buffer.from("X-Latin"), Buffer.from("caf\u00e9 \u00ff\u00fe", "latin1")]);
  }
  const tcp = decodeTNet(encodeFlow(tcpFlow(), { version: 17 })) as TNetDict;
  assert.equal(
    (tcp.messages as unknown[][]).map((m) => m.length),
    [3, 3],
  );
  assert.not.ok("backup" in tcp, "mitmproxy 8 writes no backup field when there is none");
});

test("a streamed body is mitmproxy's content None; metadata bytes are left out for version 17, kept for 21", () => {
  const flow = httpsStreamedFlow(Buffer.from("x"));
  flow.metadata = { raw: Buffer.from([1, 2]), fn: () => 1, ok: "yes" };
  const warnings: string[] = [];
  const v17 = decodeTNet(encodeFlow(flow, { version: 17, onWarning: (m) => warnings.push(m) })) as TNetDict;
  assert.is((v17.request as TNetDict).content, null);
  assert.equal(v17.metadata, { ok: "yes" });
  assert.equal(warnings, [
    "metadata.raw left out of the flow file: bytes, which mitmproxy 9 and older refuse in metadata",
    "metadata.fn left out of the flow file: a function",
  ]);
  const v21 = decodeTNet(encodeFlow(flow, { version: 21 })) as TNetDict;
  assert.equal(v21.metadata, { raw: Buffer.from([1, 2]), ok: "yes" });
});

test("fields the sdk does not model (via, cipher_list, intercepted, an authority as written) survive read and write", async () => {
  const state = decodeTNet(encodeFlow(http1Flow(), { version: 21 })) as TNetDict;
  (state.server_conn as TNetDict).via = ["http", ["proxy.local", 3128]];
  (state.server_conn as TNetDict).cipher_list = ["A", "B"];
  (state.client_conn as TNetDict).mitmcert = Buffer.from("PEM");
  (state.request as TNetDict).authority = Buffer.from("example.com:80");
  state.intercepted = true;
  const { encodeTNet } = await import("@interloper/sdk");
  const [flow] = await collect(readFlows([encodeTNet(state)]));
  const again = decodeTNet(encodeFlow(flow!, { version: 21 })) as TNetDict;
  assert.equal(again, state);
  // A changed destination drops the old authority (it would lie about the new one).
  (flow as ReturnType<typeof http1Flow>).request.host = "other.example";
  const moved = decodeTNet(encodeFlow(flow!, { version: 21 })) as TNetDict;
  assert.equal((moved.request as TNetDict).authority, Buffer.from("other.example"));
});

test("FlowWriter: one flow per write, appending to a file; readFlowFile reads them all", async () => {
  const path = join(dir, "append.mitm");
  const first = await FlowWriter.open(path);
  await first.add(http1Flow());
  await first.close();
  const second = await FlowWriter.open(path, { append: true, version: 21 });
  await second.add(tcpFlow());
  await second.add(websocketFlow());
  await second.close();
  const read = await collect(readFlowFile(path));
  assert.equal(
    read.map((f) => f.type),
    ["http", "tcp", "http"],
  );

  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const writer = new FlowWriter(out);
  const flows = everyKind();
  for (const f of flows) await writer.add(f);
  await writer.close();
  assert.is(chunks.length, flows.length, "one write per flow");
  assert.ok(chunks[0]!.equals(encodeFlow(flows[0]!)));
});

test("FlowWriter.write says when the output is behind; drained() settles once it caught up, in order", async () => {
  // A PassThrough nobody reads holds what is written: the writer must say so instead of growing unseen.
  const out = new PassThrough({ highWaterMark: 4096 });
  const writer = new FlowWriter(out);
  const flow = http1Flow();
  const size = encodeFlow(flow).length;
  let written = 0;
  let more = true;
  while (more && written < 10_000) {
    more = writer.write(flow);
    written++;
  }
  assert.is(more, false);
  assert.ok(written * size >= 4096 && written <= Math.ceil(4096 / size) + 1, `${written} writes of ${size} bytes`);
  let settled = false;
  const drained = writer.drained().then(() => void (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.is(settled, false, "nothing read yet");
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await drained;
  assert.ok(Buffer.concat(chunks).equals(Buffer.concat(Array.from({ length: written }, () => encodeFlow(flow)))));
  // Caught up: no wait.
  await writer.drained();
  await writer.close();
  assert.throws(() => writer.write(flow), /closed/);
});

test("a crash in the middle of a write leaves the flows before it readable", async () => {
  const path = join(dir, "crash.mitm");
  await writeFlowFile(path, everyKind());
  const whole = readFileSync(path);
  const lastStart = whole.length - encodeFlow(tcpFlow()).length;
  writeFileSync(path, whole.subarray(0, lastStart + 100));
  const got: AnyFlow[] = [];
  const err = await (async () => {
    for await (const f of readFlowFile(path)) got.push(f);
  })().catch((e: unknown) => e as Error);
  assert.is(got.length, 4);
  assert.instance(err, Error);
  assert.match((err as Error).message, new RegExp(`crash\\.mitm: damaged at byte ${lastStart}: `));
});

test("flow.copy(): a new id, not live, and nothing shared that one could change under the other", () => {
  for (const flow of everyKind()) {
    const copy = flow.copy();
    assert.is.not(copy.id, flow.id);
    assert.is(copy.live, false);
    assert.equal({ ...snapshot(copy), id: flow.id }, { ...snapshot(flow), id: flow.id });
    copy.client.peername.port = 1;
    copy.server.address.host = "changed";
    copy.metadata.added = true;
    if (copy.type === "http" && flow.type === "http") {
      copy.request.headers.set("Host", "changed");
      copy.request.body[0] = (copy.request.body[0] ?? 0) ^ 0xff;
      copy.response?.headers.append("X-Copy", "1");
      copy.websocket?.messages[0]!.content.fill(0);
      assert.not.equal(snapshot(copy).request, snapshot(flow).request);
    }
    if (copy.type === "tcp" && flow.type === "tcp") copy.messages[0]!.content.fill(0);
    assert.is.not(flow.client.peername.port, 1);
    assert.is.not(flow.server.address.host, "changed");
    assert.not.ok("added" in flow.metadata);
    if (flow.type === "http") assert.is.not(flow.request.headers.get("host"), "changed");
  }
  const killedCopy = http2ErrorFlow().copy();
  killedCopy.kill();
  assert.ok(killedCopy.killed);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
