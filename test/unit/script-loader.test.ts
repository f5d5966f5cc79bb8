// The script loader of addons/script-loader.ts (SEMANTICS.md §5), driven
// inside a real AddonHost with real files in temp folders: first load, hot
// reload on save (plain, atomic, delete + recreate, local imports), the last
// good version kept on broken saves, the lifecycle order, reload state, the
// shapes of a default export, the errors of the `scripts` option, replacing a
// built-in addon by name, npm and sdk imports, and stack traces that point at
// the user's .ts file.
//
// Scripts write what they observe into a global of their own on `globalThis`
// (each test uses a fresh name), since they run in the test's process.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AddonHost } from "@interloper/sdk/host";
import { HTTPFlow, OptionError, Request, Response, type Addon, type LogEntry } from "@interloper/sdk";
import { ScriptLoader, type ReloadListener } from "../../addons/script-loader.ts";
import { bundleScript } from "../../addons/scripts/bundle.ts";
import { Response as SdkSourceResponse } from "../../sdk/src/flow.ts";
import { ROOT, sleep, waitFor } from "../helpers/harness.ts";
import { atomicWrite, deleteAndRecreate, scriptDir, type ScriptDir } from "../helpers/scripts.ts";
import { testClient, testServer } from "@interloper/sdk/testing";

type ReloadEvent = Parameters<ReloadListener>[0];

/** How long a reload may take before a test gives up (a bound, not a threshold under test). */
const RELOAD_DEADLINE_MS = 10_000;

// ---------------------------------------------------------------- fixtures

const client = testClient({ id: "c1", timestampStart: 0 });
const server = () => testServer({ host: "example.com", port: 80 }, { id: "s1" });

/** Runs a fresh flow through the `request` hook and returns it. */
async function request(host: AddonHost, path = "/"): Promise<HTTPFlow> {
  const flow = new HTTPFlow(client, server(), new Request({ host: "example.com", path }));
  await host.trigger("request", flow);
  return flow;
}

let globalSeq = 0;
/** A fresh global name for a test's scripts to record into. */
function freshGlobal(): string {
  return `__scriptLoaderTest${process.pid}_${++globalSeq}`;
}
function recorded<T = string>(name: string): T[] {
  const g = globalThis as Record<string, unknown>;
  return ((g[name] as T[] | undefined) ??= []);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A script recording its lifecycle calls (tagged with `version`) into the
 * global `g`, and answering `request` by setting `flow.metadata.v`.
 */
function lifecycleScript(g: string, version: string, name = "rec"): string {
  return `const calls: string[] = ((globalThis as any).${g} ??= []);
export default {
  name: ${JSON.stringify(name)},
  load() { calls.push("${version}.load"); },
  configure(updated: ReadonlySet<string>) { calls.push("${version}.configure" + (updated.has("scripts") ? "(all)" : "")); },
  running() { calls.push("${version}.running"); },
  done() { calls.push("${version}.done"); },
  request(flow: any) { flow.metadata.v = "${version}"; },
};
`;
}

/** A minimal script: `request` sets `flow.metadata.v = value`. */
function valueScript(value: string, name = "value"): string {
  return `export default { name: ${JSON.stringify(name)}, request(flow: any) { flow.metadata.v = ${JSON.stringify(value)}; } };\n`;
}

interface Ctx {
  dir: ScriptDir;
  host: AddonHost;
  loader: ScriptLoader;
  logs: LogEntry[];
  events: ReloadEvent[];
  errors(): string[];
  stopped: boolean;
}

const open: Ctx[] = [];

/** A host with a script loader, then `after` addons; files written into a temp folder; `scripts` loaded; the host started. */
async function setup(opts: {
  files: Record<string, string>;
  scripts?: string[];
  after?: Addon[];
  base?: string;
  /** Wait until the watcher reports saves (default true): see `settle`. */
  settle?: boolean;
}): Promise<Ctx> {
  const dir = opts.base ? scriptDir("tmp-script-loader-", opts.base) : scriptDir("interloper-script-loader-");
  for (const [name, content] of Object.entries(opts.files)) dir.write(name, content);
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  const loader = new ScriptLoader();
  const events: ReloadEvent[] = [];
  loader.onReload((e) => events.push(e));
  const ctx: Ctx = {
    dir,
    host,
    loader,
    logs,
    events,
    errors: () => logs.filter((e) => e.level === "error").map((e) => e.message),
    stopped: false,
  };
  open.push(ctx);
  await host.add(loader);
  for (const a of opts.after ?? []) await host.add(a);
  const scripts = (opts.scripts ?? Object.keys(opts.files).slice(0, 1)).map((n) => dir.path(n));
  await host.setOptions({ scripts });
  await host.start();
  if (opts.settle !== false) for (const s of scripts) await settle(ctx, s);
  return ctx;
}

/**
 * Waits until the loader's watcher reports saves of `file`: rewrites it with
 * the same content until a reload attempt (an unchanged one) is reported.
 * The loader does not wait for its watcher to be ready (see the test "a save
 * made right after the script loaded is not lost"), so tests about reloading
 * start from here.
 */
async function settle(ctx: Ctx, file: string): Promise<void> {
  const content = readFileSync(file);
  const end = Date.now() + Math.max(RELOAD_DEADLINE_MS, 30_000);
  // Each attempt waits longer than the last: on a busy machine one reload can take longer than any fixed wait.
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    const from = ctx.events.length;
    writeFileSync(file, content);
    try {
      await waitFor(() => ctx.events.slice(from).find((e) => !e.changed), "an unchanged reload", wait);
      return;
    } catch {
      if (Date.now() > end) throw new Error(`the loader never reported a save of ${file}`);
    }
  }
}

/** Does `action` and waits for the first reload event after it that matches `pred` (changed ones by default). */
async function reloadAfter(
  ctx: Ctx,
  action: () => void,
  what: string,
  pred: (e: ReloadEvent) => boolean = (e) => e.changed,
): Promise<ReloadEvent> {
  const from = ctx.events.length;
  action();
  return waitFor(
    () => ctx.events.slice(from).find(pred),
    `${what}; reload events so far: ${JSON.stringify(ctx.events.slice(from))}`,
    RELOAD_DEADLINE_MS,
  );
}

/** Polls until `request` sets `metadata.v` to `value` (bounded), and returns the last seen value otherwise. */
async function waitForValue(ctx: Ctx, value: unknown, timeoutMs = RELOAD_DEADLINE_MS): Promise<unknown> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = (await request(ctx.host)).metadata.v;
    if (last === value || Date.now() > end) return last;
    await sleep(20);
  }
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.unreachable("expected a rejection");
  throw new Error("unreachable");
}

test.after.each(async () => {
  for (const ctx of open.splice(0)) {
    try {
      if (!ctx.stopped) await ctx.host.stop();
    } finally {
      ctx.dir.remove();
    }
  }
});

// ---------------------------------------------------------------- loading and reloading

test("first load: the script's hooks run in the chain; load → configure (all options) → running", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") }, settle: false });
  assert.equal(recorded(g), ["v1.load", "v1.configure(all)", "v1.running"]);
  assert.is((await request(ctx.host)).metadata.v, "v1");
  assert.ok(
    ctx.logs.some((e) => e.level === "info" && e.message === `loaded ${ctx.dir.path("a.ts")}`),
    "the log says the script was loaded",
  );
  assert.equal(ctx.errors(), []);
});

test("a change to the file reloads it: the new behaviour is active, the old one is gone", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("one") } });
  assert.is((await request(ctx.host)).metadata.v, "one");
  const ev = await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("a.ts"), valueScript("two")),
    "the reload after a save",
  );
  assert.equal(ev, { spec: ctx.dir.path("a.ts"), ok: true, changed: true });
  assert.is((await request(ctx.host)).metadata.v, "two");
  assert.ok(ctx.logs.some((e) => e.message === `reloaded ${ctx.dir.path("a.ts")}`));
  await reloadAfter(ctx, () => writeFileSync(ctx.dir.path("a.ts"), valueScript("three")), "the second reload");
  assert.is((await request(ctx.host)).metadata.v, "three");
  // One addon in the chain for the script, not one per version.
  assert.is(ctx.host.chain.filter((a) => a.name === "value").length, 1);
  assert.equal(ctx.errors(), []);
});

test("a save with identical content does nothing: no reload with changed=true, `load` not called again", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  const before = [...recorded(g)];
  const from = ctx.events.length;
  const ev = await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("a.ts"), lifecycleScript(g, "v1")),
    "the unchanged reload",
    () => true,
  );
  assert.equal(ev, { spec: ctx.dir.path("a.ts"), ok: true, changed: false });
  // The same through an atomic save.
  await reloadAfter(
    ctx,
    () => atomicWrite(ctx.dir.path("a.ts"), lifecycleScript(g, "v1")),
    "the unchanged reload after an atomic save",
    () => true,
  );
  assert.equal(recorded(g), before, "no lifecycle call: neither done nor load");
  assert.ok(
    ctx.events.slice(from).every((e) => !e.changed),
    JSON.stringify(ctx.events.slice(from)),
  );
  assert.is((await request(ctx.host)).metadata.v, "v1");
});

test("a reload asked for is not lost to a save that lands while it builds (even one that changes nothing)", async () => {
  const g = freshGlobal();
  // A large local import keeps the build busy long enough for the save to land during it.
  const blob = `export const blob = [\n${Array.from({ length: 40_000 }, (_, i) => `  "${"x".repeat(200)}${i}",`).join("\n")}\n];\n`;
  const script = `import { blob } from "./blob.ts";\n${lifecycleScript(g, "v1").replace("load() {", "load() { void blob.length;")}`;
  const ctx = await setup({ files: { "a.ts": script, "blob.ts": blob } });
  const file = ctx.dir.path("a.ts");
  const loads = () => recorded(g).filter((c) => c === "v1.load").length;
  assert.is(loads(), 1);
  const from = ctx.events.length;
  const asked = ctx.host.reloadAddon("rec");
  // The same bytes saved again while the asked-for build runs: its own reload has nothing to swap.
  await sleep(20);
  writeFileSync(file, script);
  await asked;
  assert.ok(
    ctx.events.slice(from).some((e) => e.ok && e.changed),
    `the asked-for reload swapped the script: ${JSON.stringify(ctx.events.slice(from))}`,
  );
  assert.is(loads(), 2, "load ran again");
  assert.equal(ctx.errors(), []);
});

test("an atomic save (temp file renamed over the script) reloads it, save after save", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("v1") } });
  const file = ctx.dir.path("a.ts");
  for (let i = 2; i <= 4; i++) {
    const ev = await reloadAfter(
      ctx,
      () => atomicWrite(file, valueScript(`v${i}`)),
      `the reload after atomic save #${i - 1}`,
    );
    assert.is(ev.ok, true);
    assert.is((await request(ctx.host)).metadata.v, `v${i}`);
  }
  // A plain save after the renames is still seen (the watch follows the new file).
  await reloadAfter(
    ctx,
    () => writeFileSync(file, valueScript("plain")),
    "the reload after a plain save that follows atomic saves",
  );
  assert.is((await request(ctx.host)).metadata.v, "plain");
});

test("a save that deletes and recreates the file reloads it, and later saves are still seen", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("v1") } });
  const file = ctx.dir.path("a.ts");
  await reloadAfter(ctx, () => deleteAndRecreate(file, valueScript("v2")), "the reload after delete + recreate");
  assert.is((await request(ctx.host)).metadata.v, "v2", "the recreated file is loaded, not unloaded");
  // The editor saves the same way again: the new file must still be watched.
  deleteAndRecreate(file, valueScript("v3"));
  assert.is(await waitForValue(ctx, "v3"), "v3", "a second delete + recreate save is picked up");
  writeFileSync(file, valueScript("v4"));
  assert.is(await waitForValue(ctx, "v4"), "v4", "a plain save after delete + recreate is picked up");
});

test("a burst of saves ends with the last version active", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  const file = ctx.dir.path("a.ts");
  for (let i = 2; i <= 6; i++) writeFileSync(file, lifecycleScript(g, `v${i}`));
  assert.is(await waitForValue(ctx, "v6"), "v6");
  // Every version that was loaded was also unloaded again, except the last; nothing is loaded twice.
  const loads = recorded(g).filter((c) => c.endsWith(".load"));
  assert.equal(loads.length, new Set(loads).size, JSON.stringify(recorded(g)));
  assert.is(
    recorded(g).filter((c) => c.endsWith(".load")).length - recorded(g).filter((c) => c.endsWith(".done")).length,
    1,
  );
  assert.equal(ctx.errors(), []);
});

test("a save right after the script loaded is not lost", async () => {
  // No settling: the save comes as soon as setOptions() resolved (a tool that
  // starts the proxy and then writes the script, or a quick editor).
  const ctx = await setup({ files: { "a.ts": valueScript("v1") }, settle: false });
  writeFileSync(ctx.dir.path("a.ts"), valueScript("v2"));
  assert.is(await waitForValue(ctx, "v2", 3000), "v2", "the save made right after loading was picked up");
});

// ---------------------------------------------------------------- broken saves

test("a syntax error keeps the last good version; the error names file:line:column", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("good") } });
  const file = ctx.dir.path("a.ts");
  // Line 3, column 13 is the unexpected ';'.
  const broken = `export default {\n  request(flow: any) {\n    let x = ;\n    flow.metadata.v = "broken";\n  },\n};\n`;
  const ev = await reloadAfter(ctx, () => writeFileSync(file, broken), "the failed reload");
  assert.is(ev.ok, false);
  assert.ok(ev.error?.startsWith(`${file}:3:13: `), ev.error);
  const logged = ctx.errors().find((m) => m.includes("failed"));
  assert.ok(logged, "an error was logged");
  assert.match(logged, `reloading ${file} failed, the previous version stays active: ${file}:3:13: `);
  assert.is((await request(ctx.host)).metadata.v, "good", "the last good version is still active");
  assert.is(ctx.host.chain.filter((a) => a.name === "value").length, 1);
});

test("an exception in the new version's `load` keeps the old version active, and its behaviour works", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  const file = ctx.dir.path("a.ts");
  const throwing = `const calls: string[] = ((globalThis as any).${g} ??= []);
export default {
  name: "rec",
  load() {
    calls.push("v2.load");
    throw new Error("v2 does not load");
  },
  request(flow: any) { flow.metadata.v = "v2"; },
};
`;
  recorded(g).length = 0;
  const ev = await reloadAfter(ctx, () => writeFileSync(file, throwing), "the failed reload");
  assert.is(ev.ok, false);
  assert.match(ev.error ?? "", "v2 does not load");
  assert.ok(
    ctx
      .errors()
      .some((m) => m.startsWith(`reloading ${file} failed, the previous version stays active: v2 does not load`)),
    ctx.errors().join("\n"),
  );
  assert.is((await request(ctx.host)).metadata.v, "v1", "the old version answers");
  assert.is(ctx.host.chain.filter((a) => a.name === "rec").length, 1);
  // The old version was stopped for the swap and is put back in service.
  assert.equal(recorded(g), ["v1.done", "v2.load", "v1.load", "v1.configure(all)", "v1.running"]);
});

test("an exception in the new version's `load` is reported at the .ts file and line", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("v1", "thrower") } });
  const file = ctx.dir.path("a.ts");
  const throwing = `interface Unused {
  a: number;
}
export default {
  name: "thrower",
  load() {
    throw new Error("v2 does not load");
  },
};
`;
  const ev = await reloadAfter(ctx, () => writeFileSync(file, throwing), "the failed reload");
  assert.is(ev.ok, false);
  // SEMANTICS §5: "the error is logged with file:line:column" — line 7 of a.ts.
  assert.match(
    ev.error ?? "",
    new RegExp(`\\(at ${escapeRe(file)}:7:\\d+\\)`),
    `the error should point at ${file}:7:<col>, got: ${ev.error}`,
  );
  assert.is((await request(ctx.host)).metadata.v, "v1");
});

test("an exception at the top level of a script is reported at the .ts file and line (first load and reload)", async () => {
  const source = (msg: string) => `interface A {
  x: number;
}
const fail = (): never => {
  throw new Error(${JSON.stringify(msg)});
};
fail();
export default { name: "top" };
`;
  const { host, dir } = await bareHost();
  const file = dir.write("top.ts", source("top-level failure"));
  const err = await rejects(host.setOptions({ scripts: [file] }));
  assert.instance(err, OptionError);
  assert.match(err.message, `cannot load script ${file}: top-level failure`);
  // Line 5 of top.ts (the file has 8 lines); not a position in the bundle.
  assert.match(
    err.message,
    new RegExp(`\\(at ${escapeRe(file)}:5:\\d+\\)$`),
    `expected ${file}:5:<col>, got: ${err.message}`,
  );

  const ctx = await setup({ files: { "a.ts": valueScript("v1", "top") } });
  const ev = await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("a.ts"), source("top-level failure on reload")),
    "the failed reload",
  );
  assert.is(ev.ok, false);
  assert.is((await request(ctx.host)).metadata.v, "v1", "the old version stays");
  assert.match(
    ev.error ?? "",
    new RegExp(`^top-level failure on reload \\(at ${escapeRe(ctx.dir.path("a.ts"))}:5:\\d+\\)$`),
    `expected a.ts:5:<col>, got: ${ev.error}`,
  );
});

test("a fix after a broken save is loaded (after a syntax error and after a failing `load`)", async () => {
  const ctx = await setup({ files: { "a.ts": valueScript("v1") } });
  const file = ctx.dir.path("a.ts");
  await reloadAfter(ctx, () => writeFileSync(file, "export default { request( };\n"), "the syntax error");
  const fixed = await reloadAfter(ctx, () => writeFileSync(file, valueScript("v2")), "the fix of the syntax error");
  assert.is(fixed.ok, true);
  assert.is((await request(ctx.host)).metadata.v, "v2");
  const failed = await reloadAfter(
    ctx,
    () => writeFileSync(file, `export default { name: "value", load() { throw new Error("nope"); } };\n`),
    "the failing load",
  );
  assert.is(failed.ok, false);
  assert.is((await request(ctx.host)).metadata.v, "v2");
  const fixed2 = await reloadAfter(ctx, () => writeFileSync(file, valueScript("v3")), "the fix of the failing load");
  assert.is(fixed2.ok, true);
  assert.is((await request(ctx.host)).metadata.v, "v3");
});

// ---------------------------------------------------------------- deleting, imports, lifecycle, state

test("deleting the script unloads it: its hooks stop running and `done` is called", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  const file = ctx.dir.path("a.ts");
  const ev = await reloadAfter(ctx, () => unlinkSync(file), "the unload after deleting the script");
  assert.equal(ev, { spec: file, ok: true, changed: true });
  assert.is((await request(ctx.host)).metadata.v, undefined, "its request hook no longer runs");
  assert.equal(
    recorded(g).filter((c) => c === "v1.done"),
    ["v1.done"],
  );
  assert.ok(ctx.logs.some((e) => e.message === `${file} was deleted: unloading it`));
  assert.is(ctx.host.chain.filter((a) => a.name === "rec").length, 0);
});

test("a change to a locally imported file reloads the script; an import added by a reload is watched too", async () => {
  const ctx = await setup({
    files: {
      "main.ts": `import { answer } from "./lib.ts";\nexport default { name: "main", request(flow: any) { flow.metadata.v = answer; } };\n`,
      "lib.ts": `export const answer: string = "lib-1";\n`,
    },
    scripts: ["main.ts"],
  });
  assert.is((await request(ctx.host)).metadata.v, "lib-1");
  await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("lib.ts"), `export const answer: string = "lib-2";\n`),
    "the reload after a change of lib.ts",
  );
  assert.is((await request(ctx.host)).metadata.v, "lib-2");
  // An atomic save of the import.
  await reloadAfter(
    ctx,
    () => atomicWrite(ctx.dir.path("lib.ts"), `export const answer: string = "lib-3";\n`),
    "the reload after an atomic save of lib.ts",
  );
  assert.is((await request(ctx.host)).metadata.v, "lib-3");
  // The script now imports a second file.
  ctx.dir.write("other.ts", `export const suffix = "+other-1";\n`);
  await reloadAfter(
    ctx,
    () =>
      writeFileSync(
        ctx.dir.path("main.ts"),
        `import { answer } from "./lib.ts";\nimport { suffix } from "./other.ts";\nexport default { name: "main", request(flow: any) { flow.metadata.v = answer + suffix; } };\n`,
      ),
    "the reload of main.ts",
  );
  assert.is((await request(ctx.host)).metadata.v, "lib-3+other-1");
  // The watcher is told about other.ts after the reload, asynchronously (the same
  // readiness window as right after loading): wait until it reports saves.
  await settle(ctx, ctx.dir.path("other.ts"));
  await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("other.ts"), `export const suffix = "+other-2";\n`),
    "the reload after a change of the new import",
  );
  assert.is((await request(ctx.host)).metadata.v, "lib-3+other-2");
  // A syntax error in an import is reported at the import's file:line:column.
  const ev = await reloadAfter(
    ctx,
    () => writeFileSync(ctx.dir.path("other.ts"), `export const suffix = ;\n`),
    "the failed reload of a broken import",
  );
  assert.is(ev.ok, false);
  assert.ok(ev.error?.startsWith(`${ctx.dir.path("other.ts")}:1:23: `), ev.error);
  assert.is((await request(ctx.host)).metadata.v, "lib-3+other-2");
});

test("lifecycle order on reload: old done → new load → configure (all options) → running", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  assert.equal(recorded(g), ["v1.load", "v1.configure(all)", "v1.running"]);
  recorded(g).length = 0;
  await reloadAfter(ctx, () => writeFileSync(ctx.dir.path("a.ts"), lifecycleScript(g, "v2")), "the reload to v2");
  assert.equal(recorded(g), ["v1.done", "v2.load", "v2.configure(all)", "v2.running"]);
  recorded(g).length = 0;
  await reloadAfter(ctx, () => writeFileSync(ctx.dir.path("a.ts"), lifecycleScript(g, "v3")), "the reload to v3");
  assert.equal(recorded(g), ["v2.done", "v3.load", "v3.configure(all)", "v3.running"]);
  // Shutting down calls the active version's done only.
  recorded(g).length = 0;
  await ctx.host.stop();
  ctx.stopped = true;
  assert.equal(recorded(g), ["v3.done"]);
});

test("loader.state survives reloads (a counter goes on counting)", async () => {
  const g = freshGlobal();
  const counter = (tag: string) => `export default {
  name: "counter",
  load(loader: any) {
    loader.state.loads = ((loader.state.loads as number | undefined) ?? 0) + 1;
    ((globalThis as any).${g} ??= []).push("${tag}:" + loader.state.loads);
  },
  request(flow: any) { flow.metadata.v = "${tag}"; },
};
`;
  const ctx = await setup({ files: { "a.ts": counter("v1") } });
  const file = ctx.dir.path("a.ts");
  await reloadAfter(ctx, () => writeFileSync(file, counter("v2")), "reload 1");
  await reloadAfter(ctx, () => atomicWrite(file, counter("v3")), "reload 2");
  assert.equal(recorded(g), ["v1:1", "v2:2", "v3:3"]);
  // A failed reload in between does not lose the state either.
  await reloadAfter(ctx, () => writeFileSync(file, "export default {"), "a broken save");
  await reloadAfter(ctx, () => writeFileSync(file, counter("v4")), "reload 3");
  assert.equal(recorded(g), ["v1:1", "v2:2", "v3:3", "v4:4"]);
});

// ---------------------------------------------------------------- what a script exports

test("an array default export: both addons run, in order, and are reloaded together", async () => {
  const two = (v: string) => `export default [
  { name: "first", request(flow: any) { (flow.metadata.order ??= []).push("first-${v}"); } },
  { name: "second", request(flow: any) { (flow.metadata.order ??= []).push("second-${v}"); } },
];
`;
  const ctx = await setup({ files: { "a.ts": two("v1") } });
  assert.equal((await request(ctx.host)).metadata.order, ["first-v1", "second-v1"]);
  await reloadAfter(ctx, () => writeFileSync(ctx.dir.path("a.ts"), two("v2")), "the reload");
  assert.equal((await request(ctx.host)).metadata.order, ["first-v2", "second-v2"]);
  assert.equal(
    ctx.host.chain.map((a) => a.name).filter((n) => n === "first" || n === "second"),
    ["first", "second"],
  );
});

test("a class instance default export: its methods run with `this` bound to the instance", async () => {
  const ctx = await setup({
    files: {
      "a.ts": `class Counter {
  readonly name = "counter";
  private n = 0;
  request(flow: any) {
    this.n += 1;
    flow.metadata.v = this.n;
  }
}
export default new Counter();
`,
    },
  });
  assert.is((await request(ctx.host)).metadata.v, 1);
  assert.is((await request(ctx.host)).metadata.v, 2);
  assert.ok(ctx.host.chain.some((a) => a.name === "counter" && a.constructor.name === "Counter"));
});

// ---------------------------------------------------------------- errors of the `scripts` option

/** A host with only the script loader, not started. */
async function bareHost(): Promise<{ host: AddonHost; dir: ScriptDir }> {
  const dir = scriptDir();
  const host = new AddonHost();
  await host.add(new ScriptLoader({ watch: false }));
  open.push({
    dir,
    host,
    loader: undefined as unknown as ScriptLoader,
    logs: [],
    events: [],
    errors: () => [],
    stopped: false,
  });
  return { host, dir };
}

test("a missing script: OptionError 'script not found' naming it; the option keeps its old value", async () => {
  const { host, dir } = await bareHost();
  const missing = dir.path("nope.ts");
  const err = await rejects(host.setOptions({ scripts: [missing] }));
  assert.instance(err, OptionError);
  assert.is(err.message, `script not found: ${missing}`);
  assert.equal(host.options.get("scripts"), []);
  // A relative path too.
  const err2 = await rejects(host.setOptions({ scripts: ["./does/not/exist.ts"] }));
  assert.instance(err2, OptionError);
  assert.is(err2.message, "script not found: ./does/not/exist.ts");
});

test("the same script twice (also spelt differently): OptionError 'duplicate script'", async () => {
  const { host, dir } = await bareHost();
  const file = dir.write("a.ts", valueScript("x"));
  const err = await rejects(host.setOptions({ scripts: [file, file] }));
  assert.instance(err, OptionError);
  assert.is(err.message, `duplicate script: ${file}`);
  const rel = relative(process.cwd(), file);
  const err2 = await rejects(host.setOptions({ scripts: [file, rel] }));
  assert.instance(err2, OptionError);
  assert.is(err2.message, `duplicate script: ${rel}`);
  assert.equal(host.options.get("scripts"), []);
  assert.is((await request(host)).metadata.v, undefined, "nothing was loaded");
});

test("a script without a default export: OptionError naming the script", async () => {
  const { host, dir } = await bareHost();
  const file = dir.write("nodefault.ts", `export const x = 1;\nexport function request() {}\n`);
  const err = await rejects(host.setOptions({ scripts: [file] }));
  assert.instance(err, OptionError);
  assert.is(err.message, `cannot load script ${file}: it has no default export (export default { name, ...hooks })`);
  const empty = dir.write("empty.ts", `console.log;\n`);
  const err2 = await rejects(host.setOptions({ scripts: [empty] }));
  assert.instance(err2, OptionError);
  assert.match(err2.message, `cannot load script ${empty}: it has no default export`);
  assert.equal(host.options.get("scripts"), []);
});

test("a default export that is not an addon (a number, a class): OptionError naming the script", async () => {
  const { host, dir } = await bareHost();
  const num = dir.write("number.ts", `export default 42;\n`);
  const err = await rejects(host.setOptions({ scripts: [num] }));
  assert.instance(err, OptionError);
  assert.is(err.message, `cannot load script ${num}: its default export is not an addon (got number)`);
  const cls = dir.write("class.ts", `export default class Foo { request() {} }\n`);
  const err2 = await rejects(host.setOptions({ scripts: [cls] }));
  assert.instance(err2, OptionError);
  assert.match(err2.message, `cannot load script ${cls}: its default export is a function or class`);
  const badHook = dir.write("badhook.ts", `export default { name: "x", request: 5 };\n`);
  const err3 = await rejects(host.setOptions({ scripts: [badHook] }));
  assert.match(err3.message, `cannot load script ${badHook}: `);
  assert.match(err3.message, "'request' must be a function");
  assert.equal(host.options.get("scripts"), []);
  assert.equal(
    host.chain.map((a) => a.name),
    ["scriptloader"],
  );
});

test("a failing script in a list loads none of the list's new scripts; a good list afterwards loads", async () => {
  const { host, dir } = await bareHost();
  const good = dir.write("good.ts", valueScript("good", "good"));
  const bad = dir.write("bad.ts", `export default 1;\n`);
  await rejects(host.setOptions({ scripts: [good, bad] }));
  assert.equal(host.options.get("scripts"), []);
  assert.is((await request(host)).metadata.v, undefined, "the good script of the refused list is not active");
  await host.setOptions({ scripts: [good] });
  assert.is((await request(host)).metadata.v, "good");
});

// ---------------------------------------------------------------- replacing built-ins, removal

test("a script named `hosts` replaces the built-in hosts addon; the built-in comes back when the script is removed", async () => {
  const g = freshGlobal();
  const builtin: Addon = {
    name: "hosts",
    configure: () => void recorded(g).push("builtin.configure"),
    running: () => void recorded(g).push("builtin.running"),
    request: (flow) => void (flow.metadata.by = "builtin"),
  };
  const ctx = await setup({
    files: {
      "hosts.ts": `export default {
  name: "hosts",
  done() { ((globalThis as any).${g} ??= []).push("script.done"); },
  request(flow: any) { flow.metadata.by = "script"; },
};
`,
    },
    after: [builtin],
  });
  assert.is((await request(ctx.host)).metadata.by, "script", "the script answers, the built-in does not run");
  assert.is(ctx.host.chain.filter((a) => a.name === "hosts").length, 1);
  assert.ok(!ctx.host.chain.includes(builtin));
  recorded(g).length = 0;
  await ctx.host.setOptions({ scripts: [] });
  assert.is((await request(ctx.host)).metadata.by, "builtin", "the built-in is back");
  assert.ok(ctx.host.chain.includes(builtin));
  assert.equal(recorded(g), ["script.done", "builtin.configure", "builtin.running"]);
});

test("a script removed from the option is unloaded and no longer watched", async () => {
  const g = freshGlobal();
  const ctx = await setup({ files: { "a.ts": lifecycleScript(g, "v1") } });
  const file = ctx.dir.path("a.ts");
  await ctx.host.setOptions({ scripts: [] });
  assert.ok(recorded(g).includes("v1.done"));
  assert.is((await request(ctx.host)).metadata.v, undefined);
  const from = ctx.events.length;
  writeFileSync(file, lifecycleScript(g, "v2"));
  // Longer than the debounce and chokidar's atomic window: nothing may happen.
  await sleep(500);
  assert.equal(ctx.events.slice(from), []);
  assert.ok(!recorded(g).includes("v2.load"));
  assert.is((await request(ctx.host)).metadata.v, undefined);
  // Added back, it loads the file as it is now.
  await ctx.host.setOptions({ scripts: [file] });
  assert.is((await request(ctx.host)).metadata.v, "v2");
});

// ---------------------------------------------------------------- imports

test("an npm import stays external: the script gets the package node resolves from its folder", async () => {
  const g = freshGlobal();
  const source = `import forge from "node-forge";
(globalThis as any).${g} = forge;
export default {
  name: "forge",
  request(flow: any) { flow.metadata.v = forge.md.sha256.create().update("abc").digest().toHex(); },
};
`;
  // Inside /work/main so that node_modules/node-forge resolves from the script's folder.
  const ctx = await setup({ files: { "forge.ts": source }, base: ROOT, settle: false });
  const file = ctx.dir.path("forge.ts");
  const forge = createRequire(import.meta.url)("node-forge") as unknown;
  assert.ok(
    (globalThis as Record<string, unknown>)[g] === forge,
    "the script's node-forge is node's own module instance, not a bundled copy",
  );
  assert.is((await request(ctx.host)).metadata.v, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const bundle = await bundleScript(file);
  assert.equal(bundle.inputs, [file], "only the script itself is an input (and watched)");
  assert.match(bundle.code, /require\("node-forge"\)/);
  assert.ok(bundle.code.length < 20_000, "node-forge is not inlined");
});

test("@interloper/sdk imported by a script is the proxy's own instance", async () => {
  const g = freshGlobal();
  const source = `import { HTTPFlow, Response, type Addon } from "@interloper/sdk";
const addon: Addon = {
  name: "maker",
  request(flow) {
    (globalThis as any).${g} = { Response, isFlow: flow instanceof HTTPFlow };
    flow.response = Response.make(201, "made");
  },
};
export default addon;
`;
  // In a folder outside the project: only the loader can provide the sdk there.
  const ctx = await setup({ files: { "sdk.ts": source }, settle: false });
  const flow = await request(ctx.host);
  assert.ok(flow.response instanceof Response, "the script's Response is the sdk's Response");
  assert.ok(flow.response instanceof SdkSourceResponse);
  assert.is(flow.response.status, 201);
  const seen = (globalThis as unknown as Record<string, { Response: unknown; isFlow: boolean }>)[g]!;
  assert.ok(seen.Response === Response);
  assert.is(seen.isFlow, true, "the proxy's HTTPFlow is an instance of the script's HTTPFlow");
});

// ---------------------------------------------------------------- stack traces

test("an exception in a hook of a TS script is logged with the .ts file and line (also after a reload)", async () => {
  const v1 = `interface Shape {
  kind: string;
}
type Unused = Shape;
export default {
  request(flow: any) {
    if (flow.request.path === "/boom") {
      throw new Error("kaboom");
    }
    flow.metadata.v = "v1";
  },
};
`;
  const ctx = await setup({ files: { "thrower.ts": v1 } });
  const file = ctx.dir.path("thrower.ts");
  const label = basename(file);
  const flow = await request(ctx.host, "/boom");
  assert.is(flow.metadata.v, undefined);
  const line = ctx.errors().find((m) => m.includes("kaboom"));
  assert.ok(line, `an error line: ${ctx.errors().join("\n")}`);
  assert.match(
    line,
    new RegExp(`^addon ${escapeRe(label)} failed in request: kaboom \\(at ${escapeRe(file)}:8:\\d+\\)$`),
  );
  // The flow went on: a later request is answered normally.
  assert.is((await request(ctx.host)).metadata.v, "v1");

  const v2 = `export default {
  async request(flow: any) {
    await Promise.resolve();
    if (flow.request.path === "/boom") throw new Error("kaboom v2");
    flow.metadata.v = "v2";
  },
};
`;
  await reloadAfter(ctx, () => writeFileSync(file, v2), "the reload");
  await request(ctx.host, "/boom");
  const line2 = ctx.errors().find((m) => m.includes("kaboom v2"));
  assert.ok(line2, `an error line: ${ctx.errors().join("\n")}`);
  assert.match(
    line2,
    new RegExp(`^addon ${escapeRe(label)} failed in request: kaboom v2 \\(at ${escapeRe(file)}:4:\\d+\\)$`),
  );
  // The full stack (debug) names the .ts file too, not the bundle.
  const stack =
    ctx.logs.filter((e) => e.level === "debug" && e.message.includes("kaboom v2")).map((e) => e.message)[0] ?? "";
  assert.match(stack, `${file}:4:`);
  assert.not.match(stack, `${file}#`);
});

test.run();
