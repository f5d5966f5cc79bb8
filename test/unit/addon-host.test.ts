// The addon chain of sdk/src/host.ts: ordered, awaited hooks, error isolation,
// the lifecycle, sub-addons, replacing by name, live options with rollback.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, LogEntry, Loader } from "../../sdk/src/addon.ts";
import { HTTPFlow, Request } from "../../sdk/src/flow.ts";
import { AddonHost } from "../../sdk/src/host.ts";
import { OptionError, type OptionsView } from "../../sdk/src/options.ts";
import { testClient, testServer } from "@interloper/sdk/testing";

const client = testClient({ id: "c1", timestampStart: 0 });
const server = () => testServer({ host: "example.com", port: 80 }, { id: "s1" });
const flow = () => new HTTPFlow(client, server(), new Request({ host: "example.com", path: "/" }));

/** A host whose log entries are collected. */
function hostWithLog(): { host: AddonHost; logs: LogEntry[]; errors: () => string[] } {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  return { host, logs, errors: () => logs.filter((e) => e.level === "error").map((e) => withoutWhere(e.message)) };
}

/** Error lines may end with where it happened, ` (at file:line:col)`; the tests compare the rest. */
const WHERE = / \(at [^()\s]+:\d+:\d+\)$/;
const withoutWhere = (m: string) => m.replace(WHERE, "");

/** Lets pending promise jobs and one macrotask run, so "awaited" is observable without timing. */
const tick = () => new Promise<void>((r) => setImmediate(r));

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.unreachable("expected a rejection");
  throw new Error("unreachable");
}

/** An addon that records its lifecycle (and request hook) calls into `calls`. */
function recorder(name: string | undefined, calls: string[], extra: Partial<Addon> = {}): Addon {
  const tag = name ?? "anon";
  const a: Addon = {
    load: () => void calls.push(`${tag}.load`),
    configure: (updated) => void calls.push(`${tag}.configure(${[...updated].sort().join(",")})`),
    running: () => void calls.push(`${tag}.running`),
    done: () => void calls.push(`${tag}.done`),
    request: () => void calls.push(`${tag}.request`),
    ...extra,
  };
  if (name !== undefined) a.name = name;
  return a;
}

// ---------------------------------------------------------------- the chain

test("hooks run in load order, and an async addon delays the next until it has finished", async () => {
  const { host } = hostWithLog();
  const order: string[] = [];
  await host.add({
    name: "a",
    async request() {
      order.push("a:start");
      await tick();
      await tick();
      order.push("a:end");
    },
  });
  await host.add({ name: "b", request: () => void order.push("b") });
  await host.add({
    name: "c",
    request: async () => {
      await tick();
      order.push("c");
    },
  });
  await host.add({ name: "d", request: () => void order.push("d") });
  const p = host.trigger("request", flow());
  assert.instance(p, Promise);
  assert.equal(order, ["a:start"], "b must not start before a's promise settles");
  await p;
  assert.equal(order, ["a:start", "a:end", "b", "c", "d"]);
});

test("the payload mutated by one addon is what the next ones see", async () => {
  const { host } = hostWithLog();
  const seen: Array<string | null> = [];
  await host.add({ name: "setter", request: async (f) => void f.request.headers.set("x-step", "1") });
  await host.add({
    name: "appender",
    request(f) {
      seen.push(f.request.headers.get("x-step"));
      f.request.path = "/changed";
      f.request.headers.set("x-step", "2");
    },
  });
  await host.add({
    name: "reader",
    request: (f) => void seen.push(`${f.request.headers.get("x-step")} ${f.request.path}`),
  });
  const f = flow();
  await host.trigger("request", f);
  assert.equal(seen, ["1", "2 /changed"]);
  assert.is(f.request.path, "/changed");
});

test("a sync exception is logged as 'addon <name> failed in <hook>: <message>' and the chain goes on", async () => {
  const { host, logs, errors } = hostWithLog();
  const ran: string[] = [];
  await host.add({
    name: "thrower",
    request() {
      throw new Error("sync boom");
    },
  });
  await host.add({ name: "after", request: () => void ran.push("after") });
  const r = host.trigger("request", flow());
  assert.is(r, undefined, "only sync handlers: trigger stays synchronous even when one throws");
  assert.equal(ran, ["after"]);
  assert.equal(errors(), ["addon thrower failed in request: sync boom"]);
  const line = logs.find((e) => e.level === "error")!.message;
  const where = WHERE.exec(line);
  if (where) assert.match(where[0], "addon-host.test.ts:", "the place named is the throwing line");
  // The stack goes to the debug log, not into the error line.
  assert.ok(logs.some((e) => e.level === "debug" && e.message.includes("sync boom") && e.message.includes("at ")));
});

test("an async rejection is logged the same way and the chain goes on", async () => {
  const { host, errors } = hostWithLog();
  const ran: string[] = [];
  await host.add({
    name: "rejecter",
    async response() {
      await tick();
      throw new Error("async boom");
    },
  });
  await host.add({ name: "after", response: () => void ran.push("after") });
  await host.trigger("response", flow());
  assert.equal(ran, ["after"]);
  assert.equal(errors(), ["addon rejecter failed in response: async boom"]);
});

test("non-Error throws are logged with their text", async () => {
  const { host, errors } = hostWithLog();
  await host.add({
    name: "s",
    request() {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a buggy addon's non-Error throw, on purpose
      throw "plain string";
    },
  });
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error rejection, on purpose
  await host.add({ name: "r", request: () => Promise.reject(42) });
  await host.trigger("request", flow());
  assert.equal(errors(), ["addon s failed in request: plain string", "addon r failed in request: 42"]);
});

// ---------------------------------------------------------------- odd return values (thenables)

/** An addon whose request hook returns `result`, followed by one that records that the chain went on. */
async function oddAddon(
  result: () => unknown,
): Promise<{ host: AddonHost; logs: LogEntry[]; errors: () => string[]; after: string[] }> {
  const h = hostWithLog();
  const after: string[] = [];
  // Hooks are typed to return void or a promise; these return what a buggy addon might.
  await h.host.add({ name: "odd", request: (() => result()) as Addon["request"] });
  await h.host.add({ name: "after", request: (f: HTTPFlow) => void after.push(f.request.path) });
  return { ...h, after };
}

test("a thenable whose then() throws is logged like a throwing addon (with where) and the chain goes on", async () => {
  const { host, logs, errors, after } = await oddAddon(() => ({
    then() {
      throw new Error("then exploded");
    },
  }));
  await host.trigger("request", flow());
  assert.equal(errors(), ["addon odd failed in request: then exploded"]);
  const line = logs.find((e) => e.level === "error")!.message;
  assert.match(line, /\(at [^()\s]*addon-host\.test\.ts:\d+:\d+\)$/, line);
  assert.equal(after, ["/"]);
});

test("a getter `then` that throws is logged like a sync throw; the chain stays synchronous", async () => {
  const { host, errors, after } = await oddAddon(() => ({
    get then(): unknown {
      throw new Error("getter exploded");
    },
  }));
  assert.is(host.trigger("request", flow()), undefined);
  assert.equal(errors(), ["addon odd failed in request: getter exploded"]);
  assert.equal(after, ["/"]);
});

test("a then() that calls back twice (or resolves, then rejects, then throws) counts once", async () => {
  const twice = await oddAddon(() => ({
    then(ok: () => void, fail: (e: unknown) => void) {
      ok();
      ok();
      fail(new Error("late"));
      throw new Error("later");
    },
  }));
  await twice.host.trigger("request", flow());
  await tick();
  assert.equal(twice.errors(), []);
  assert.equal(twice.after, ["/"]);
  const rejectFirst = await oddAddon(() => ({
    then(ok: () => void, fail: (e: unknown) => void) {
      fail(new Error("first"));
      ok();
      fail(new Error("second"));
    },
  }));
  await rejectFirst.host.trigger("request", flow());
  await tick();
  assert.equal(rejectFirst.errors(), ["addon odd failed in request: first"]);
  assert.equal(rejectFirst.after, ["/"]);
});

test("a then() that calls back later, from a timer, is awaited like a promise", async () => {
  const { host, after } = await oddAddon(() => ({ then: (ok: () => void) => void setImmediate(ok) }));
  const p = host.trigger("request", flow());
  assert.instance(p, Promise);
  assert.equal(after, []);
  await p;
  assert.equal(after, ["/"]);
});

test("a then() that never calls back holds only its own trigger: other flows, other hooks and add() go on", async () => {
  const h = hostWithLog();
  const after: string[] = [];
  const hang = (f: HTTPFlow) => (f.request.path === "/hang" ? { then: () => {} } : undefined);
  await h.host.add({ name: "hang", request: hang as Addon["request"] });
  await h.host.add({
    name: "after",
    request: (f: HTTPFlow) => void after.push(f.request.path),
    response: () => void after.push("response"),
  });
  const hanging = flow();
  hanging.request.path = "/hang";
  let settled = false;
  void (h.host.trigger("request", hanging) as Promise<void>).then(() => (settled = true));
  assert.is(h.host.trigger("request", flow()), undefined, "another flow's request runs at once");
  assert.is(h.host.trigger("response", hanging), undefined);
  await h.host.add({ name: "late", request: () => {} });
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(after, ["/", "response"]);
  assert.not.ok(settled, "the hanging flow waits (as an unresolved promise would make it)");
  assert.equal(h.errors(), []);
});

test("rejections with odd values: undefined, a string, an object whose toString throws, a message getter that throws", async () => {
  const odd: unknown[] = [
    undefined,
    null,
    "a string",
    {
      toString: () => {
        throw new Error("no toString");
      },
    },
    Object.create(null),
    {
      get message(): string {
        throw new Error("no message");
      },
    },
    {
      message: {
        toString: () => {
          throw new Error("no");
        },
      },
    },
    {
      message: "fine",
      get stack(): string {
        throw new Error("no stack");
      },
    },
    (() => {
      const r = Proxy.revocable({}, {});
      r.revoke();
      return r.proxy;
    })(),
  ];
  const expected = [
    "undefined",
    "null",
    "a string",
    "[object Object]",
    "[object Object]",
    "[object Object]",
    "[object Object]",
    "fine",
    "[object]",
  ];
  for (const [i, value] of odd.entries()) {
    for (const how of ["reject", "throw"] as const) {
      const { host, errors, after } = await oddAddon(() => {
        if (how === "reject") return Promise.reject(value);
        throw value;
      });
      await host.trigger("request", flow());
      assert.equal(errors(), [`addon odd failed in request: ${expected[i]}`], `${how} #${i}`);
      assert.equal(after, ["/"], `${how} #${i}: the chain went on`);
    }
  }
});

test("an error message is shown on one line (it may quote client data) and cut when absurdly long", async () => {
  const { host, logs, errors } = await oddAddon(() => {
    // As JSON.parse's "Unexpected token 'x', "x\n127.0.0." ... is not valid JSON" quotes a client's body.
    throw new Error("bad body: x\n127.0.0.1:1: GET http://forged/\r\x1b[2J");
  });
  await host.trigger("request", flow());
  assert.equal(errors(), ["addon odd failed in request: bad body: x\\n127.0.0.1:1: GET http://forged/\\r\\x1b[2J"]);
  const long = await oddAddon(() => Promise.reject(new Error("x".repeat(5000))));
  await long.host.trigger("request", flow());
  assert.match(long.errors()[0]!, /^addon odd failed in request: x{1024}… \(5000 chars\)$/);
  assert.ok(
    logs.some((e) => e.level === "debug" && e.message.includes("bad body: x\n127")),
    "the whole stack stays in the debug log",
  );
});

test("lifecycle hooks returning a thenable whose then() throws are logged; the addon is added", async () => {
  const { host, errors } = hostWithLog();
  const bad = {
    then: () => {
      throw new Error("lifecycle then");
    },
  };
  await host.add({ name: "odd-life", load: () => bad, running: () => bad as unknown as void, request: () => {} });
  await host.start();
  assert.equal(errors(), [
    "addon odd-life failed in load: lifecycle then",
    "addon odd-life failed in running: lifecycle then",
  ]);
  assert.ok(host.hasHandlers("request"));
});

test("log labels: the name, else the label given, else the class name", async () => {
  const { host, errors } = hostWithLog();
  class MyCounter {
    request(): void {
      throw new Error("x");
    }
  }
  await host.add(new MyCounter());
  await host.add({ request: () => Promise.reject(new Error("y")) }, { label: "script.ts" });
  await host.trigger("request", flow());
  assert.equal(errors(), ["addon MyCounter failed in request: x", "addon script.ts failed in request: y"]);
});

test("trigger returns synchronously (undefined) when no addon handles the hook, or only sync ones do", async () => {
  const { host } = hostWithLog();
  assert.is(host.trigger("request", flow()), undefined);
  assert.not.ok(host.hasHandlers("request"));
  let n = 0;
  await host.add({ name: "sync", request: () => void n++, response: async () => void n++ });
  assert.ok(host.hasHandlers("request"));
  assert.not.ok(host.hasHandlers("error"));
  assert.is(host.trigger("error", flow()), undefined);
  assert.is(host.trigger("request", flow()), undefined);
  assert.is(n, 1, "the sync handler ran before trigger returned");
  const p = host.trigger("response", flow());
  assert.instance(p, Promise);
  await p;
  assert.is(n, 2);
});

test("methods are called with the addon as `this` (class instances work)", async () => {
  const { host } = hostWithLog();
  class Counter {
    name = "counter";
    n = 0;
    request(): void {
      this.n++;
    }
  }
  const c = new Counter();
  await host.add(c);
  await host.trigger("request", flow());
  await host.trigger("request", flow());
  assert.is(c.n, 2);
});

// ---------------------------------------------------------------- lifecycle

test("lifecycle: load → configure(all option names) → running after start → done on remove", async () => {
  const { host } = hostWithLog();
  host.addOption({ name: "coreOpt", type: "bool", default: false, help: "" });
  const calls: string[] = [];
  const a = recorder("a", calls, {
    load(loader: Loader) {
      calls.push("a.load");
      loader.addOption({ name: "aOpt", type: "number", default: 1, help: "" });
    },
  });
  await host.add(a);
  assert.equal(calls, ["a.load", "a.configure(aOpt,coreOpt)"]);
  assert.not.ok(host.running);
  await host.start();
  assert.ok(host.running);
  assert.equal(calls.slice(2), ["a.running"]);
  await host.remove(a);
  assert.equal(calls.slice(3), ["a.done"]);
  assert.equal(host.chain, []);
  // Removing again is a no-op.
  await host.remove(a);
  assert.is(calls.length, 4);
});

test("lifecycle: an addon added while running gets running right away; stop calls done last-first", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  await host.add(recorder("a", calls));
  await host.start();
  await host.add(recorder("b", calls));
  assert.equal(calls, ["a.load", "a.configure()", "a.running", "b.load", "b.configure()", "b.running"]);
  calls.length = 0;
  await host.stop();
  assert.not.ok(host.running);
  assert.equal(calls, ["b.done", "a.done"]);
});

test("lifecycle: configure sees every option, including those of addons loaded later", async () => {
  const { host } = hostWithLog();
  const seen: string[][] = [];
  await host.add({
    name: "first",
    load: (l) => l.addOption({ name: "firstOpt", type: "string", default: "", help: "" }),
    configure: (u) => void seen.push([...u].sort()),
  });
  await host.add({
    name: "second",
    load: (l) => l.addOption({ name: "secondOpt", type: "string", default: "", help: "" }),
    configure: (u) => void seen.push([...u].sort()),
  });
  assert.equal(seen, [["firstOpt"], ["firstOpt", "secondOpt"]]);
});

test("a non-OptionError thrown in load/running/done is logged and does not stop the addon", async () => {
  const { host, errors } = hostWithLog();
  let requests = 0;
  const a: Addon = {
    name: "flaky",
    load() {
      throw new Error("load failed");
    },
    running: async () => {
      throw new Error("running failed");
    },
    done() {
      throw new Error("done failed");
    },
    request: () => void requests++,
  };
  await host.add(a);
  await host.start();
  await host.trigger("request", flow());
  assert.is(requests, 1);
  await host.remove(a);
  assert.equal(errors(), [
    "addon flaky failed in load: load failed",
    "addon flaky failed in running: running failed",
    "addon flaky failed in done: done failed",
  ]);
});

test("an OptionError from load or configure during add removes the addon again and is thrown", async () => {
  const { host } = hostWithLog();
  const err1 = await rejects(
    host.add({
      name: "badload",
      load() {
        throw new OptionError("invalid value for x: 1");
      },
      request() {},
    }),
  );
  assert.instance(err1, OptionError);
  const err2 = await rejects(
    host.add({
      name: "badconf",
      configure() {
        throw new OptionError("invalid value for y: 2");
      },
      request() {},
    }),
  );
  assert.is(err2.message, "invalid value for y: 2");
  assert.equal(host.chain, []);
  assert.not.ok(host.hasHandlers("request"));
});

// ---------------------------------------------------------------- sub-addons

test("sub-addons run right after their parent, before addons loaded later", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  const kid1 = recorder("kid1", calls);
  const grandkid = recorder("grandkid", calls);
  const kid2 = recorder("kid2", calls, { addons: [grandkid] });
  await host.add(recorder("before", calls));
  const parent = recorder("parent", calls, { addons: [kid1, kid2] });
  await host.add(parent);
  await host.add(recorder("after", calls));
  assert.equal(
    calls.filter((c) => c.endsWith(".load")),
    ["before.load", "parent.load", "kid1.load", "kid2.load", "grandkid.load", "after.load"],
  );
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, [
    "before.request",
    "parent.request",
    "kid1.request",
    "kid2.request",
    "grandkid.request",
    "after.request",
  ]);

  // A child added later (e.g. a script under the script loader) goes to the end of the parent's subtree.
  const late = recorder("late", calls);
  await host.add(late, { parent });
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, [
    "before.request",
    "parent.request",
    "kid1.request",
    "kid2.request",
    "grandkid.request",
    "late.request",
    "after.request",
  ]);

  // Removing the parent takes its subtree with it, children's done before the parent's.
  calls.length = 0;
  await host.remove(parent);
  assert.equal(calls, ["late.done", "grandkid.done", "kid2.done", "kid1.done", "parent.done"]);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["before.request", "after.request"]);
});

test("add with index inserts at that place among the top level", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  await host.add(recorder("a", calls));
  await host.add(recorder("b", calls));
  await host.add(recorder("first", calls), { index: 0 });
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["first.request", "a.request", "b.request"]);
});

test("add under a parent that is not loaded is an error", async () => {
  const { host } = hostWithLog();
  const err = await rejects(host.add({ name: "x" }, { parent: { name: "ghost" } }));
  assert.match(err.message, "parent addon is not loaded");
});

// ---------------------------------------------------------------- replacing by name

test("an addon with the name of a loaded one replaces it in its place", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  const builtin = recorder("hosts", calls);
  await host.add(recorder("first", calls));
  await host.add(builtin);
  await host.add(recorder("last", calls));
  const user = recorder("hosts", calls, { request: () => void calls.push("user-hosts.request") });
  await host.add(user);
  assert.equal(
    host.chain.map((a) => a.name),
    ["first", "hosts", "last"],
  );
  assert.is(host.chain[1], user);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["first.request", "user-hosts.request", "last.request"]);
});

test("the replaced addon stops (done); removing the replacement brings it back with load, configure(all) and running", async () => {
  const { host } = hostWithLog();
  host.addOption({ name: "coreOpt", type: "bool", default: false, help: "" });
  const calls: string[] = [];
  const builtin = recorder("hosts", calls);
  await host.add(builtin);
  await host.start();
  const user = recorder("hosts", calls, {
    load: () => void calls.push("user.load"),
    configure: () => void calls.push("user.configure"),
    running: () => void calls.push("user.running"),
    done: () => void calls.push("user.done"),
    request: () => void calls.push("user.request"),
  });
  calls.length = 0;
  await host.add(user);
  // The built-in is shadowed: it gets done, so what it started in load stops.
  assert.ok(
    calls.indexOf("hosts.done") !== -1 && calls.indexOf("hosts.done") < calls.indexOf("user.load"),
    calls.join(","),
  );
  calls.length = 0;
  await host.remove(user);
  assert.equal(calls, ["user.done", "hosts.load", "hosts.configure(coreOpt)", "hosts.running"]);
  assert.equal(host.chain, [builtin]);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["hosts.request"]);
});

// ---------------------------------------------------------------- options at run time

test("setOptions: configure is told the changed names; the view shows the new values", async () => {
  const { host } = hostWithLog();
  const seen: Array<[string[], unknown]> = [];
  await host.add({
    name: "a",
    load: (l) => l.addOption({ name: "limit", type: "number", default: 1, help: "" }),
    configure: (u, o: OptionsView) => void seen.push([[...u], o.limit]),
  });
  seen.length = 0;
  const changed = await host.setOptions({ limit: 5 });
  assert.equal([...changed], ["limit"]);
  assert.equal(seen, [[["limit"], 5]]);
  // No change, no configure.
  seen.length = 0;
  assert.is((await host.setOptions({ limit: 5 })).size, 0);
  assert.equal(seen, []);
});

test("setOptions: a configure that throws OptionError rolls every change back, reconfigures, and throws", async () => {
  const { host } = hostWithLog();
  const seenByA: number[] = [];
  await host.add({
    name: "a",
    load: (l) => {
      l.addOption({ name: "limit", type: "number", default: 1, help: "" });
      l.addOption({ name: "label", type: "string", default: "old", help: "" });
    },
    configure: (_u, o) => void seenByA.push(o.limit as number),
  });
  await host.add({
    name: "validator",
    configure(_u, o) {
      if ((o.limit as number) > 10) throw new OptionError(`invalid value for limit: ${String(o.limit)} (at most 10)`);
    },
  });
  seenByA.length = 0;
  const err = await rejects(host.setOptions({ limit: 99, label: "new" }));
  assert.instance(err, OptionError);
  assert.is(err.message, "invalid value for limit: 99 (at most 10)");
  assert.is(host.options.get("limit"), 1, "old value stays");
  assert.is(host.options.get("label"), "old", "the other option of the same change is rolled back too");
  assert.equal(seenByA, [99, 1], "a saw the new value, then was configured back to the old one");
  // A good value still goes through afterwards.
  await host.setOptions({ limit: 7 });
  assert.is(host.options.get("limit"), 7);
});

test("setOptions: a type error is refused before any addon is told", async () => {
  const { host } = hostWithLog();
  let configures = 0;
  await host.add({
    name: "a",
    load: (l) => l.addOption({ name: "limit", type: "number", default: 1, help: "" }),
    configure: () => void configures++,
  });
  configures = 0;
  const err = await rejects(host.setOptions({ limit: "many" }));
  assert.instance(err, OptionError);
  assert.is(configures, 0);
  assert.is(host.options.get("limit"), 1);
});

test("setOptions: a configure that throws something else is logged, not a refusal", async () => {
  const { host, errors } = hostWithLog();
  await host.add({
    name: "buggy",
    load: (l) => l.addOption({ name: "limit", type: "number", default: 1, help: "" }),
    configure(_u, o) {
      if (o.limit === 3) throw new Error("oops");
    },
  });
  await host.setOptions({ limit: 3 });
  assert.is(host.options.get("limit"), 3);
  assert.equal(errors(), ["addon buggy failed in configure: oops"]);
});

test("--set values given before their option exists are applied when an addon adds it in load", async () => {
  const { host } = hostWithLog();
  host.addOption({ name: "listenPort", type: "number", default: 8080, help: "" });
  const changed = await host.setFromStrings(["listen_port=9000", "my_list=a", "my-list=b", "myFlag=true"]);
  assert.equal([...changed], ["listenPort"]);
  assert.equal(host.options.unknownDeferred().sort(), ["myFlag", "myList"]);
  const seen: unknown[] = [];
  await host.add({
    name: "late",
    load(l) {
      l.addOption({ name: "myList", type: "strings", default: [], help: "" });
      l.addOption({ name: "myFlag", type: "bool", default: false, help: "" });
      seen.push(["load", l.options.myList]);
    },
    configure(u, o) {
      seen.push([[...u].sort().join(","), o.myList, o.myFlag]);
    },
  });
  assert.equal(host.options.get("myList"), ["a", "b"]);
  assert.is(host.options.get("myFlag"), true);
  assert.is(host.options.get("listenPort"), 9000);
  assert.equal(host.options.unknownDeferred(), []);
  // The last configure it saw had every name and the --set values.
  assert.equal(seen[seen.length - 1], ["listenPort,myFlag,myList", ["a", "b"], true]);
});

// ---------------------------------------------------------------- replace()

test("replace keeps the position: old done → new load → configure(all) → running (SEMANTICS §5)", async () => {
  const { host } = hostWithLog();
  host.addOption({ name: "coreOpt", type: "bool", default: false, help: "" });
  const calls: string[] = [];
  await host.add(recorder("a", calls));
  const v1 = recorder("script", calls, { request: () => void calls.push("v1.request") });
  await host.add(v1);
  await host.add(recorder("z", calls));
  await host.start();
  const v2: Addon = {
    name: "script",
    load: () => void calls.push("v2.load"),
    configure: (u) => void calls.push(`v2.configure(${[...u].join(",")})`),
    running: () => void calls.push("v2.running"),
    done: () => void calls.push("v2.done"),
    request: () => void calls.push("v2.request"),
  };
  calls.length = 0;
  await host.replace(v1, v2);
  assert.equal(calls, ["script.done", "v2.load", "v2.configure(coreOpt)", "v2.running"]);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["a.request", "v2.request", "z.request"]);
  assert.equal(
    host.chain.map((x) => x.name),
    ["a", "script", "z"],
  );
  assert.is(host.chain[1], v2);
});

test("replace: a new version whose load throws is refused; the old one is put back in its place and runs again", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  await host.add(recorder("a", calls));
  const v1 = recorder("script", calls);
  await host.add(v1);
  await host.add(recorder("z", calls));
  await host.start();
  calls.length = 0;
  const err = await rejects(
    host.replace(v1, {
      name: "script",
      load() {
        throw new Error("SyntaxError in new version");
      },
      request: () => void calls.push("v2.request"),
    }),
  );
  assert.is(err.message, "SyntaxError in new version");
  const oldCalls = calls.filter((c) => c.startsWith("script."));
  assert.equal(oldCalls, ["script.done", "script.load", "script.configure()", "script.running"]);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["a.request", "script.request", "z.request"]);
  assert.is(host.chain[1], v1);
});

test("replace: a new version whose configure refuses the options is refused; the old one is put back", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  const v1 = recorder("script", calls);
  await host.add(recorder("a", calls));
  await host.add(v1);
  await host.add(recorder("z", calls));
  calls.length = 0;
  const err = await rejects(
    host.replace(v1, {
      name: "script",
      configure() {
        throw new OptionError("invalid value for thing: 1");
      },
      request: () => void calls.push("v2.request"),
    }),
  );
  assert.instance(err, OptionError);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["a.request", "script.request", "z.request"]);
  assert.equal(
    host.chain.map((x) => x.name),
    ["a", "script", "z"],
  );
});

test("replace: an addon that is not loaded is an error", async () => {
  const { host } = hostWithLog();
  const err = await rejects(host.replace({ name: "x" }, { name: "x" }));
  assert.match(err.message, "not loaded");
});

test("loader.state survives replace (and can be seeded with add)", async () => {
  const { host } = hostWithLog();
  const version = (v: number): Addon => ({
    name: "counter",
    load(l) {
      const s = l.state as { loads?: number; versions?: number[] };
      s.loads = (s.loads ?? 0) + 1;
      (s.versions ??= []).push(v);
    },
  });
  const state: Record<string, unknown> = {};
  const v1 = version(1);
  await host.add(v1, { state });
  const v2 = version(2);
  await host.replace(v1, v2);
  const v3 = version(3);
  await host.replace(v2, v3);
  assert.equal(state, { loads: 3, versions: [1, 2, 3] });
  // A fresh addon without state starts empty.
  let fresh: Record<string, unknown> | undefined;
  await host.add({ name: "other", load: (l) => void (fresh = { ...l.state }) });
  assert.equal(fresh, {});
});

test("loader.addChild / replaceChild / removeChild manage sub-addons at run time (the script loader's way)", async () => {
  const { host } = hostWithLog();
  const calls: string[] = [];
  let loader: Loader | undefined;
  const parent: Addon = {
    name: "scripts",
    addons: [recorder("static", calls)],
    load: (l) => void (loader = l),
    request: () => void calls.push("scripts.request"),
  };
  await host.add(parent);
  await host.add(recorder("after", calls));
  const dyn1 = recorder("dyn", calls);
  await loader!.addChild(dyn1, { label: "dyn.ts" });
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["scripts.request", "static.request", "dyn.request", "after.request"]);
  const dyn2 = recorder("dyn", calls, { request: () => void calls.push("dyn2.request") });
  await loader!.replaceChild(dyn1, dyn2);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["scripts.request", "static.request", "dyn2.request", "after.request"]);
  await loader!.removeChild(dyn2);
  calls.length = 0;
  await host.trigger("request", flow());
  assert.equal(calls, ["scripts.request", "static.request", "after.request"]);
});

test("loader.state is empty on the first load, also for an addon with sub-addons (Loader.state's TSDoc)", async () => {
  const { host } = hostWithLog();
  let seen: Record<string, unknown> | undefined;
  await host.add({
    name: "parent",
    addons: [{ name: "kid" }],
    load: (l) => void (seen = { ...l.state }),
  });
  assert.equal(seen, {});
});

// ---------------------------------------------------------------- checkAddon

test("add refuses things that are not addons, with a TypeError naming the problem", async () => {
  const { host } = hostWithLog();
  const cases: Array<[unknown, RegExp]> = [
    [null, /got null/],
    [undefined, /got undefined/],
    [42, /got number/],
    ["request", /got string/],
    [() => {}, /got function/],
    [{ request: "not a function" }, /'request' must be a function/],
    [{ load: 1 }, /'load' must be a function/],
    [{ name: 5 }, /name must be a string/],
    [{ addons: {} }, /'addons' must be an array/],
    [{ name: "p", addons: [{ response: true }] }, /'response' must be a function/],
    [{ name: "p", addons: [null] }, /got null/],
  ];
  for (const [value, re] of cases) {
    const err = await rejects(host.add(value as Addon, { label: "my-script.ts" }));
    assert.instance(err, TypeError, String(re));
    assert.match(err.message, re);
    assert.match(err.message, "(my-script.ts)");
  }
  assert.equal(host.chain, []);
  // replace checks the new version the same way.
  const ok: Addon = { name: "ok" };
  await host.add(ok);
  const err = await rejects(host.replace(ok, { name: "ok", request: 1 } as unknown as Addon));
  assert.instance(err, TypeError);
  assert.equal(host.chain, [ok]);
});

test("the logger given in load writes entries carrying the addon's name", async () => {
  const { host, logs } = hostWithLog();
  await host.add({ name: "chatty", load: (l) => l.log.warn("careful") });
  const entry = logs.find((e) => e.message === "careful");
  assert.ok(entry);
  assert.is(entry.level, "warn");
  assert.is(entry.addon, "chatty");
  assert.type(entry.timestamp, "number");
});

test("loader.shutdown reaches the host's shutdown handler with the exit code", async () => {
  const codes: number[] = [];
  const host = new AddonHost({ onShutdown: (c) => codes.push(c) });
  await host.add({ name: "quitter", load: (l) => (l.shutdown(3), l.shutdown()) });
  assert.equal(codes, [3, 0]);
});

test("a hook call that does not settle is named at debug level once it runs long; the others go on", async () => {
  const host = new AddonHost({ slowHookMs: 30 });
  const logs: LogEntry[] = [];
  const named = new Promise<LogEntry>((resolve) =>
    host.events.on("log", (e) => {
      logs.push(e);
      if (/has not finished/.test(e.message)) resolve(e);
    }),
  );
  const seen: string[] = [];
  await host.add({
    name: "holder",
    request: (f) => (f.request.path === "/held" ? new Promise<void>(() => {}) : void seen.push(f.request.path)),
  });
  const held = new HTTPFlow(client, server(), new Request({ host: "example.com", path: "/held" }));
  void host.trigger("request", held);
  await host.trigger("request", flow());
  assert.equal(seen, ["/"]);
  // The host's watch does not keep the process alive; this bounded timer does, meanwhile.
  let guard: NodeJS.Timeout | undefined;
  const bounded = new Promise<never>(
    (_, reject) => (guard = setTimeout(() => reject(new Error("never named")), 30_000)),
  );
  const entry = await Promise.race([named, bounded]).finally(() => clearTimeout(guard));
  assert.is(entry.level, "debug");
  assert.match(
    entry.message,
    /^addon holder has not finished request after [\d.]+ s \(GET http:\/\/example\.com\/held\): that flow waits for it/,
  );
  await host.stop();
  assert.is(logs.filter((e) => /has not finished/.test(e.message)).length, 1, "named once");
});

test.run();
