import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TlsData } from "@interloper/sdk";
import {
  testClient,
  testClientHello,
  testContext,
  testNextLayer,
  testServer,
  type TestContext,
} from "@interloper/sdk/testing";
import { PinningDetector } from "./pinning-detector.ts";

/** What the core reports when a client aborts the handshake with our certificate. */
function failed(sni: string | undefined, error: string, destination = sni ?? "203.0.113.9"): TlsData {
  return { client: testClient({ sni }), server: testServer({ host: destination, port: 443 }), side: "client", error };
}
const untrusted = (host: string) =>
  `the client does not trust the proxy's certificate for ${host} (tlsv1 alert unknown ca)`;

async function ignored(
  ctx: TestContext,
  sni: string | undefined,
  destination = sni ?? "203.0.113.9",
): Promise<boolean> {
  const d = await ctx.decide(
    testNextLayer({ destination: { host: destination, port: 443 }, clientHello: testClientHello({ sni }) }),
  );
  return d.ignore;
}

const learnedLines = (ctx: TestContext) => ctx.logLines("warn").filter((l) => l.startsWith("[pinning-detector]"));

test("after a refused certificate the host is passed through, and logged once", async () => {
  const ctx = await testContext(new PinningDetector());
  assert.not.ok(await ignored(ctx, "bank.test"));

  await ctx.trigger("tlsFailedClient", failed("bank.test", untrusted("bank.test")));
  assert.ok(await ignored(ctx, "bank.test"));
  assert.ok(await ignored(ctx, "BANK.test", "198.51.100.1"), "by SNI, whatever the destination");
  assert.not.ok(await ignored(ctx, "other.test"));
  assert.not.ok(await ignored(ctx, "sub.bank.test"), "exactly that name");

  await ctx.trigger("tlsFailedClient", failed("bank.test", untrusted("bank.test")));
  const lines = learnedLines(ctx);
  assert.is(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /^\[pinning-detector\] bank\.test: the client refused interloper's certificate/);
});

test("a client that hangs up mid-handshake counts; other TLS failures do not", async () => {
  const ctx = await testContext(new PinningDetector());
  await ctx.trigger("tlsFailedClient", failed("silent.test", "connection closed during TLS handshake"));
  await ctx.trigger("tlsFailedClient", failed("old.test", "tlsv1 alert protocol version"));
  await ctx.trigger("tlsFailedClient", failed("cipher.test", "no shared cipher"));
  assert.ok(await ignored(ctx, "silent.test"));
  assert.not.ok(await ignored(ctx, "old.test"));
  assert.not.ok(await ignored(ctx, "cipher.test"));
});

test("without SNI the destination is remembered", async () => {
  const ctx = await testContext(new PinningDetector());
  await ctx.trigger("tlsFailedClient", failed(undefined, untrusted("192.0.2.5:443"), "192.0.2.5"));
  assert.ok(await ignored(ctx, undefined, "192.0.2.5"));
  assert.not.ok(await ignored(ctx, undefined, "192.0.2.6"));
});

test("the learned list survives a hot reload (a new instance gets the same loader.state)", async () => {
  const ctx = await testContext([]);
  const state: Record<string, unknown> = {};
  const v1 = new PinningDetector();
  await ctx.host.add(v1, { state });
  await ctx.trigger("tlsFailedClient", failed("bank.test", untrusted("bank.test")));

  // What the script loader does on save: old `done`, new `load` with the old state.
  const v2 = new PinningDetector();
  await ctx.host.replace(v1, v2);
  assert.equal(ctx.host.chain, [v2]);
  assert.ok(await ignored(ctx, "bank.test"));
  // What v2 learns is kept for v3 as well; nothing is logged twice.
  await ctx.trigger("tlsFailedClient", failed("shop.test", untrusted("shop.test")));
  await ctx.trigger("tlsFailedClient", failed("bank.test", untrusted("bank.test")));
  assert.is(learnedLines(ctx).length, 2);

  // A second proxy handed the same state object (e.g. one that restores it) starts informed.
  const other = await testContext([]);
  await other.host.add(new PinningDetector(), { state });
  assert.ok(await ignored(other, "bank.test"));
  assert.ok(await ignored(other, "shop.test"));

  // A fresh state starts empty.
  const fresh = await testContext(new PinningDetector());
  assert.not.ok(await ignored(fresh, "bank.test"));
});

test.run();
