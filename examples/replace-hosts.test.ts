import { test } from "uvu";
import * as assert from "uvu/assert";
import { defineAddon } from "@interloper/sdk";
import { testClientHello, testContext, testNextLayer } from "@interloper/sdk/testing";
import hosts from "./replace-hosts.ts";

/** Stands in for the built-in: it would ignore every connection. */
const builtin = defineAddon({
  name: "hosts",
  nextLayer(d) {
    d.ignoreConnection = true;
  },
});

const tls = (sni: string | undefined, host = "203.0.113.10") =>
  testNextLayer({ destination: { host, port: 443 }, clientHello: testClientHello({ sni }) });

test("connections with a listed SNI are passed through, logged", async () => {
  const ctx = await testContext(hosts);
  assert.equal(await ctx.decide(tls("pinned.example.com")), { ignore: true, needMoreData: false, tcp: false });
  assert.equal(await ctx.decide(tls("Accounts.Example.NET")), { ignore: true, needMoreData: false, tcp: false });
  assert.equal(ctx.logLines("info"), [
    "[hosts] 127.0.0.1:50000: passing pinned.example.com (203.0.113.10:443) through: its SNI is in the list",
    "[hosts] 127.0.0.1:50000: passing accounts.example.net (203.0.113.10:443) through: its SNI is in the list",
  ]);
});

test("everything else is intercepted, and the decision is final", async () => {
  const ctx = await testContext(hosts);
  for (const data of [
    tls("example.com"),
    tls("sub.pinned.example.com"),
    tls(undefined, "pinned.example.com"), // no SNI: the destination name alone does not count
    testNextLayer({ destination: { host: "pinned.example.com", port: 80 }, hostHeader: "pinned.example.com" }),
  ]) {
    assert.equal(await ctx.decide(data), { ignore: false, needMoreData: false, tcp: false });
    assert.is(data.ignoreConnection, false);
  }
  assert.equal(ctx.logLines("info"), []);
  assert.equal(
    ctx.logLines("debug").filter((l) => l.startsWith("[hosts]")),
    [
      "[hosts] 127.0.0.1:50000: intercepting 203.0.113.10:443 (SNI example.com)",
      "[hosts] 127.0.0.1:50000: intercepting 203.0.113.10:443 (SNI sub.pinned.example.com)",
      "[hosts] 127.0.0.1:50000: intercepting pinned.example.com:443 (no SNI)",
      "[hosts] 127.0.0.1:50000: intercepting pinned.example.com:80 (not TLS)",
    ],
  );
});

test("an incomplete ClientHello waits for more bytes, unless no more will come", async () => {
  const ctx = await testContext(hosts);
  assert.equal(await ctx.decide(testNextLayer({ clientHello: "incomplete" })), {
    ignore: false,
    needMoreData: true,
    tcp: false,
  });
  assert.equal(await ctx.decide(testNextLayer({ clientHello: "incomplete", final: true })), {
    ignore: false,
    needMoreData: false,
    tcp: false,
  });
});

test("the inner stage (after TLS was terminated) is intercepted without a log line", async () => {
  const ctx = await testContext(hosts);
  const inner = testNextLayer({
    destination: { host: "203.0.113.10", port: 443 },
    outerSni: "pinned.example.com",
    hostHeader: "pinned.example.com",
  });
  assert.equal(await ctx.decide(inner), { ignore: false, needMoreData: false, tcp: false });
  assert.equal(
    ctx.logLines().filter((l) => l.startsWith("[hosts]")),
    [],
  );
});

test("the built-in's options are reported as having no effect", async () => {
  const ctx = await testContext(hosts, { ignoreHosts: ["example\\.com"] }, [
    { name: "ignoreHosts", type: "strings", default: [], help: "" },
    { name: "allowHosts", type: "strings", default: [], help: "" },
  ]);
  assert.equal(ctx.logLines("warn"), [
    "[hosts] --ignore-hosts has no effect: this script replaces the built-in hosts addon",
  ]);
  // The option is ignored, not obeyed.
  assert.is((await ctx.decide(tls("example.com"))).ignore, false);
});

test("it takes the built-in's place: only one hosts addon decides", async () => {
  const ctx = await testContext([builtin, hosts]);
  assert.equal(ctx.host.chain, [hosts]);
  assert.is((await ctx.decide(tls("example.com"))).ignore, false);
  assert.is((await ctx.decide(tls("pinned.example.com"))).ignore, true);
});

test.run();
