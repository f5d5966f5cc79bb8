// The built-in addons' request-path hooks return nothing (no promise) when they have nothing to do:
// a promise costs every request a wait, a slow-hook entry and an idle_timeout timer (review
// finding 11). Each case also checks that the hook does return a promise once there is work, so
// that the "nothing" is the addon deciding, not a hook that never does anything.
import { tmpdir } from "node:os";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HTTPFlow, OptionSpec } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { MapLocal, ModifyBody, ModifyHeaders } from "../../addons/modify/index.ts";
import { Onboarding } from "../../addons/onboarding/index.ts";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";
import { removeDir, tempDir } from "../helpers/harness.ts";

const CONFDIR: OptionSpec = { name: "confdir", type: "string", default: "~/.interloper", help: "" };

type Hook = (flow: HTTPFlow) => unknown;

function hook(addon: Addon, name: string): Hook {
  const fn = (addon as unknown as Record<string, Hook | undefined>)[name];
  assert.type(fn, "function", name);
  return fn!.bind(addon);
}

/** Calls the hook; a promise it returns is awaited (so nothing is left running) and reported. */
async function returnsPromise(addon: Addon, name: string, flow: HTTPFlow): Promise<boolean> {
  const result = hook(addon, name)(flow);
  if (result instanceof Promise) {
    await result;
    return true;
  }
  assert.is(result, undefined, `${name} returned neither nothing nor a promise`);
  return false;
}

test("onboarding: request returns nothing for other hosts (on by default), a promise for its page", async () => {
  const confdir = tempDir("interloper-hooks-");
  try {
    const addon = new Onboarding();
    const ctx = await testContext(addon, { confdir }, [CONFDIR]);
    assert.is(await returnsPromise(addon, "request", testFlow({ url: "https://example.com/" })), false);
    assert.is(await returnsPromise(addon, "request", testFlow({ url: "http://interloper.invalid/" })), true);
    await ctx.setOptions({ onboarding: false });
    assert.is(await returnsPromise(addon, "request", testFlow({ url: "http://interloper.invalid/" })), false);
    await ctx.shutdown();
  } finally {
    removeDir(confdir);
  }
});

test("proxyauth: httpConnect and requestheaders return nothing without proxyauth, a promise with it", async () => {
  const addon = new ProxyAuth();
  const ctx = await testContext(addon);
  const connect = () => testFlow({ url: "http://example.com:443/", method: "CONNECT" });
  const explicit = () => {
    const flow = testFlow({ url: "http://example.com/" });
    flow.request.form = "absolute";
    return flow;
  };
  assert.is(await returnsPromise(addon, "httpConnect", connect()), false);
  assert.is(await returnsPromise(addon, "requestheaders", explicit()), false);
  await ctx.setOptions({ proxyauth: "user:pass" });
  assert.is(await returnsPromise(addon, "httpConnect", connect()), true);
  assert.is(await returnsPromise(addon, "requestheaders", explicit()), true);
  await ctx.shutdown();
});

test("map_local, modify_body, modify_headers: their hooks return nothing without rules, a promise with one", async () => {
  const cases: Array<[Addon, string[], Record<string, unknown>]> = [
    [new MapLocal(), ["request"], { mapLocal: [`|example.com|${tmpdir()}`] }],
    [new ModifyBody(), ["request", "response"], { modifyBody: ["/~q/a/b"] }],
    [new ModifyHeaders(), ["requestheaders", "responseheaders"], { modifyHeaders: ["/~q/X-Test/1"] }],
  ];
  for (const [addon, hooks, options] of cases) {
    const ctx = await testContext(addon);
    for (const name of hooks) {
      const flow = testFlow({ url: "http://example.com/", response: name.startsWith("response") ? {} : undefined });
      assert.is(await returnsPromise(addon, name, flow), false, `${addon.name ?? ""} ${name} without rules`);
    }
    await ctx.setOptions(options);
    for (const name of hooks) {
      const flow = testFlow({ url: "http://example.com/", response: name.startsWith("response") ? {} : undefined });
      assert.is(await returnsPromise(addon, name, flow), true, `${addon.name ?? ""} ${name} with a rule`);
    }
    await ctx.shutdown();
  }
});

test.run();
