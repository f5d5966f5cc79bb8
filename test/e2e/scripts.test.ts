// Script addons through the CLI (SEMANTICS.md §5): `-s file.ts` answers
// locally, a save is live without restarting (the save-to-active latency is
// measured and printed, never asserted), a broken save keeps the old version
// and is logged with file:line:column, a script's own option is set with
// --set, start-up errors are one line with a non-zero exit, a failure inside an sdk helper
// names its class and the script's line, and a type error is a warning while the script runs.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  curl,
  removeDir,
  runCli,
  sleep,
  startOrigin,
  startProxy,
  testConfdir,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import { median, scriptDir, type ScriptDir } from "../helpers/scripts.ts";

/** A bound on how long a reload may take before a test gives up (not a threshold under test; generous for a busy machine). */
const RELOAD_DEADLINE_MS = 30_000;

/** A script answering `/hello` locally with `hello <version>` (and throwing on `/crash`). */
function helloScript(version: string): string {
  return `import { Response, type Addon, type HTTPFlow } from "@interloper/sdk";

const addon: Addon = {
  name: "hello",
  request(flow: HTTPFlow) {
    if (flow.request.path === "/crash") {
      throw new Error("crash in ${version}");
    }
    if (flow.request.path === "/hello") {
      flow.response = Response.make(200, "hello ${version}", { "content-type": "text/plain" });
    }
  },
};
export default addon;
`;
}

interface Running {
  dir: ScriptDir;
  file: string;
  origin: Origin;
  proxy: ProxyProcess;
  get(path: string): Promise<{ code: number | null; body: string; stderr: string }>;
}

const cleanups: Array<() => Promise<void> | void> = [];

async function run(script: string, extraArgs: string[] = []): Promise<Running> {
  const dir = scriptDir("interloper-e2e-scripts-");
  cleanups.push(() => dir.remove());
  const file = dir.write("hello.ts", script);
  const origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
  cleanups.push(() => origin.close());
  const proxy = await startProxy(["-s", file, ...extraArgs], { trustOrigin: false });
  cleanups.push(async () => {
    await proxy.stop();
  });
  const get = async (path: string) => {
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${origin.port}${path}`]);
    return { code: r.code, body: r.stdout.toString(), stderr: r.stderr };
  };
  return { dir, file, origin, proxy, get };
}

/** Polls `/hello` through the proxy until it answers `body` (bounded); returns whether it did. */
async function pollUntil(
  r: Running,
  path: string,
  body: string,
  timeoutMs = RELOAD_DEADLINE_MS,
): Promise<{ ok: boolean; last: string }> {
  const end = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const res = await r.get(path);
    last = res.code === 0 ? res.body : `curl exit ${res.code}: ${res.stderr}`;
    if (last === body) return { ok: true, last };
    if (Date.now() > end) return { ok: false, last };
    await sleep(2);
  }
}

/**
 * The loader does not wait for its file watcher to be ready before the proxy
 * listens (see the unit test "a save made right after the script loaded is not
 * lost"): saves `script(tag)` until the proxy serves `expect(tag)`, with a fresh
 * tag per attempt, so that the saves a test then makes are seen.
 */
async function warmUp(
  r: Running,
  path: string,
  script: (tag: string) => string,
  expect: (tag: string) => string,
): Promise<void> {
  const end = Date.now() + RELOAD_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    const tag = `warm${attempt}`;
    writeFileSync(r.file, script(tag));
    // Each attempt waits longer: on a busy machine one reload can take longer than the first wait.
    const got = await pollUntil(r, path, expect(tag), 1500 * attempt);
    if (got.ok) return;
    if (Date.now() > end)
      throw new Error(`the proxy never served a saved version; ${path} answers: ${got.last}\n${output(r.proxy)}`);
  }
}

function output(p: ProxyProcess): string {
  return `${p.stdout()}${p.stderr()}`;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test.after.each(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

test.after(() => {
  removeDir(testConfdir());
});

test("-s script.ts: the script answers /hello locally, other requests reach the origin", async () => {
  const r = await run(helloScript("v1"));
  const hello = await r.get("/hello");
  assert.is(hello.code, 0, hello.stderr);
  assert.is(hello.body, "hello v1");
  const other = await r.get("/other");
  assert.is(other.body, "origin /other");
  assert.equal(
    r.origin.requests.map((q) => q.url),
    ["/other"],
    "the origin never saw /hello",
  );
  assert.match(r.proxy.stdout(), `loaded ${r.file}`);
});

test("an exception in the script's hook is logged with addon, hook and .ts file:line; the flow goes on", async () => {
  const r = await run(helloScript("v1"));
  const res = await r.get("/crash");
  assert.is(res.body, "origin /crash", "the request went on to the origin");
  // Line 7 of hello.ts is the `throw`.
  const m = await r.proxy.waitForOutput(/addon hello failed in request: crash in v1[^\n]*/);
  assert.match(m[0], new RegExp(`addon hello failed in request: crash in v1 \\(at ${escapeRe(r.file)}:7:\\d+\\)$`));
});

test("a failure inside an sdk helper names its class and the script's line; a type error is a warning, the code runs", async () => {
  const script = `import { defineAddon, Response } from "@interloper/sdk";

export default defineAddon({
  name: "rewrite-json",
  response(flow) {
    if (flow.request.path !== "/json") return;
    const data = flow.response!.json() as { n: number };
    flow.response!.setJson({ n: data.n + 1 });
  },
  request(flow) {
    const label: number = "typed wrong";
    if (flow.request.path === "/label") flow.response = Response.make(200, String(label));
  },
});
`;
  const r = await run(script);
  const bad = await r.get("/json");
  assert.is(bad.body, "origin /json", "the response went on unchanged");
  const failed = await r.proxy.waitForOutput(/addon rewrite-json failed in response: [^\n]*/);
  assert.match(
    failed[0],
    new RegExp(`^addon rewrite-json failed in response: SyntaxError: .* \\(at ${escapeRe(r.file)}:7:\\d+\\)$`),
  );
  // The type checker loads the compiler in a worker on first use: generous on a busy machine.
  const typed = await r.proxy.waitForOutput(/type error at [^\n]*/, 2 * RELOAD_DEADLINE_MS);
  assert.match(typed[0], `type error at ${r.file}:11:11: Type 'string' is not assignable to type 'number'.`);
  assert.is((await r.get("/label")).body, "typed wrong", "the script runs despite its type error");
});

test("a saved change is served without restarting; the median save-to-active latency of 20 saves is printed", async () => {
  const r = await run(helloScript("v1"));
  assert.is((await r.get("/hello")).body, "hello v1");
  const pid = r.proxy.child.pid;
  await warmUp(r, "/hello", helloScript, (tag) => `hello ${tag}`);
  const reloadsBefore = r.proxy.stdout().match(new RegExp(`reloaded ${escapeRe(r.file)}`, "g"))?.length ?? 0;
  const latencies: number[] = [];
  for (let i = 2; i <= 21; i++) {
    const want = `hello v${i}`;
    const t0 = performance.now();
    writeFileSync(r.file, helloScript(`v${i}`));
    const got = await pollUntil(r, "/hello", want);
    const ms = performance.now() - t0;
    assert.ok(got.ok, `save #${i - 1} was not picked up within the deadline; /hello answers: ${got.last}`);
    latencies.push(ms);
  }
  console.log(
    `save-to-active latency over ${latencies.length} saves (polling curl through the proxy): median ${median(latencies).toFixed(1)} ms, ` +
      `min ${Math.min(...latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  );
  assert.is(r.proxy.child.pid, pid);
  assert.is(r.proxy.child.exitCode, null, "the proxy was not restarted");
  assert.is(r.proxy.stdout().match(/Proxy server listening/g)?.length, 1);
  assert.is(
    r.proxy.stdout().match(new RegExp(`reloaded ${escapeRe(r.file)}`, "g"))?.length,
    reloadsBefore + 20,
    "one reload per save",
  );
});

test("a broken save: the proxy goes on serving the old version and logs the error with file:line:column", async () => {
  const r = await run(helloScript("v1"));
  await warmUp(r, "/hello", helloScript, (tag) => `hello ${tag}`);
  writeFileSync(r.file, helloScript("v2"));
  assert.ok((await pollUntil(r, "/hello", "hello v2")).ok, output(r.proxy));
  // Line 4, column 20 is the unexpected ')'.
  const broken = `import { Response } from "@interloper/sdk";\nexport default {\n  request(flow: any) {\n    const x = (1 + );\n    flow.response = Response.make(200, "broken");\n  },\n};\n`;
  writeFileSync(r.file, broken);
  const m = await r.proxy.waitForOutput(/reloading [^\n]* failed[^\n]*/, RELOAD_DEADLINE_MS);
  assert.match(m[0], `reloading ${r.file} failed, the previous version stays active: ${r.file}:4:20: `);
  const res = await r.get("/hello");
  assert.is(res.body, "hello v2", "the last good version still answers");
  assert.is(r.proxy.child.exitCode, null);
  // Fixing the file brings the new version.
  writeFileSync(r.file, helloScript("v3"));
  const fixed = await pollUntil(r, "/hello", "hello v3");
  assert.ok(fixed.ok, `the fix was not loaded: ${fixed.last}\n${output(r.proxy)}`);
});

test("--set my_option=… sets an option the script defines in `load`; it keeps its value across reloads", async () => {
  const optionScript = (
    tag: string,
  ) => `import { Response, type Addon, type Loader, type OptionsView } from "@interloper/sdk";

let options: OptionsView | undefined;
export default {
  name: "opt",
  load(loader: Loader) {
    loader.addOption({ name: "myOption", type: "string", default: "the default", help: "What /option answers." });
    options = loader.options;
  },
  request(flow) {
    if (flow.request.path === "/option") flow.response = Response.make(200, "${tag}:" + options!.get<string>("myOption"));
  },
} satisfies Addon;
`;
  const r = await run(optionScript("v1"), ["--set", "my_option=from the command line"]);
  assert.is((await r.get("/option")).body, "v1:from the command line");
  await warmUp(r, "/option", optionScript, (tag) => `${tag}:from the command line`);
  writeFileSync(r.file, optionScript("v2"));
  const after = await pollUntil(r, "/option", "v2:from the command line");
  assert.ok(after.ok, `after a reload /option answers: ${after.last}`);
  await r.proxy.stop();

  // Without --set, the script's default.
  const r2 = await run(optionScript("v1"));
  assert.is((await r2.get("/option")).body, "v1:the default");
});

test("start-up: a missing script is one line naming it, and a non-zero exit", async () => {
  const dir = scriptDir("interloper-e2e-scripts-");
  cleanups.push(() => dir.remove());
  const missing = dir.path("missing.ts");
  const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--set", `confdir=${dir.dir}`, "-s", missing]);
  assert.ok(r.code !== 0 && r.code !== null, `exit code ${r.code}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.is(lines.length, 1, r.stderr);
  assert.is(lines[0], `interloper: script not found: ${missing}`);
  assert.not.match(r.stdout, "listening");
});

test("start-up: a script with a syntax error is one line with file:line:column, and a non-zero exit", async () => {
  const dir = scriptDir("interloper-e2e-scripts-");
  cleanups.push(() => dir.remove());
  // Line 3, column 13 is the unexpected ';'.
  const file = dir.write("broken.ts", `export default {\n  request(flow: any) {\n    let x = ;\n  },\n};\n`);
  const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--set", `confdir=${dir.dir}`, "-s", file]);
  assert.ok(r.code !== 0 && r.code !== null, `exit code ${r.code}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^interloper: cannot load script ${escapeRe(file)}: ${escapeRe(file)}:3:13: `));
  assert.not.match(r.stdout, "listening");
});

test.run();
