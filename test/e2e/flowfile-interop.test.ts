// Flow files between interloper's sdk and the real mitmproxy (Debian's mitmdump
// 8.1.1): real traffic (HTTP/1, HTTPS, HTTP/2, WebSocket, raw TCP) through
// mitmdump -w is read by the sdk's reader; flows the sdk writes are read by
// mitmdump -nr and printed by a script of ours; HAR from mitmproxy's own
// har_dump.py and from the sdk's writer read back. Everything on loopback.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HarWriter, readFlowFile, writeFlowFile, type AnyFlow, type HTTPFlow, type TCPFlow } from "@interloper/sdk";
import { openTunnel } from "../helpers/clients.ts";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow, tcpFlow, websocketFlow } from "../helpers/flowfile.ts";
import { closeSession, h2Get, h2ViaProxy, startH2Origin, type H2Origin } from "../helpers/h2.ts";
import { curl, removeDir, startOrigin, tempDir, within, type Origin } from "../helpers/harness.ts";
import { runMitmdump, startMitmdump } from "../helpers/mitmdump.ts";
import { startEcho, type EchoServer } from "../helpers/modes.ts";
import { startWsOrigin, WsClient, type WsOrigin } from "../helpers/ws.ts";

const HAR_DUMP = "/usr/share/doc/mitmproxy/examples/contrib/har_dump.py";
const dir = tempDir("interloper-interop-");
const capture = join(dir, "capture.mitm");
const mitmHar = join(dir, "mitmproxy.har");
const BIN = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
const UPLOAD = createHash("sha512").update("upload").digest();

let http: Origin;
let https: Origin;
let h2: H2Origin;
let ws: WsOrigin;
let echo: EchoServer;
const captured: AnyFlow[] = [];

function handler(req: { url?: string }, res: ServerResponse, body: Buffer): void {
  if (req.url?.startsWith("/bin")) {
    // A latin1 byte in a field value: Node writes it as the single byte 0xE9.
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": BIN.length,
      "X-Latin": "caf\u00e9",
    });
    res.end(BIN);
  } else {
    res.writeHead(201, "Made", { "Content-Type": "application/octet-stream", "Content-Length": body.length });
    res.end(Buffer.from(body).reverse());
  }
}

/** A raw proxy request, so that a header can carry bytes curl's arguments cannot (0xFF). */
function rawRequest(proxyPort: number, head: Buffer): Promise<Buffer> {
  return within(
    new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ port: proxyPort, host: "127.0.0.1" }, () => s.write(head));
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.once("error", reject);
      s.once("close", () => resolve(Buffer.concat(chunks)));
    }),
    "the raw request's response",
  );
}

async function tcpExchange(proxyPort: number): Promise<Buffer> {
  const tunnel = await openTunnel(proxyPort, `127.0.0.2:${echo.port}`);
  assert.is(tunnel.status, 200, tunnel.head);
  const s = tunnel.socket;
  const chunks: Buffer[] = [];
  let got = 0;
  let wake = () => {};
  s.on("data", (c: Buffer) => {
    chunks.push(c);
    got += c.length;
    wake();
  });
  const waitFor = (n: number) =>
    within(
      new Promise<void>((resolve) => {
        wake = () => {
          if (got >= n) resolve();
        };
        wake();
      }),
      "the TCP echo",
    );
  s.resume();
  s.write("tcp hello\n");
  await waitFor(10);
  s.write(Buffer.from([0, 0xff, 0x80, 0x0a]));
  await waitFor(14);
  // Closed outright: mitmdump 8.1.1 does not always pass a half-close on to the server (seen here
  // when the FIN came a moment after the last echo), and the flow is written either way.
  s.destroy();
  return Buffer.concat(chunks);
}

// uvu reports a failing `before` only as tests that did not pass: say why.
test.before(async () => {
  await captureThroughMitmdump().catch((err: unknown) => {
    console.error("setting up the capture failed:", err);
    throw err;
  });
});

async function captureThroughMitmdump(): Promise<void> {
  http = await startOrigin(handler);
  https = await startOrigin(handler, { tls: true });
  h2 = await startH2Origin((_req, res) => {
    res.setHeader("x-h2", "yes");
    res.end("over h2");
  });
  ws = await startWsOrigin();
  echo = await startEcho({ host: "127.0.0.2" });
  const confdir = join(dir, "conf");
  const args = ["--set", `confdir=${confdir}`, "-w", capture, "--ssl-insecure", "--set", "tcp_hosts=^127\\.0\\.0\\.2$"];
  if (existsSync(HAR_DUMP)) args.push("-s", HAR_DUMP, "--set", `hardump=${mitmHar}`);
  const mitm = await startMitmdump(args);
  try {
    const ca = readFileSync(join(confdir, "mitmproxy-ca-cert.pem"), "utf8");
    const echoed = await tcpExchange(mitm.port);
    assert.is(echoed.toString("latin1"), "tcp hello\n\u0000\u00ff\u0080\n");
    const raw = await rawRequest(
      mitm.port,
      Buffer.concat([
        Buffer.from(`GET http://127.0.0.1:${http.port}/bin HTTP/1.1\r\nHost: 127.0.0.1:${http.port}\r\nX-Raw: `),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("\r\nConnection: close\r\n\r\n"),
      ]),
    );
    assert.ok(
      raw.subarray(raw.length - BIN.length).equals(BIN),
      `the binary body came through mitmdump: ${raw.subarray(0, 300).toString("latin1")}`,
    );
    const upload = join(dir, "upload.bin");
    writeFileSync(upload, UPLOAD);
    const posted = await curl([
      "-x",
      `http://127.0.0.1:${mitm.port}`,
      "--cacert",
      join(confdir, "mitmproxy-ca-cert.pem"),
      "-H",
      "Content-Type: application/octet-stream",
      "--data-binary",
      `@${upload}`,
      `https://localhost:${https.port}/post`,
    ]);
    assert.is(posted.code, 0, posted.stderr);
    assert.ok(posted.stdout.equals(Buffer.from(UPLOAD).reverse()));
    const { session } = await h2ViaProxy(mitm.port, `127.0.0.1:${h2.port}`, ca, { servername: "localhost" });
    const h2res = await h2Get(session, { ":method": "GET", ":path": "/h2?x=1", ":authority": `localhost:${h2.port}` });
    assert.is(h2res.body.toString(), "over h2");
    await closeSession(session);
    const tunnel = await openTunnel(mitm.port, `127.0.0.1:${ws.port}`);
    const client = await WsClient.open(`ws://127.0.0.1:${ws.port}/chat`, {
      socket: tunnel.socket,
      perMessageDeflate: false,
    });
    client.send("hello ws");
    client.send(Buffer.from([0, 1, 2, 255]), true);
    await client.waitMessages(2);
    client.ws.close(1000, "bye");
    await client.waitClosed();
  } finally {
    await mitm.stop();
  }
  for await (const f of readFlowFile(capture)) captured.push(f);
}

test.after(async () => {
  await Promise.all([http?.close(), https?.close(), h2?.close(), ws?.close(), echo?.close()]);
  removeDir(dir);
});

function httpFlow(path: string): HTTPFlow {
  const f = captured.find((x): x is HTTPFlow => x.type === "http" && x.request.path.startsWith(path));
  if (!f) throw new Error(`no flow for ${path} among ${captured.length}`);
  return f;
}

test("mitmdump's capture: HTTP/1 with its exact bytes, including a non-UTF-8 header byte", () => {
  assert.is(captured.length, 5, captured.map((f) => (f.type === "http" ? f.request.url : "tcp")).join(", "));
  const f = httpFlow("/bin");
  assert.is(f.request.method, "GET");
  assert.is(f.request.url, `http://127.0.0.1:${http.port}/bin`);
  assert.is(f.request.form, "absolute");
  assert.is(f.request.headers.get("x-raw"), "\u00ff\u00fe");
  assert.is(f.response?.status, 200);
  assert.is(f.response?.headers.get("x-latin"), "caf\u00e9");
  assert.ok(f.response!.body.equals(BIN));
  for (const t of [
    f.request.timestampStart,
    f.request.timestampEnd,
    f.response!.timestampStart,
    f.response!.timestampEnd,
  ])
    assert.type(t, "number");
  assert.type(f.client.timestampStart, "number");
  assert.type(f.server.timestampTcpSetup, "number");
  assert.equal(f.server.peername, { host: "127.0.0.1", port: http.port });
});

test("mitmdump's capture: HTTPS with the uploaded body, the server's certificate and TLS facts", () => {
  const f = httpFlow("/post");
  assert.is(f.request.method, "POST");
  assert.is(f.request.url, `https://localhost:${https.port}/post`);
  assert.ok(f.request.body.equals(UPLOAD));
  assert.is(f.response?.status, 201);
  assert.is(f.response?.reason, "Made");
  assert.ok(f.response!.body.equals(Buffer.from(UPLOAD).reverse()));
  assert.ok(f.client.tlsEstablished);
  assert.is(f.client.sni, "localhost");
  assert.ok(f.server.tls && f.server.tlsEstablished);
  assert.type(f.server.timestampTlsSetup, "number");
  assert.match(f.server.certificateList?.[0] ?? "", /^-----BEGIN CERTIFICATE-----/);
});

test("mitmdump's capture: HTTP/2, its :authority as the Host field", () => {
  const f = httpFlow("/h2");
  assert.is(f.request.httpVersion, "HTTP/2.0");
  assert.is(f.request.headers.get("host"), `localhost:${h2.port}`);
  assert.is(f.response?.status, 200);
  assert.is(f.response?.headers.get("x-h2"), "yes");
  assert.is(f.response?.text(), "over h2");
  assert.is(f.client.alpn, "h2");
});

test("mitmdump's capture: WebSocket messages both ways and the close", () => {
  const f = httpFlow("/chat");
  assert.is(f.response?.status, 101);
  // Each direction in order; how the two interleave depends on timing.
  const side = (fromClient: boolean) =>
    f.websocket?.messages.filter((m) => m.fromClient === fromClient).map((m) => [m.type, m.content.toString("hex")]);
  const sent = [
    ["text", Buffer.from("hello ws").toString("hex")],
    ["binary", "000102ff"],
  ];
  assert.equal(side(true), sent);
  assert.equal(side(false), sent);
  for (const m of f.websocket!.messages) assert.type(m.timestamp, "number");
  assert.is(f.websocket?.closeCode, 1000);
  assert.is(f.websocket?.closedByClient, true);
});

test("mitmdump's capture: a raw TCP flow, each direction's bytes", () => {
  const f = captured.find((x): x is TCPFlow => x.type === "tcp")!;
  const side = (fromClient: boolean) =>
    Buffer.concat(f.messages.filter((m) => m.fromClient === fromClient).map((m) => m.content)).toString("latin1");
  assert.is(side(true), "tcp hello\n\u0000\u00ff\u0080\n");
  assert.is(side(false), "tcp hello\n\u0000\u00ff\u0080\n");
  assert.equal(f.server.address, { host: "127.0.0.2", port: echo.port });
});

// ---------------------------------------------------------------- the other way

const DUMP_SCRIPT = `
import json
seen = {}
def request(flow): seen[flow.id] = flow
def tcp_start(flow): seen[flow.id] = flow
def hx(b): return None if b is None else b.hex()
def fields(h): return [[k.hex(), v.hex()] for k, v in h.fields]
def done():
    for f in seen.values():
        d = {"id": f.id, "type": f.type, "marked": f.marked, "comment": f.comment, "is_replay": f.is_replay,
             "metadata": f.metadata, "error": f.error.msg if f.error else None,
             "client": list(f.client_conn.peername), "server": list(f.server_conn.address) if f.server_conn.address else None}
        if f.type == "http":
            d.update(method=f.request.method, url=f.request.url, http_version=f.request.http_version,
                     request_headers=fields(f.request.headers), request_body=hx(f.request.raw_content))
            if f.response:
                d.update(status=f.response.status_code, reason=f.response.reason,
                         response_headers=fields(f.response.headers), response_body=hx(f.response.raw_content))
            if f.websocket:
                d["websocket"] = [[m.from_client, m.is_text, m.content.hex()] for m in f.websocket.messages]
                d["close_code"] = f.websocket.close_code
        else:
            d["messages"] = [[m.from_client, m.content.hex()] for m in f.messages]
        print("FLOW " + json.dumps(d), flush=True)
`;

/** What the script prints for `flow`, from the sdk's side. */
function expected(flow: AnyFlow): Record<string, unknown> {
  const wire = (s: string) => Buffer.from(s, "latin1").toString("hex");
  const d: Record<string, unknown> = {
    id: flow.id,
    type: flow.type,
    marked: flow.marked,
    comment: flow.comment,
    is_replay: flow.isReplay ?? null,
    metadata: flow.metadata,
    error: flow.error?.msg ?? null,
    client: [flow.client.peername.host, flow.client.peername.port],
    server: [flow.server.address.host, flow.server.address.port],
  };
  if (flow.type === "tcp")
    return { ...d, messages: flow.messages.map((m) => [m.fromClient, m.content.toString("hex")]) };
  const { request: req, response: res } = flow;
  // A Host field the reader made of HTTP/2's :authority goes back into the authority, not the fields.
  const fields = flow.carried?.request?.syntheticHost ? req.headers.fields.slice(1) : req.headers.fields;
  Object.assign(d, {
    method: req.method,
    url: req.url,
    http_version: req.httpVersion,
    request_headers: fields.map(([k, v]) => [wire(k), wire(v)]),
    request_body: req.stream && req.body.length === 0 ? null : req.body.toString("hex"),
  });
  if (res) {
    Object.assign(d, {
      status: res.status,
      reason: res.reason,
      response_headers: res.headers.fields.map(([k, v]) => [wire(k), wire(v)]),
      response_body: res.body.toString("hex"),
    });
  }
  if (flow.websocket) {
    d.websocket = flow.websocket.messages.map((m) => [m.fromClient, m.type === "text", m.content.toString("hex")]);
    d.close_code = flow.websocket.closeCode ?? null;
  }
  return d;
}

test("flows the sdk writes (version 17) are read by mitmdump 8.1.1: URLs, status codes, fields, bodies, messages", async () => {
  const flows: AnyFlow[] = [
    ...captured,
    http1Flow(),
    http2ErrorFlow(),
    httpsStreamedFlow(Buffer.from("plain")),
    websocketFlow(),
    tcpFlow(),
  ];
  const file = join(dir, "written.mitm");
  await writeFlowFile(file, flows);
  const script = join(dir, "dump_flows.py");
  writeFileSync(script, DUMP_SCRIPT);
  const { code, output } = await runMitmdump(["-nr", file, "-s", script, "--set", "flow_detail=0"]);
  assert.is(code, 0, output);
  const printed = new Map<string, Record<string, unknown>>();
  for (const line of output.split("\n")) {
    if (!line.startsWith("FLOW ")) continue;
    const d = JSON.parse(line.slice(5)) as Record<string, unknown>;
    printed.set(d.id as string, d);
  }
  assert.is(printed.size, flows.length, output);
  for (const flow of flows) assert.equal(printed.get(flow.id), expected(flow), `${flow.type} flow ${flow.id}`);
});

// ---------------------------------------------------------------- HAR

test("HAR: mitmproxy 8.1.1's own (its contrib har_dump.py) reads; one the sdk writes from the capture reads back equal", async () => {
  if (existsSync(HAR_DUMP)) {
    const fromMitm: HTTPFlow[] = [];
    for await (const f of readFlowFile(mitmHar)) fromMitm.push(f as HTTPFlow);
    const byPath = (p: string) => fromMitm.find((f) => f.request.path.startsWith(p))!;
    assert.ok(byPath("/bin").response!.body.equals(BIN), "mitmproxy's HAR: /bin body");
    assert.is(byPath("/post").response?.status, 201);
    assert.ok(byPath("/post").response!.body.equals(Buffer.from(UPLOAD).reverse()), "mitmproxy's HAR: /post body");
    assert.is(byPath("/h2").response?.text(), "over h2");
    assert.is(byPath("/h2").request.httpVersion, "HTTP/2.0");
  } else {
    console.log(`  (no ${HAR_DUMP}: mitmproxy's HAR is not checked)`);
  }
  const har = join(dir, "sdk.har");
  const writer = await HarWriter.open(har);
  for (const f of captured) await writer.add(f);
  await writer.close();
  const read: HTTPFlow[] = [];
  for await (const f of readFlowFile(har)) read.push(f as HTTPFlow);
  const httpFlows = captured.filter((f): f is HTTPFlow => f.type === "http");
  assert.is(read.length, httpFlows.length);
  const close = (a?: number, b?: number) => a !== undefined && b !== undefined && Math.abs(a - b) < 1e-5;
  httpFlows.forEach((a, i) => {
    const b = read[i]!;
    assert.equal(
      [
        b.request.method,
        b.request.url,
        b.request.httpVersion,
        b.request.headers.fields,
        b.request.body.toString("hex"),
      ],
      [
        a.request.method,
        a.request.url,
        a.request.httpVersion,
        a.request.headers.fields,
        a.request.body.toString("hex"),
      ],
    );
    assert.equal(
      [b.response?.status, b.response?.reason, b.response?.headers.fields, b.response?.body.toString("hex")],
      [a.response?.status, a.response?.reason, a.response?.headers.fields, a.response?.body.toString("hex")],
    );
    assert.ok(
      close(b.request.timestampStart, a.request.timestampStart),
      `request start ${b.request.timestampStart} ${a.request.timestampStart}`,
    );
    assert.ok(
      close(b.response?.timestampEnd, a.response?.timestampEnd),
      `response end ${b.response?.timestampEnd} ${a.response?.timestampEnd}`,
    );
    assert.equal(
      b.websocket?.messages.map((m) => [m.fromClient, m.type, m.content.toString("hex")]),
      a.websocket?.messages.map((m) => [m.fromClient, m.type, m.content.toString("hex")]),
    );
  });
});

test.run();
