// The sdk powers the web UI needs, for every addon: pausing a flow (`flow.intercept()`,
// held after the hook chain until `resume()` or `kill()`), the built-in `intercept` option,
// changing options at run time (`loader.setOptions`), listing options and addons with their
// state, reloading an addon, noting an addon's error.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HookName, Loader } from "../../sdk/src/addon.ts";
import type { AnyFlow } from "../../sdk/src/flow.ts";
import { OptionError } from "../../sdk/src/options.ts";
import { AddonHost } from "../../sdk/src/host.ts";
import { testContext, testFlow, testTcpFlow } from "@interloper/sdk/testing";
import { Intercept } from "../../addons/intercept.ts";

/** Lets promise jobs and one macrotask run, so "still waiting" is observable without timing. */
const tick = () => new Promise<void>((r) => setImmediate(r));
async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

/** Runs `promise` and reports whether it settled. */
function watch(promise: Promise<unknown>): { done: () => boolean } {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { done: () => done };
}

const pauseIn = (hook: HookName): Addon => ({
  name: "pauser",
  [hook]: (flow: AnyFlow) => flow.intercept(),
});

for (const hook of ["requestheaders", "request", "responseheaders", "response"] as const) {
  test(`a flow paused in ${hook} is held after the whole chain until resumed`, async () => {
    const after: string[] = [];
    const later: Addon = { name: "later", [hook]: () => void after.push(hook) };
    const ctx = await testContext([pauseIn(hook), later]);
    const held: [AnyFlow, HookName][] = [];
    const resumed: AnyFlow[] = [];
    ctx.host.events.on("intercept", (f, h) => held.push([f, h]));
    ctx.host.events.on("resume", (f) => resumed.push(f));
    const flow = testFlow();
    const run = watch(ctx.http(flow, { status: 200, body: "ok" }));
    await ticks();
    assert.not.ok(run.done(), "the flow waits");
    assert.ok(flow.intercepted);
    assert.equal(after, [hook], "the addons after the pausing one ran first (mitmproxy waits after the chain)");
    assert.equal(held.length, 1);
    assert.is(held[0]![0], flow);
    assert.is(held[0]![1], hook);
    flow.resume();
    await ticks();
    assert.ok(run.done(), "resumed: the flow goes on");
    assert.not.ok(flow.intercepted);
    assert.equal(resumed, [flow]);
    assert.is(flow.response?.status, 200);
  });
}

test("kill releases a paused flow (and marks it killed)", async () => {
  const ctx = await testContext(pauseIn("request"));
  const flow = testFlow();
  let resumedKilled: boolean | undefined;
  ctx.host.events.on("resume", (f) => (resumedKilled = f.killed));
  const run = watch(ctx.http(flow));
  await ticks();
  assert.not.ok(run.done());
  flow.kill();
  await ticks();
  assert.ok(run.done());
  assert.ok(flow.killed);
  assert.not.ok(flow.intercepted);
  assert.is(resumedKilled, true);
  assert.is(flow.response, undefined, "a killed flow goes no further");
});

test("a flow paused outside a hook waits at the next pausing hook", async () => {
  const ctx = await testContext({ name: "noop" });
  const flow = testFlow();
  flow.intercept();
  const run = watch(ctx.trigger("requestheaders", flow));
  await ticks();
  assert.not.ok(run.done(), "held even though no addon has requestheaders");
  flow.resume();
  await ticks();
  assert.ok(run.done());
});

test("hooks that hold nothing (error, tcpEnd, websocketStart) do not wait", async () => {
  const ctx = await testContext({ name: "noop", error() {} });
  const flow = testFlow();
  flow.intercept();
  await ctx.trigger("error", flow);
  await ctx.trigger("websocketStart", flow);
  const tcp = testTcpFlow();
  tcp.intercept();
  await ctx.trigger("tcpEnd", tcp);
  assert.ok(flow.intercepted, "still marked: only the wait is skipped");
});

test("a TCP message is held like an HTTP hook", async () => {
  const ctx = await testContext(pauseIn("tcpMessage"));
  const flow = testTcpFlow();
  const run = watch(ctx.trigger("tcpMessage", flow));
  await ticks();
  assert.not.ok(run.done());
  flow.resume();
  await ticks();
  assert.ok(run.done());
});

test("flows that are not live (read from a file) never wait", async () => {
  const ctx = await testContext(pauseIn("request"));
  const flow = testFlow();
  flow.live = false;
  await ctx.http(flow);
  assert.ok(flow.intercepted, "marked, as mitmproxy marks it, but not held");
});

test("resume without a pause does nothing; intercept twice needs one resume", async () => {
  const flow = testFlow();
  flow.resume();
  assert.not.ok(flow.intercepted);
  assert.is(flow.waitForResume(), undefined);
  flow.intercept();
  flow.intercept();
  const wait = flow.waitForResume()!;
  assert.is(flow.waitForResume(), wait, "one wait however often it is asked for");
  const w = watch(wait);
  flow.resume();
  await ticks();
  assert.ok(w.done());
  assert.ok(flow.copy().intercepted === false, "a copy is never paused");
});

test("a synchronous chain stays synchronous when nothing is paused", async () => {
  const host = new AddonHost();
  await host.add({ name: "sync", request() {} });
  const flow = testFlow();
  assert.is(host.trigger("request", flow), undefined);
  assert.is(host.trigger("requestheaders", flow), undefined, "no handler, not paused");
});

// The intercept addon: mitmproxy's `intercept` and `intercept_active`.

test("intercept: matching requests pause, others go on; replayed flows are left alone", async () => {
  const ctx = await testContext(new Intercept(), { intercept: "~d paused\\.test" });
  assert.is(ctx.host.options.get("interceptActive"), true, "setting a filter turns it on");
  const other = testFlow({ url: "http://other.test/" });
  await ctx.http(other);
  assert.not.ok(other.intercepted);
  const flow = testFlow({ url: "http://paused.test/x" });
  const run = watch(ctx.http(flow, { status: 204 }));
  await ticks();
  assert.ok(flow.intercepted);
  assert.is(flow.response, undefined, "held in request, before the server");
  flow.resume();
  await ticks();
  assert.ok(flow.intercepted, "paused again in response");
  flow.resume();
  await ticks();
  assert.ok(run.done());
  const replayed = testFlow({ url: "http://paused.test/again" });
  replayed.isReplay = "request";
  await ctx.http(replayed);
  assert.not.ok(replayed.intercepted);
});

test("intercept: interceptActive=false stops pausing, clearing the filter turns it off", async () => {
  const ctx = await testContext(new Intercept(), { intercept: "~u /x" });
  await ctx.setOptions({ interceptActive: false });
  const flow = testFlow({ url: "http://h.test/x" });
  await ctx.http(flow);
  assert.not.ok(flow.intercepted);
  await ctx.setOptions({ interceptActive: true });
  await ctx.setOptions({ intercept: undefined });
  assert.is(ctx.host.options.get("interceptActive"), false);
});

test("intercept: a bad filter is refused in one line and the old one stays", async () => {
  const ctx = await testContext(new Intercept(), { intercept: "~m GET" });
  let err: unknown;
  try {
    await ctx.setOptions({ intercept: "~m GET &" });
  } catch (e) {
    err = e;
  }
  assert.instance(err, OptionError);
  assert.match((err as Error).message, /^invalid value for intercept: invalid filter at column \d+: /);
  assert.not.match((err as Error).message, /\n/);
  assert.is(ctx.host.options.get("intercept"), "~m GET");
  const flow = testFlow({ method: "GET" });
  const run = watch(ctx.http(flow));
  await ticks();
  assert.ok(flow.intercepted, "the old filter still works");
  flow.kill();
  await ticks();
  assert.ok(run.done());
});

// Options at run time.

/** An addon that keeps its loader and records what configure saw. */
function keeper(): Addon & { loader?: Loader; seen: string[][] } {
  const a: Addon & { loader?: Loader; seen: string[][] } = {
    name: "keeper",
    seen: [],
    load(loader) {
      a.loader = loader;
      loader.addOption({ name: "keeperLimit", type: "number", default: 3, help: "A limit." });
      loader.addOption({ name: "keeperOn", type: "bool", default: false, help: "A switch." });
      loader.addOption({ name: "keeperMode", type: "string", default: "a", choices: ["a", "b"], help: "A mode." });
      loader.addOption({ name: "keeperList", type: "strings", default: [], help: "A list." });
      loader.addOption<string | undefined>({
        name: "keeperName",
        type: "optional-string",
        default: undefined,
        help: "A name.",
      });
    },
    configure(updated) {
      a.seen.push([...updated].sort());
    },
  };
  return a;
}

test("loader.setOptions: typed values, or strings read as --set reads them; configure sees the change", async () => {
  const k = keeper();
  const ctx = await testContext(k);
  const updated = await k.loader!.setOptions({ keeper_limit: "7", keeperOn: "true", keeperMode: "b", keeperList: "x" });
  assert.equal([...updated].sort(), ["keeperLimit", "keeperList", "keeperMode", "keeperOn"]);
  assert.is(ctx.host.options.get("keeperLimit"), 7);
  assert.is(ctx.host.options.get("keeperOn"), true);
  assert.equal(ctx.host.options.get("keeperList"), ["x"]);
  assert.equal(k.seen[k.seen.length - 1], ["keeperLimit", "keeperList", "keeperMode", "keeperOn"]);
  await k.loader!.setOptions({ keeperName: "n" });
  await k.loader!.setOptions({ keeperName: null });
  assert.is(ctx.host.options.get("keeperName"), undefined, "null unsets an optional string");
});

test("loader.setOptions: a refused value throws the registry's line and changes nothing", async () => {
  const k = keeper();
  const ctx = await testContext(k);
  for (const bad of [{ keeperLimit: "lots" }, { keeperMode: "c" }, { keeperOn: 3 }, { keeperLimt: 1 }]) {
    let err: unknown;
    try {
      await k.loader!.setOptions({ keeperLimit: 9, ...bad });
    } catch (e) {
      err = e;
    }
    assert.instance(err, OptionError, JSON.stringify(bad));
    assert.not.match((err as Error).message, /\n/);
    assert.is(ctx.host.options.get("keeperLimit"), 3, `nothing changed for ${JSON.stringify(bad)}`);
  }
});

test("listOptions: spec, value and owner of every option", async () => {
  const k = keeper();
  const ctx = await testContext(k, { keeperLimit: 5 });
  ctx.host.addOption({ name: "coreThing", type: "bool", default: true, help: "The core's." });
  const list = k.loader!.listOptions();
  const limit = list.find((o) => o.name === "keeperLimit")!;
  assert.equal(
    { ...limit },
    { name: "keeperLimit", type: "number", default: 3, value: 5, help: "A limit.", owner: "keeper" },
  );
  assert.equal(list.find((o) => o.name === "keeperMode")!.choices, ["a", "b"]);
  assert.is(list.find((o) => o.name === "coreThing")!.owner, undefined);
});

// Addons and their state.

test("listAddons: chain order, kind and source, hooks, options, load time, recent log", async () => {
  const k = keeper();
  const parent: Addon & { loader?: Loader } = {
    name: "parent",
    load(loader) {
      parent.loader = loader;
    },
  };
  const ctx = await testContext([parent, k]);
  const child: Addon = { name: "child", request() {}, response() {} };
  let reloads = 0;
  await parent.loader!.addChild(child, {
    kind: "script",
    source: "/tmp/child.ts",
    reload: async () => void reloads++,
  });
  for (let i = 0; i < 60; i++) k.loader!.log.info(`line ${i}`);
  const list = k.loader!.listAddons();
  assert.equal(
    list.map((a) => [a.name, a.parent, a.kind, a.source]),
    [
      ["parent", undefined, "built-in", undefined],
      ["child", "parent", "script", "/tmp/child.ts"],
      ["keeper", undefined, "built-in", undefined],
    ],
  );
  const childInfo = list.find((a) => a.name === "child")!;
  assert.equal(childInfo.hooks, ["request", "response"]);
  assert.ok(childInfo.reloadable);
  assert.ok(typeof childInfo.loadedAt === "number");
  const keeperInfo = list.find((a) => a.name === "keeper")!;
  assert.equal(keeperInfo.options.sort(), ["keeperLimit", "keeperList", "keeperMode", "keeperName", "keeperOn"]);
  assert.not.ok(keeperInfo.reloadable);
  assert.is(keeperInfo.log.length, 50, "the most recent 50 lines");
  assert.is(keeperInfo.log[49]!.message, "line 59");
  await k.loader!.reloadAddon("child");
  assert.is(reloads, 1);
  let err: unknown;
  try {
    await k.loader!.reloadAddon("keeper");
  } catch (e) {
    err = e;
  }
  assert.match(String(err), /keeper cannot be reloaded/);
  void ctx;
});

test("listAddons: a hook that throws becomes the addon's last error, with where it happened", async () => {
  const thrower: Addon = {
    name: "thrower",
    request() {
      throw new TypeError("bad thing");
    },
  };
  const k = keeper();
  const ctx = await testContext([thrower, k]);
  let told = 0;
  ctx.host.events.on("addons", () => told++);
  await ctx.http(testFlow());
  const info = k.loader!.listAddons().find((a) => a.name === "thrower")!;
  assert.is(info.lastError?.message, "failed in request: TypeError: bad thing");
  assert.match(info.lastError?.file ?? "", /sdk-intercept\.test\.ts$/);
  assert.ok((info.lastError?.line ?? 0) > 0 && (info.lastError?.column ?? 0) > 0);
  assert.ok(told >= 1, "listeners hear about it");
});

test("noteError: a loader notes a child's failure (file:line:column picked out) without logging it", async () => {
  const parent: Addon & { loader?: Loader } = {
    name: "parent",
    load(loader) {
      parent.loader = loader;
    },
  };
  const ctx = await testContext(parent);
  const child: Addon = { name: "kid" };
  await parent.loader!.addChild(child);
  const before = ctx.logs.length;
  parent.loader!.noteError("reloading failed: /home/u/addon.ts:12:7: Expected ';' but found 'x'", child);
  assert.is(ctx.logs.length, before, "nothing logged");
  const info = parent.loader!.listAddons().find((a) => a.name === "kid")!;
  assert.equal(
    { file: info.lastError?.file, line: info.lastError?.line, column: info.lastError?.column },
    { file: "/home/u/addon.ts", line: 12, column: 7 },
  );
  parent.loader!.noteError("no place here");
  const own = parent.loader!.listAddons().find((a) => a.name === "parent")!;
  assert.is(own.lastError?.message, "no place here");
  assert.is(own.lastError?.file, undefined);
});

test.run();
