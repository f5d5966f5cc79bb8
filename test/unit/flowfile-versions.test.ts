// Flow files written by mitmproxy itself, one per format version releases wrote
// (17: 8.1.1, 18: 9.0.1, 20: 10.4.2, 21: 11.0.2; test/fixtures/flowfile/make-fixtures.py
// says how they were made): read into sdk flows, DNS and UDP flows skipped with a
// warning, and written again in the same version as the same state mitmproxy wrote.
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  decodeTNetPrefix,
  encodeFlow,
  readFlowFile,
  readFlows,
  TNetFloat,
  type AnyFlow,
  type FlowFormatVersion,
  type HTTPFlow,
  type TCPFlow,
  type TNetDict,
  type TNetValue,
} from "@interloper/sdk";
import { ROOT } from "../helpers/harness.ts";

const FIXTURES = `${ROOT}test/fixtures/flowfile`;
const VERSIONS: FlowFormatVersion[] = [17, 18, 20, 21];

async function read(version: number): Promise<{ flows: AnyFlow[]; warnings: string[] }> {
  const warnings: string[] = [];
  const flows: AnyFlow[] = [];
  for await (const f of readFlowFile(`${FIXTURES}/v${version}.mitm`, { onWarning: (m) => warnings.push(m) }))
    flows.push(f);
  return { flows, warnings };
}

for (const version of VERSIONS) {
  test(`version ${version}: HTTP, HTTP/2, WebSocket and TCP flows as mitmproxy wrote them`, async () => {
    const { flows, warnings } = await read(version);
    assert.equal(
      flows.map((f) => f.type),
      ["http", "http", "http", "http", "tcp", "tcp"],
    );
    const skipped = version === 17 ? ["dns"] : ["dns", "udp"];
    assert.equal(
      warnings.map((w) => /skipped the flow at byte \d+: an? (\w+) flow \(interloper has no \1 flows\)$/.exec(w)?.[1]),
      skipped,
      warnings.join("\n"),
    );
    const [plain, failed, h2, ws] = flows as HTTPFlow[];
    const tcp = flows[4] as TCPFlow;
    assert.is(plain!.request.url, "http://address:22/path");
    assert.is(plain!.request.method, "GET");
    assert.is(plain!.marked, ":star:");
    assert.is(plain!.comment, "a comment");
    assert.is(plain!.isReplay, "request");
    assert.equal(plain!.metadata, { key: "value", n: 1, nested: { list: [1, 2.5, null, true] } });
    assert.is(plain!.request.headers.get("x-raw"), "\u00ff\u00fe latin", "header bytes kept one per character");
    assert.is(plain!.response!.status, 200);
    assert.ok(plain!.response!.body.equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i))));
    assert.is(plain!.server.address.host, "address");
    assert.equal(plain!.server.peername, { host: "192.168.0.1", port: 22 });
    assert.is(plain!.server.timestampTcpSetup, 946681203);
    assert.is(plain!.client.timestampTlsSetup, 946681201);
    assert.is(plain!.client.mode, "regular");
    assert.is(failed!.error?.msg, "error");
    assert.is(failed!.response, undefined);
    assert.is(h2!.request.httpVersion, "HTTP/2.0");
    assert.equal(h2!.request.headers.fields[0], ["host", "example.org:8443"], ":authority became the Host field");
    assert.equal(
      ws!.websocket!.messages.map((m) => [m.fromClient, m.type, m.content.toString(), m.timestamp]),
      [
        [true, "binary", "hello binary", 946681203],
        [true, "text", "hello text", 946681204],
        [false, "text", "it's me", 946681205],
      ],
    );
    assert.equal(
      [ws!.websocket!.closeCode, ws!.websocket!.closeReason, ws!.websocket!.closedByClient],
      [1000, "", false],
    );
    assert.equal(
      tcp.messages.map((m) => [m.fromClient, m.content.toString()]),
      [
        [true, "hello"],
        [false, "it's me"],
      ],
    );
    assert.is((flows[5] as TCPFlow).error?.msg, "error");
  });

  test(`version ${version}: written again in the same version, the state is the one mitmproxy wrote`, async () => {
    const original = statesOf(readFileSync(`${FIXTURES}/v${version}.mitm`)).filter(
      (s) => s.type === "http" || s.type === "tcp",
    );
    const again: TNetDict[] = [];
    for await (const f of readFlows([readFileSync(`${FIXTURES}/v${version}.mitm`)])) {
      again.push(statesOf(encodeFlow(f, { version }))[0]!);
    }
    assert.is(again.length, original.length);
    for (let i = 0; i < original.length; i++) assert.equal(plain(again[i]!), plain(original[i]!), `flow ${i}`);
  });
}

function statesOf(buf: Buffer): TNetDict[] {
  const out: TNetDict[] = [];
  for (let pos = 0; pos < buf.length;) {
    const { value, end } = decodeTNetPrefix(buf, pos);
    out.push(value as TNetDict);
    pos = end;
  }
  return out;
}

/** mitmproxy's test flows have whole-second timestamps it wrote as ints; an sdk timestamp is written as a float. */
function plain(v: TNetValue): unknown {
  if (v instanceof TNetFloat) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object" && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v as TNetDict).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

test.run();
