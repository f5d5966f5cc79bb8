// The flow options of the CLI end to end: traffic through a real proxy
// process saved with -w (and hardump), read back with -n -r, filtered by a
// positional expression and by save_stream_filter, appended to with +PATH,
// rotated by strftime fields, exchanged with the real mitmdump 8.1.1 both
// ways, read in reverse mode, and damaged or missing files. Origins, clients
// and proxies on loopback only.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFlowFile, type HTTPFlow } from "@interloper/sdk";
import {
  curl,
  originCa,
  removeDir,
  runCli,
  startOrigin,
  startProxy,
  tempDir,
  testConfdir,
  waitFor,
  within,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import { requestViaProxy } from "../helpers/clients.ts";
import { runMitmdump, startMitmdump } from "../helpers/mitmdump.ts";

const dir = tempDir("interloper-flow-cli-");
const capture = join(dir, "capture.flow");
const har = join(dir, "capture.har");
const BIN = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));

let plain: Origin;
let secure: Origin;
/** The flow lines the capturing proxy printed live. */
let liveLines: string[] = [];
/** What the client got for each captured request, in order. */
const captured: Array<{ url: string; status: number; body: Buffer }> = [];

function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  if (req.url === "/bin") {
    res.writeHead(200, { "Content-Type": "application/octet-stream" });
    res.end(BIN);
  } else if (req.url === "/missing") {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("nothing here\n");
  } else {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`${req.method} ${req.url} [${body.toString()}]`);
  }
}

/** The flow lines of a log (a request line and its response line per flow); connection lines left out. */
function flowLines(output: string): string[] {
  return output.split("\n").filter((l) => /^\S+: [A-Z]+ \S/.test(l) || /^\s+<< /.test(l));
}

/** The lines as mitmdump and interloper both print them, indentation aside. */
function normalised(lines: string[]): string[] {
  return lines.map((l) => l.trim().replace(/\s+/g, " "));
}

/** Non-empty lines of both streams. */
function allLines(r: { stdout: string; stderr: string }): string[] {
  return `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.trim() !== "");
}

/** Runs `interloper` to its end with a test confdir. */
function interloper(args: string[]) {
  return runCli([...args, "--set", `confdir=${testConfdir()}`]);
}

async function through(proxy: ProxyProcess, url: string, extra: string[] = []) {
  const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile, ...extra, url]);
  assert.is(r.code, 0, `curl ${url}: ${r.stderr}`);
  return r.stdout;
}

async function readAll(path: string): Promise<HTTPFlow[]> {
  const flows: HTTPFlow[] = [];
  for await (const f of readFlowFile(path)) if (f.type === "http") flows.push(f);
  return flows;
}

function harUrls(path: string): string[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as { log: { entries: Array<{ request: { url: string } }> } };
  return doc.log.entries.map((e) => e.request.url);
}

/** Where each flow of a mitmproxy flow file starts (each is one tnetstring: `LENGTH:PAYLOAD` and a type byte). */
function flowOffsets(file: Buffer): number[] {
  const offsets: number[] = [];
  let at = 0;
  while (at < file.length) {
    offsets.push(at);
    const colon = file.indexOf(":", at);
    at = colon + 1 + Number(file.subarray(at, colon).toString()) + 1;
  }
  return offsets;
}

// uvu reports a failing `before` only as tests that did not pass: say why.
test.before(async () => {
  await captureSession().catch((err: unknown) => {
    console.error("setting up the capture failed:", err);
    throw err;
  });
});

test.after(async () => {
  await plain?.close();
  await secure?.close();
  removeDir(dir);
});

/** One proxy with -w and hardump; HTTP and HTTPS requests through it with curl, one after another. */
async function captureSession(): Promise<void> {
  plain = await startOrigin(answer);
  secure = await startOrigin(answer, { tls: true });
  const proxy = await startProxy(["-w", capture, "--set", `hardump=${har}`]);
  try {
    const requests: Array<[string, string[]]> = [
      [`http://127.0.0.1:${plain.port}/first?x=1`, []],
      [`http://127.0.0.1:${plain.port}/form`, ["-d", "a=1&b=2"]],
      [`https://localhost:${secure.port}/secure`, []],
      [`http://127.0.0.1:${plain.port}/missing`, []],
      [`http://127.0.0.1:${plain.port}/bin`, []],
    ];
    for (const [url, extra] of requests) {
      const r = await curl([
        "-x",
        `http://127.0.0.1:${proxy.port}`,
        "--cacert",
        proxy.caFile,
        "-w",
        "\n%{http_code}",
        ...extra,
        url,
      ]);
      assert.is(r.code, 0, r.stderr);
      const cut = r.stdout.lastIndexOf("\n");
      captured.push({ url, status: Number(r.stdout.subarray(cut + 1).toString()), body: r.stdout.subarray(0, cut) });
    }
  } finally {
    assert.is(await proxy.stop(), 0, proxy.stderr());
  }
  liveLines = flowLines(proxy.stdout());
  assert.is(liveLines.length, 10, proxy.stdout());
}

test("-n -r prints the flow lines the capture printed live (HTTP and HTTPS), then exits 0", async () => {
  const r = await interloper(["-n", "-r", capture]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(flowLines(r.stdout), liveLines);
  assert.ok(liveLines.some((l) => l.includes(`GET https://localhost:${secure.port}/secure`)));
  assert.ok(liveLines.includes("     << 404 Not Found 13b"), liveLines.join("\n"));
});

test("a positional filter: -n -r prints only the matching flows", async () => {
  const r = await interloper(["-n", "-r", capture, "~m POST"]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(flowLines(r.stdout), liveLines.slice(2, 4));
  assert.match(liveLines[2]!, /: POST http:\/\/127\.0\.0\.1:\d+\/form$/);
});

test("a bad filter is one line naming the option and the column, exit 2", async () => {
  const r = await interloper(["-n", "-r", capture, "~m POST &"]);
  assert.is(r.code, 2);
  const lines = allLines(r);
  assert.is(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /(view|save_stream)_filter/);
  assert.match(lines[0]!, /column 9/);
});

test("what interloper -w wrote, the real mitmdump -n -r reads: the same URLs, status codes and sizes", async () => {
  const r = await runMitmdump(["-n", "-r", capture]);
  assert.is(r.code, 0, r.output);
  assert.equal(normalised(flowLines(r.output)), normalised(liveLines));
});

test("what the real mitmdump -w wrote, interloper -n -r reads: the lines mitmdump printed", async () => {
  const file = join(dir, "from-mitmdump.flow");
  const confdir = join(dir, "mitm-conf");
  const mitm = await startMitmdump([
    "--set",
    `confdir=${confdir}`,
    "--set",
    `ssl_verify_upstream_trusted_ca=${(await originCa()).caFile}`,
    "-w",
    file,
  ]);
  try {
    const ca = join(confdir, "mitmproxy-ca-cert.pem");
    for (const [url, extra] of [
      [`http://127.0.0.1:${plain.port}/m?q=1`, []],
      [`http://127.0.0.1:${plain.port}/m-post`, ["-d", "body"]],
      [`https://localhost:${secure.port}/m-secure`, []],
    ] as const) {
      const got = await curl(["-x", `http://127.0.0.1:${mitm.port}`, "--cacert", ca, ...extra, url]);
      assert.is(got.code, 0, got.stderr);
    }
  } finally {
    await mitm.stop();
  }
  const mitmLines = flowLines(mitm.output());
  assert.is(mitmLines.length, 6, mitm.output());
  const r = await interloper(["-n", "-r", file]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(normalised(flowLines(r.stdout)), normalised(mitmLines));
});

test("+PATH appends (two captures, one file, both read); the positional filter chooses what is saved and shown", async () => {
  const file = join(dir, "appended.flow");
  copyFileSync(capture, file);
  const proxy = await startProxy(["-w", `+${file}`, "~m PUT"]);
  try {
    await through(proxy, `http://127.0.0.1:${plain.port}/not-saved`);
    assert.is(
      (await through(proxy, `http://127.0.0.1:${plain.port}/put`, ["-X", "PUT", "-d", "v"])).toString(),
      "PUT /put [v]",
    );
  } finally {
    assert.is(await proxy.stop(), 0);
  }
  const shown = flowLines(proxy.stdout());
  assert.is(shown.length, 2, proxy.stdout());
  assert.match(shown[0]!, /: PUT http:\/\/127\.0\.0\.1:\d+\/put$/);
  const r = await interloper(["-n", "-r", file]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(flowLines(r.stdout), [...liveLines, ...shown]);
});

test("save_stream_filter: only the matching flows are saved (-w replaces what the file held); all are shown", async () => {
  const file = join(dir, "posts.flow");
  copyFileSync(capture, file);
  const harPosts = join(dir, "posts.har");
  const proxy = await startProxy(["-w", file, "--set", "save_stream_filter=~m POST", "--set", `hardump=${harPosts}`]);
  try {
    await through(proxy, `http://127.0.0.1:${plain.port}/get-1`);
    await through(proxy, `http://127.0.0.1:${plain.port}/post-1`, ["-d", "one"]);
    await through(proxy, `http://127.0.0.1:${plain.port}/get-2`);
    await through(proxy, `http://127.0.0.1:${plain.port}/post-2`, ["-d", "two"]);
  } finally {
    assert.is(await proxy.stop(), 0);
  }
  assert.is(flowLines(proxy.stdout()).length, 8, proxy.stdout());
  const flows = await readAll(file);
  assert.equal(
    flows.map((f) => [f.request.method, f.request.path, f.request.body.toString(), f.response?.body.toString()]),
    [
      ["POST", "/post-1", "one", "POST /post-1 [one]"],
      ["POST", "/post-2", "two", "POST /post-2 [two]"],
    ],
  );
  // hardump keeps the flows save_stream_filter chooses, as mitmproxy's does.
  assert.equal(harUrls(harPosts), [`http://127.0.0.1:${plain.port}/post-1`, `http://127.0.0.1:${plain.port}/post-2`]);
});

test("filtering a saved file: -n -r IN -w OUT --set hardump=H '~m POST' keeps only the POST in both", async () => {
  const out = join(dir, "filtered.flow");
  const outHar = join(dir, "filtered.har");
  const r = await interloper(["-n", "-r", capture, "-w", out, "--set", `hardump=${outHar}`, "~m POST"]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(flowLines(r.stdout), liveLines.slice(2, 4));
  const flows = await readAll(out);
  assert.equal(
    flows.map((f) => [f.request.method, f.request.path, f.request.body.toString()]),
    [["POST", "/form", "a=1&b=2"]],
  );
  assert.equal(harUrls(outHar), [`http://127.0.0.1:${plain.port}/form`]);
});

test("-n -r in reverse mode: the flows read go to the reverse target (mitmproxy's load_flow), not to its listen address", async () => {
  for (const [mode, target] of [
    ["reverse:http://127.0.0.1:5000@127.0.0.1:9999", "http://127.0.0.1:5000"],
    ["reverse:localhost:5001", "https://localhost:5001"],
  ] as const) {
    const r = await interloper(["-n", "-r", capture, "--mode", mode]);
    assert.is(r.code, 0, r.stderr);
    assert.equal(
      flowLines(r.stdout),
      liveLines.map((l) => l.replace(/ https?:\/\/[^/]+\//, ` ${target}/`)),
      mode,
    );
  }
});

test("-w with strftime fields: flows that end together as the file changes are all saved (none lost to the rotation)", async () => {
  const N = 30;
  const rotating = tempDir("interloper-rotation-");
  const held: Array<() => void> = [];
  // The origin answers nobody until all N requests are there: their ends, and saves, come together.
  const burst = await startOrigin((_req, res) => {
    held.push(() => res.end("answer"));
    if (held.length === N) for (const answer of held.splice(0)) answer();
  });
  const proxy = await startProxy(["-w", join(rotating, "flows-%S.flow")]);
  try {
    // The file was opened at start-up: once the second has changed, the first flow saved opens the next one.
    const opened = new Date().getSeconds();
    await waitFor(() => new Date().getSeconds() !== opened, "the next second");
    const urls = Array.from({ length: N }, (_, i) => `http://127.0.0.1:${burst.port}/r${i}`);
    const answers = await Promise.all(urls.map((u) => requestViaProxy(proxy.port, u)));
    assert.ok(answers.every((a) => a.status === 200));
    assert.is(await proxy.stop(), 0);
    let paths: string[] = [];
    for (const name of readdirSync(rotating))
      paths = [...paths, ...(await readAll(join(rotating, name))).map((f) => f.request.path)];
    assert.equal(paths.sort(), urls.map((u) => new URL(u).pathname).sort());
  } finally {
    await proxy.stop();
    await burst.close();
    removeDir(rotating);
  }
});

test("-w: a request still waiting for its server when the proxy stops is saved too (without a response)", async () => {
  let arrived: () => void = () => {};
  const waiting = new Promise<void>((resolve) => (arrived = resolve));
  // Holds every request: the proxy's stop ends it, the origin's close the rest.
  const silent = await startOrigin(() => arrived());
  const file = join(dir, "in-flight.flow");
  const proxy = await startProxy(["-w", file]);
  try {
    const pending = curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${silent.port}/slow`]);
    await within(waiting, "the request at the origin");
    assert.is(await proxy.stop(), 0);
    await pending;
  } finally {
    await proxy.stop();
    await silent.close();
  }
  const flows = await readAll(file);
  assert.equal(
    flows.map((f) => [f.request.path, f.response === undefined]),
    [["/slow", true]],
  );
});

test("a file cut in the middle of its second flow: the first flow, one error line with the file and byte, exit 1", async () => {
  const bytes = readFileSync(capture);
  const offsets = flowOffsets(bytes);
  assert.is(offsets.length, 5);
  const second = offsets[1]!;
  const cut = join(dir, "cut.flow");
  writeFileSync(cut, bytes.subarray(0, second + Math.floor((offsets[2]! - second) / 2)));
  const r = await interloper(["-n", "-r", cut]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  const lines = allLines(r);
  assert.is(lines.length, 3, lines.join("\n"));
  assert.equal(lines.slice(0, 2), liveLines.slice(0, 2));
  assert.ok(lines[2]!.includes(cut), lines[2]);
  assert.match(lines[2]!, new RegExp(`byte ${second}\\b`));
});

test("a missing file is one line naming it, and a non-zero exit", async () => {
  const missing = join(dir, "no-such.flow");
  const r = await interloper(["-n", "-r", missing]);
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
  const lines = allLines(r);
  assert.is(lines.length, 1, lines.join("\n"));
  assert.ok(lines[0]!.includes(missing), lines[0]);
});

// ---------------------------------------------------------------- hardump

type Obj = Record<string, unknown>;

/** HAR 1.2's required fields of an entry and their types (http://www.softwareishard.com/blog/har-12-spec/). */
const HAR_ENTRY: Record<string, Record<string, string>> = {
  entry: {
    startedDateTime: "string",
    time: "number",
    request: "object",
    response: "object",
    cache: "object",
    timings: "object",
  },
  request: {
    method: "string",
    url: "string",
    httpVersion: "string",
    cookies: "array",
    headers: "array",
    queryString: "array",
    headersSize: "number",
    bodySize: "number",
  },
  response: {
    status: "number",
    statusText: "string",
    httpVersion: "string",
    cookies: "array",
    headers: "array",
    content: "object",
    redirectURL: "string",
    headersSize: "number",
    bodySize: "number",
  },
  content: { size: "number", mimeType: "string" },
  timings: { send: "number", wait: "number", receive: "number" },
};

function typeOf(v: unknown): string {
  return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
}

/** The required fields `spec` names that `obj` lacks or has with another type. */
function missing(obj: unknown, spec: Record<string, string>, at: string): string[] {
  if (typeOf(obj) !== "object") return [`${at} is not an object`];
  return Object.entries(spec)
    .filter(([name, type]) => typeOf((obj as Obj)[name]) !== type)
    .map(([name, type]) => `${at}.${name} is not ${type}`);
}

function harProblems(doc: Obj): string[] {
  const log = doc.log as Obj;
  const problems = missing(log, { version: "string", creator: "object", entries: "array" }, "log");
  if (problems.length > 0) return problems;
  if (log.version !== "1.2") problems.push(`log.version is ${String(log.version)}`);
  (log.entries as Obj[]).forEach((e, i) => {
    const at = `entries[${i}]`;
    problems.push(...missing(e, HAR_ENTRY.entry!, at));
    problems.push(...missing(e.request, HAR_ENTRY.request!, `${at}.request`));
    problems.push(...missing(e.response, HAR_ENTRY.response!, `${at}.response`));
    problems.push(...missing((e.response as Obj | undefined)?.content, HAR_ENTRY.content!, `${at}.response.content`));
    problems.push(...missing(e.timings, HAR_ENTRY.timings!, `${at}.timings`));
    if (Number.isNaN(Date.parse(String(e.startedDateTime)))) problems.push(`${at}.startedDateTime is no date`);
  });
  return problems;
}

test("hardump writes a valid HAR 1.2: an entry per flow with its URL, status and body", () => {
  const doc = JSON.parse(readFileSync(har, "utf8")) as Obj;
  assert.equal(harProblems(doc), []);
  const entries = (doc.log as { entries: Obj[] }).entries;
  assert.is(entries.length, captured.length);
  entries.forEach((e, i) => {
    const want = captured[i]!;
    const request = e.request as { url: string; method: string; postData?: { text?: string } };
    const response = e.response as { status: number; content: { text?: string; encoding?: string; size: number } };
    assert.is(request.url, want.url);
    assert.is(response.status, want.status);
    const text = response.content.text ?? "";
    const body = response.content.encoding === "base64" ? Buffer.from(text, "base64") : Buffer.from(text, "utf8");
    assert.ok(body.equals(want.body), `${want.url}: ${text}`);
    assert.is(response.content.size, want.body.length);
  });
  const post = entries[1]!.request as { method: string; postData?: { text?: string; mimeType: string } };
  assert.is(post.method, "POST");
  assert.is(post.postData?.text, "a=1&b=2");
  assert.is(post.postData?.mimeType, "application/x-www-form-urlencoded");
  assert.ok(captured[4]!.body.equals(BIN));
});

test.run();
