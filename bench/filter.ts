// Filter expressions: flows evaluated per second for a few expressions, each
// over typical flows (an HTTPS GET with its HTML response, a JSON POST with a
// gzip response, a TCP flow, a WebSocket flow), and the compile time. The
// rate per CPU-second (the process's own CPU time) is printed beside the
// wall-clock rate, as a loaded machine makes the latter swing.
// `node --import tsx bench/filter.ts [--quick] [--json]`. Each expression runs
// for at most ~1 s (0.2 s with --quick) and at most 50 million evaluations.
// --json prints one JSON line of the figures instead (workload I reads it).
import { gzipSync } from "node:zlib";
import { compileFilter, HTTPFlow, TCPFlow, WebSocketData, WebSocketMessage, type AnyFlow } from "@interloper/sdk";
import { testClient, testFlow, testResponse, testServer } from "@interloper/sdk/testing";

const quick = process.argv.includes("--quick");
const json = process.argv.includes("--json");
const BUDGET_NS = BigInt(quick ? 200e6 : 1e9);
const MAX_EVALUATIONS = 50_000_000;
const BATCH = 10_000;

function flows(): AnyFlow[] {
  const get = testFlow({
    url: "https://example.com/index.html",
    headers: { "User-Agent": "Mozilla/5.0", Accept: "text/html", "Accept-Encoding": "gzip, br" },
  });
  get.response = testResponse({
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=60", Server: "nginx" },
    body: "<!doctype html><title>hi</title>",
  });
  const post = testFlow({
    url: "https://api.example.com/v1/login",
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "alice", password: "hunter2" }),
  });
  const json = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) });
  post.response = testResponse({
    headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
    body: gzipSync(json),
  });
  const tcp = new TCPFlow(testClient(), testServer({ host: "db.internal", port: 5432 }));
  tcp.messages.push({ fromClient: true, content: Buffer.from("SELECT 1"), timestamp: 0 });
  const ws = new HTTPFlow(testClient(), testServer(), testFlow({ url: "http://chat.example/ws" }).request);
  ws.response = testResponse({ status: 101, headers: { Upgrade: "websocket" } });
  ws.websocket = new WebSocketData();
  ws.websocket.messages.push(new WebSocketMessage(true, "text", Buffer.from("hello")));
  return [get, post, tcp, ws];
}

function rate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}

export interface FilterFigure {
  expr: string;
  /** What the flows evaluated were. */
  sample: string;
  evaluations: number;
  perSecond: number;
  perCpuSecond: number;
  compileUs: number;
  matched: number;
}

function measure(expr: string, sample: AnyFlow[], what: string): FilterFigure {
  const compileStart = process.hrtime.bigint();
  const filter = compileFilter(expr);
  const compileUs = Number(process.hrtime.bigint() - compileStart) / 1e3;
  let matched = 0;
  // Warm up, then run whole batches until the time or count budget is spent.
  for (let i = 0; i < BATCH; i++) if (filter(sample[i & 3]!)) matched++;
  let evaluations = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BUDGET_NS && evaluations < MAX_EVALUATIONS) {
    for (let i = 0; i < BATCH; i++) if (filter(sample[i & 3]!)) matched++;
    evaluations += BATCH;
    elapsed = process.hrtime.bigint() - start;
  }
  const cpu = process.cpuUsage(cpuStart);
  const perSecond = (evaluations / Number(elapsed)) * 1e9;
  const perCpuSecond = (evaluations / (cpu.user + cpu.system)) * 1e6;
  if (!json)
    console.log(
      `${expr.padEnd(44)} ${rate(perSecond).padStart(8)} flows/s (${rate(perCpuSecond).padStart(8)} per CPU-second)   compile ${compileUs.toFixed(0).padStart(5)} µs   ${matched} matched`,
    );
  return { expr, sample: what, evaluations, perSecond, perCpuSecond, compileUs, matched };
}

const sample = flows();
const ROTATION = "4 flows in rotation (HTTPS GET, JSON POST with gzip response, TCP, WebSocket)";
if (!json) console.log(`node ${process.version}, ${ROTATION}`);
const figures = [
  "~d example\\.com & ~m GET & !~a",
  '~u "/v[0-9]+/" | ~h "^x-debug:" | ~websocket',
  "~s & !(~c 200 | ~c 304) | ~e",
  "~b password | ~bs '\"id\":199'",
].map((expr) => measure(expr, sample, ROTATION));
// The brief's figure: a typical flow alone (the HTTPS GET with its response).
const typical = [sample[0]!, sample[0]!, sample[0]!, sample[0]!];
if (!json) console.log("a typical flow (HTTPS GET with its response) alone:");
figures.push(measure("~d example\\.com & ~m GET & !~a", typical, "a typical flow (HTTPS GET with its response)"));
if (json) console.log(JSON.stringify({ node: process.version, figures }));
