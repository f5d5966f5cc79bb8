// Server replay (-S) end to end: traffic recorded through a proxy process
// (-w and hardump) against real origins, the origins stopped, then proxies
// with -S answer curl from the recording. Each matching option changes which
// recorded response answers; server_replay_extra decides about the rest; the
// proxy exits once every recorded answer was used unless keepserving.
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFlowFile, writeFlowFile, type HTTPFlow } from "@interloper/sdk";
import {
  curl,
  removeDir,
  startOrigin,
  startProxy,
  tempDir,
  waitFor,
  within,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";

const dir = tempDir("interloper-server-replay-");
const flowFile = join(dir, "recorded.flow");
const harFile = join(dir, "recorded.har");

interface Call {
  url: string;
  /** curl arguments before the URL (method, body, headers). */
  args?: string[];
}
interface Answer {
  status: number;
  body: string;
  headers: string;
}

let plain: Origin;
let secure: Origin;
/** The port the recording's plain origin had (closed since). */
let port = 0;
const url = (path: string, host = "127.0.0.1") => `http://${host}:${port}${path}`;
/** The requests recorded, in order, and what the client got for each at the time. */
let recording: Call[] = [];
const recorded: Answer[] = [];

/** Every answer differs from the others: a counter per path, and the request's own parts. */
function origin(): (req: IncomingMessage, res: ServerResponse, body: Buffer) => void {
  const seen = new Map<string, number>();
  return (req, res, body) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    const variant = req.headers["x-variant"] ?? "-";
    if (req.url === "/status") res.writeHead(201, "Made Here", { "X-Recorded": "yes" });
    res.end(`${req.method} ${req.url} #${n} body=${body.toString()} variant=${String(variant)}`);
  };
}

/** A request through the proxy: status, body and the response head as curl printed it. */
async function ask(proxy: ProxyProcess, call: Call): Promise<Answer> {
  const r = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    proxy.caFile,
    "-D",
    "-",
    ...(call.args ?? []),
    call.url,
  ]);
  assert.is(r.code, 0, `${call.url}: ${r.stderr}`);
  const text = r.stdout.toString("latin1");
  // With HTTPS, curl prints the CONNECT answer's head first: the response's is the last one.
  let start = 0;
  let headEnd = text.indexOf("\r\n\r\n");
  while (text.startsWith("HTTP/", headEnd + 4)) {
    start = headEnd + 4;
    headEnd = text.indexOf("\r\n\r\n", start);
  }
  const headers = text.slice(start, headEnd);
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(headers)?.[1]), body: text.slice(headEnd + 4), headers };
}

/** Asks for each call in turn; the answers. */
async function askAll(proxy: ProxyProcess, calls: Call[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const c of calls) answers.push(await ask(proxy, c));
  return answers;
}

const summary = (a: Answer) => `${a.status} ${a.body}`;

/** The proxy's exit code once it ended by itself (bounded). */
function exitOf(proxy: ProxyProcess): Promise<number | null> {
  const child = proxy.child;
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return within(
    new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code))),
    "the proxy to exit by itself",
  );
}

async function replaying(args: string[], body: (proxy: ProxyProcess) => Promise<void>): Promise<ProxyProcess> {
  const proxy = await startProxy(args);
  try {
    await body(proxy);
  } finally {
    await proxy.stop();
  }
  return proxy;
}

// uvu reports a failing `before` only as tests that did not pass: say why.
test.before(async () => {
  await record().catch((err: unknown) => {
    console.error("recording failed:", err);
    throw err;
  });
});

test.after(() => removeDir(dir));

/** Records every call through a proxy with -w and hardump, then stops the origins for good. */
async function record(): Promise<void> {
  plain = await startOrigin(origin());
  secure = await startOrigin(origin(), { tls: true });
  port = plain.port;
  recording = [
    { url: url("/page?id=1&t=100") },
    { url: url("/page?id=1&t=200") },
    { url: url("/submit"), args: ["-d", "a=1"] },
    { url: url("/submit"), args: ["-d", "a=2"] },
    { url: url("/seq") },
    { url: url("/seq") },
    { url: url("/hdr"), args: ["-H", "X-Variant: a"] },
    { url: url("/hdr"), args: ["-H", "X-Variant: b"] },
    { url: url("/status") },
    { url: `https://localhost:${secure.port}/secure` },
    { url: url("/form"), args: ["-d", "user=x&nonce=1"] },
  ];
  const proxy = await startProxy(["-w", flowFile, "--set", `hardump=${harFile}`]);
  try {
    recorded.push(...(await askAll(proxy, recording)));
  } finally {
    assert.is(await proxy.stop(), 0, proxy.stderr());
    await plain.close();
    await secure.close();
  }
  assert.is(recorded[8]!.status, 201);
  assert.is(new Set(recorded.map((a) => a.body)).size, recording.length);
}

// Without a server, an HTTPS CONNECT can only be answered when nothing connects upstream before the
// request: mitmproxy documents connection_strategy=lazy for offline server replay.
const OFFLINE = ["--set", "connection_strategy=lazy"];
const EXTRA_404 = ["--set", "server_replay_extra=404"];

for (const [name, file] of [
  ["a flow file", () => flowFile],
  ["a HAR file (hardump)", () => harFile],
] as const) {
  test(`-S ${name}, origins gone: every request answered as recorded (status, body, fields), then the proxy exits 0 by itself`, async () => {
    const proxy = await startProxy(["-S", file(), ...OFFLINE]);
    try {
      const answers = await askAll(proxy, recording);
      assert.equal(answers.map(summary), recorded.map(summary));
      assert.match(answers[8]!.headers, /^HTTP\/1\.1 201 Made Here\r\n/);
      assert.match(answers[8]!.headers, /\r\nX-Recorded: yes\r\n/i);
      assert.is(await exitOf(proxy), 0, proxy.stdout() + proxy.stderr());
    } finally {
      await proxy.stop();
    }
  });
}

test("server_replay_extra=404: requests that differ from the recording in any part are answered 404; each answer once, in recorded order", async () => {
  await replaying(["-S", flowFile, "--set", "server_replay_extra=404"], async (proxy) => {
    const answers = await askAll(proxy, [
      { url: url("/page?id=1&t=999") },
      { url: url("/submit"), args: ["-d", "zzz"] },
      { url: url("/seq", "localhost") },
      { url: `http://127.0.0.1:${port + 1}/seq` },
      { url: url("/form"), args: ["-d", "user=x&nonce=2"] },
      { url: url("/hdr"), args: ["-H", "X-Variant: b"] },
      { url: url("/seq") },
      { url: url("/seq") },
      { url: url("/seq") },
    ]);
    assert.equal(answers.map((a) => a.status).slice(0, 5), [404, 404, 404, 404, 404]);
    // Headers are no part of the match by default: the first recorded /hdr answers.
    assert.is(summary(answers[5]!), summary(recorded[6]!));
    assert.equal(answers.slice(6, 8).map(summary), [summary(recorded[4]!), summary(recorded[5]!)]);
    assert.is(answers[8]!.status, 404);
    assert.is(proxy.child.exitCode, null, "the proxy stays while recorded answers are left");
  });
});

test("server_replay_ignore_params: the named query fields leave the match, the others stay in it", async () => {
  await replaying(["-S", flowFile, ...EXTRA_404, "--set", "server_replay_ignore_params=t"], async (proxy) => {
    const answers = await askAll(proxy, [
      { url: url("/page?id=1&t=999") },
      { url: url("/page?t=5&id=1") },
      { url: url("/page?id=2&t=100") },
    ]);
    assert.equal(answers.map(summary), [summary(recorded[0]!), summary(recorded[1]!), `404 ${answers[2]!.body}`]);
  });
});

test("server_replay_ignore_content: a request with another body gets the recorded answers in order", async () => {
  await replaying(["-S", flowFile, ...EXTRA_404, "--set", "server_replay_ignore_content=true"], async (proxy) => {
    const answers = await askAll(proxy, [
      { url: url("/submit"), args: ["-d", "zzz"] },
      { url: url("/submit"), args: ["-d", "yyy"] },
    ]);
    assert.equal(answers.map(summary), [summary(recorded[2]!), summary(recorded[3]!)]);
  });
});

test("server_replay_ignore_host and _port: a request to another host name, or another port, gets the recorded answers", async () => {
  await replaying(
    [
      "-S",
      flowFile,
      ...EXTRA_404,
      "--set",
      "server_replay_ignore_host=true",
      "--set",
      "server_replay_ignore_port=true",
    ],
    async (proxy) => {
      const answers = await askAll(proxy, [
        { url: url("/seq", "localhost") },
        { url: `http://127.0.0.1:${port + 1}/seq` },
      ]);
      assert.equal(answers.map(summary), [summary(recorded[4]!), summary(recorded[5]!)]);
    },
  );
});

test("server_replay_ignore_payload_params: the named form fields leave the match", async () => {
  await replaying(
    ["-S", flowFile, ...EXTRA_404, "--set", "server_replay_ignore_payload_params=nonce"],
    async (proxy) => {
      const answers = await askAll(proxy, [
        { url: url("/form"), args: ["-d", "user=y&nonce=2"] },
        { url: url("/form"), args: ["-d", "user=x&nonce=2"] },
      ]);
      assert.equal(answers.map(summary), [`404 ${answers[0]!.body}`, summary(recorded[10]!)]);
    },
  );
});

test("server_replay_use_headers: the named header must match too, so the answer recorded for its value is chosen", async () => {
  await replaying(["-S", flowFile, ...EXTRA_404, "--set", "server_replay_use_headers=X-Variant"], async (proxy) => {
    const answers = await askAll(proxy, [
      { url: url("/hdr"), args: ["-H", "X-Variant: b"] },
      { url: url("/hdr"), args: ["-H", "X-Variant: c"] },
      { url: url("/hdr"), args: ["-H", "X-Variant: a"] },
    ]);
    assert.equal(
      answers.map((a) => a.status),
      [200, 404, 200],
    );
    assert.is(summary(answers[0]!), summary(recorded[7]!));
    assert.is(summary(answers[2]!), summary(recorded[6]!));
  });
});

test("server_replay_reuse: the first recorded answer answers again and again", async () => {
  await replaying(["-S", flowFile, ...EXTRA_404, "--set", "server_replay_reuse=true"], async (proxy) => {
    const answers = await askAll(proxy, [{ url: url("/seq") }, { url: url("/seq") }, { url: url("/seq") }]);
    assert.equal(answers.map(summary), Array(3).fill(summary(recorded[4]!)));
  });
});

test("server_replay_extra=kill: an unmatched request's connection is closed without an answer; matched ones are answered", async () => {
  await replaying(["-S", flowFile, "--set", "server_replay_extra=kill"], async (proxy) => {
    const killed = await curl(["-x", `http://127.0.0.1:${proxy.port}`, url("/not-recorded")]);
    assert.is.not(killed.code, 0);
    assert.is(killed.stdout.length, 0);
    assert.is(summary(await ask(proxy, { url: url("/seq") })), summary(recorded[4]!));
  });
});

test("server_replay_extra=forward (the default): an unmatched request goes to its live server", async () => {
  const live = await startOrigin((req, res) => res.end(`live ${req.url}`));
  try {
    await replaying(["-S", flowFile], async (proxy) => {
      const answers = await askAll(proxy, [{ url: `http://127.0.0.1:${live.port}/fresh` }, { url: url("/seq") }]);
      assert.equal(answers.map(summary), ["200 live /fresh", summary(recorded[4]!)]);
      assert.is(live.requests.length, 1);
    });
  } finally {
    await live.close();
  }
});

test("a recorded response whose body was streamed (not kept) answers nothing: the request is an extra one, not an empty 200", async () => {
  const file = join(dir, "streamed.flow");
  const flows: HTTPFlow[] = [];
  for await (const f of readFlowFile(flowFile)) if (f.type === "http") flows.push(f);
  const [page, seq] = [flows[0]!, flows[4]!];
  page.response!.stream = true;
  page.response!.body = Buffer.alloc(0);
  await writeFlowFile(file, [page, seq]);
  await replaying(["-S", file, ...EXTRA_404], async (proxy) => {
    const answers = await askAll(proxy, [recording[0]!, recording[4]!]);
    assert.equal(
      answers.map((a) => a.status),
      [404, 200],
    );
    assert.is(summary(answers[1]!), summary(recorded[4]!));
    assert.match(
      proxy.stdout(),
      /server_replay: 1 recorded response\(s\) answer nothing: .*not recorded .*\/page\?id=1&t=100/,
    );
  });
});

test("keepserving=true: the proxy goes on serving after every recorded answer was used", async () => {
  const live = await startOrigin((req, res) => res.end(`live ${req.url}`));
  try {
    await replaying(["-S", flowFile, ...OFFLINE, "--set", "keepserving=true"], async (proxy) => {
      assert.equal((await askAll(proxy, recording)).map(summary), recorded.map(summary));
      // The last answer's client has gone (its disconnect logged): a proxy without keepserving stops there.
      await waitFor(
        () => proxy.stdout().split("client disconnect").length > recording.length,
        "every client's disconnect in the log",
      );
      assert.is(summary(await ask(proxy, { url: `http://127.0.0.1:${live.port}/later` })), "200 live /later");
      assert.is(proxy.child.exitCode, null);
    });
  } finally {
    await live.close();
  }
});

test.run();
