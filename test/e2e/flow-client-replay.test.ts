// Client replay (-C) end to end: requests recorded through a proxy process
// with -w are sent again by `interloper -n -C` to the live origins; the
// origin sees them as recorded, the log shows the new responses,
// client_replay_concurrency bounds how many are in flight, an unreachable
// server is an error line, and what cannot be sent as recorded is left out.
// Loopback only.
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  HTTPFlow,
  Request,
  Response,
  TCPFlow,
  WebSocketData,
  readFlowFile,
  writeFlowFile,
  type ClientConnection,
  type ServerConnection,
} from "@interloper/sdk";
import { freePort } from "../helpers/clients.ts";
import {
  curl,
  originCa,
  removeDir,
  runCli,
  startOrigin,
  startProxy,
  tempDir,
  testConfdir,
  WAIT_MS,
  type Origin,
} from "../helpers/harness.ts";

const dir = tempDir("interloper-client-replay-");
const flowFile = join(dir, "recorded.flow");
const HELD = 4;

let plain: Origin;
let secure: Origin;
const recordedFlows: HTTPFlow[] = [];

/**
 * With the gate on, the /hold requests wait at the origin until two of them
 * are in flight together (or all have come, or WAIT_MS passed: then the test
 * fails on `maxHeld`, never hangs). `maxHeld` counts them either way.
 */
const gate = { on: false, held: [] as Array<() => void>, inFlight: 0, maxHeld: 0, arrived: 0 };
let phase = "recorded";

function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const reply = () => void res.end(`${phase} ${req.method} ${req.url} [${body.toString()}]`);
  if (!req.url!.startsWith("/hold")) return reply();
  gate.arrived++;
  gate.inFlight++;
  gate.maxHeld = Math.max(gate.maxHeld, gate.inFlight);
  res.once("finish", () => gate.inFlight--);
  if (!gate.on) return reply();
  const timer = setTimeout(release, WAIT_MS).unref();
  gate.held.push(() => {
    clearTimeout(timer);
    reply();
  });
  if (gate.inFlight >= 2 || gate.arrived === HELD) release();
}

function release(): void {
  for (const r of gate.held.splice(0)) r();
}

function resetGate(on: boolean): void {
  Object.assign(gate, { on, held: [], inFlight: 0, maxHeld: 0, arrived: 0 });
}

/** `interloper` run to its end with a test confdir that trusts the origins' CA. */
async function interloper(args: string[]) {
  const ca = (await originCa()).caFile;
  return runCli([...args, "--set", `confdir=${testConfdir()}`, "--set", `ssl_verify_upstream_trusted_ca=${ca}`]);
}

function flowLines(output: string): string[] {
  return output.split("\n").filter((l) => /^\S+: [A-Z]+ \S/.test(l) || /^\s+<< /.test(l));
}

// uvu reports a failing `before` only as tests that did not pass: say why.
test.before(async () => {
  await record().catch((err: unknown) => {
    console.error("recording failed:", err);
    throw err;
  });
});

test.after(async () => {
  await plain?.close();
  await secure?.close();
  removeDir(dir);
});

/** A POST with a body and fields of its own, an HTTPS GET, and the /hold requests, through a proxy with -w. */
async function record(): Promise<void> {
  plain = await startOrigin(answer);
  secure = await startOrigin(answer, { tls: true });
  const proxy = await startProxy(["-w", flowFile]);
  try {
    const via = ["-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile];
    const calls = [
      [
        "-X",
        "POST",
        "--data-binary",
        "payload \u00e9",
        "-H",
        "X-Recorded: yes",
        "-H",
        "x-Odd-CASE: kept",
        `http://127.0.0.1:${plain.port}/items?x=1`,
      ],
      [`https://localhost:${secure.port}/secure`],
      ...Array.from({ length: HELD }, (_, i) => [`http://127.0.0.1:${plain.port}/hold/${i}`]),
    ];
    for (const args of calls) assert.is((await curl([...via, ...args])).code, 0);
  } finally {
    assert.is(await proxy.stop(), 0, proxy.stderr());
  }
  for await (const f of readFlowFile(flowFile)) if (f.type === "http") recordedFlows.push(f);
  assert.is(recordedFlows.length, 2 + HELD);
  phase = "replayed now";
}

/** A request's fields as the origin received them, in order and spelling. */
function fields(rawHeaders: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  return pairs;
}

test("-n -C sends each recorded request again: method, path, body and fields arrive as recorded; the new responses are printed; exit 0", async () => {
  const live = [...plain.requests, ...secure.requests];
  const before = plain.requests.length;
  resetGate(false);
  const r = await interloper(["-n", "-C", flowFile]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const seen = [...plain.requests.slice(before), ...secure.requests.slice(1)];
  assert.is(seen.length, recordedFlows.length);
  for (const flow of recordedFlows) {
    const req = flow.request;
    const got = seen.find((s) => s.url === req.path);
    assert.ok(got, `${req.path} did not arrive`);
    assert.is(got.method, req.method);
    assert.ok(got.body.equals(req.body), req.path);
    // The fields as the live request brought them (the recorded ones less the proxy's hop-by-hop Proxy-Connection).
    const recordedFields = req.headers.fields.filter(([k]) => k.toLowerCase() !== "proxy-connection");
    assert.equal(fields(got.rawHeaders), recordedFields, req.path);
    assert.equal(fields(live.find((s) => s.url === req.path)!.rawHeaders), recordedFields, req.path);
  }
  assert.ok(recordedFlows[0]!.request.headers.fields.some(([k]) => k === "x-Odd-CASE"));
  // One request at a time by default.
  assert.is(gate.maxHeld, 1);
  // The log shows each request and its new response (the size of the new body).
  const lines = flowLines(r.stdout);
  assert.is(lines.length, 2 * recordedFlows.length, r.stdout);
  const post = lines.findIndex((l) => l.includes(`POST http://127.0.0.1:${plain.port}/items?x=1`));
  const newBody = `replayed now POST /items?x=1 [payload \u00e9]`;
  assert.match(lines[post + 1]!, new RegExp(`<< 200 OK ${Buffer.byteLength(newBody)}b$`));
  assert.ok(lines.some((l) => l.includes(`GET https://localhost:${secure.port}/secure`)));
});

test("client_replay_concurrency=2: two requests are in flight at once, never more", async () => {
  resetGate(true);
  const r = await interloper(["-n", "-C", flowFile, "--set", "client_replay_concurrency=2"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(gate.arrived, HELD);
  assert.is(gate.maxHeld, 2);
  assert.is(flowLines(r.stdout).length, 2 * recordedFlows.length, r.stdout);
});

test("client_replay_concurrency=0 is refused at start-up in one line, exit 2 (it was taken as 1)", async () => {
  const r = await interloper(["-n", "-C", flowFile, "--set", "client_replay_concurrency=0"]);
  assert.is(r.code, 2, r.stdout + r.stderr);
  const lines = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() !== "");
  assert.is(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /client_replay_concurrency: 0/);
});

/** A recorded flow made with the sdk: what the file holds is the test's own choice. */
function madeFlow(url: string, init: { method?: string; body?: string; headers?: Array<[string, string]> } = {}) {
  const request = Request.fromUrl(url, {
    method: init.method,
    body: init.body,
    headers: [["Host", new URL(url).host], ...(init.headers ?? [])],
  });
  return new HTTPFlow(client(), server(request.host, request.port), request);
}

function client(): ClientConnection {
  const at = { host: "127.0.0.1", port: 50000 };
  return { id: "c", peername: at, sockname: at, mode: "regular", tlsEstablished: false, timestampStart: 1 };
}

function server(host: string, port: number): ServerConnection {
  return { id: "s", address: { host, port }, tls: false, tlsEstablished: false };
}

test("an unreachable server is an error line for its request, not a crash; the next request is still sent", async () => {
  const closed = await freePort();
  const file = join(dir, "unreachable.flow");
  await writeFlowFile(file, [
    madeFlow(`http://127.0.0.1:${closed}/gone`),
    madeFlow(`http://127.0.0.1:${plain.port}/after`),
  ]);
  resetGate(false);
  const before = plain.requests.length;
  const r = await interloper(["-n", "-C", file]);
  const out = r.stdout + r.stderr;
  assert.not.match(out, /internal error|TypeError|at .*\.ts:\d+/);
  assert.match(out, new RegExp(`GET http://127\\.0\\.0\\.1:${closed}/gone\\n\\s*<< .*refused`, "i"));
  assert.is(
    plain.requests
      .slice(before)
      .map((s) => s.url)
      .join(),
    "/after",
  );
  assert.is(r.code, 0, out);
});

test("flows that cannot be sent as recorded are left out with a warning each (as mitmproxy): a body not kept, a WebSocket, TCP", async () => {
  const streamed = madeFlow(`http://127.0.0.1:${plain.port}/streamed`, {
    method: "POST",
    headers: [["Content-Length", "36"]],
  });
  streamed.request.stream = true;
  const ws = madeFlow(`http://127.0.0.1:${plain.port}/ws`, {
    headers: [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
    ],
  });
  ws.response = new Response({ status: 101, headers: [["Upgrade", "websocket"]] });
  ws.websocket = new WebSocketData();
  const tcp = new TCPFlow(client(), server("127.0.0.1", plain.port));
  tcp.messages.push({ fromClient: true, content: Buffer.from("raw\r\n"), timestamp: 2 });
  const file = join(dir, "not-replayable.flow");
  await writeFlowFile(file, [streamed, ws, tcp, madeFlow(`http://127.0.0.1:${plain.port}/after`)]);
  resetGate(false);
  const before = plain.requests.length;
  const r = await interloper(["-n", "-C", file]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(
    plain.requests
      .slice(before)
      .map((s) => s.url)
      .join(),
    "/after",
  );
  const warnings = r.stdout.split("\n").filter((l) => l.startsWith("[clientplayback]"));
  assert.is(warnings.length, 3, r.stdout);
  assert.match(warnings[0]!, /\/streamed/);
  assert.match(warnings[1]!, /\/ws/);
  assert.match(warnings[2]!, /TCP/i);
});

test.run();
