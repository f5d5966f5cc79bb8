// The built-in addons driven through @interloper/sdk/testing: the same harness addon authors use.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testClient, testClientHello, testContext, testNextLayer } from "@interloper/sdk/testing";
import { Block } from "../../addons/block.ts";
import { ErrorCheck } from "../../addons/errorcheck.ts";
import { Hosts } from "../../addons/hosts.ts";

test("hosts: --ignore-hosts ignores a matching SNI, intercepts others, waits for an incomplete ClientHello", async () => {
  const ctx = await testContext(new Hosts(), { ignoreHosts: ["^(.+\\.)?apple\\.com:443$"] });
  const ignored = await ctx.decide(
    testNextLayer({
      destination: { host: "17.1.2.3", port: 443 },
      clientHello: testClientHello({ sni: "itunes.apple.com" }),
    }),
  );
  assert.equal(ignored, { ignore: true, needMoreData: false, tcp: false });
  const other = await ctx.decide(
    testNextLayer({
      destination: { host: "17.1.2.3", port: 443 },
      clientHello: testClientHello({ sni: "evilapple.com" }),
    }),
  );
  assert.is(other.ignore, false);
  const waiting = await ctx.decide(
    testNextLayer({ destination: { host: "17.1.2.3", port: 443 }, clientHello: "incomplete" }),
  );
  assert.is(waiting.needMoreData, true);
  assert.ok(
    ctx
      .logLines("debug")
      .some((l) => l.includes("ignoring connection: '^(.+\\.)?apple\\.com:443$' matched 'itunes.apple.com:443' (sni)")),
  );
});

test("hosts: an earlier addon's decision stands, in nextLayer and in tlsClienthello", async () => {
  const insist = {
    name: "insist",
    nextLayer: (d: { ignoreConnection?: boolean }) => void (d.ignoreConnection = false),
  };
  const ctx = await testContext([insist, new Hosts()], { ignoreHosts: [".*"] });
  const d = await ctx.decide(testNextLayer({ clientHello: testClientHello({ sni: "example.com" }) }));
  assert.is(d.ignore, false);
});

test("hosts: an invalid pattern is refused naming the option and the pattern; the old rules stay", async () => {
  const ctx = await testContext(new Hosts(), { ignoreHosts: ["^a\\.test:"] });
  try {
    await ctx.setOptions({ ignoreHosts: ["(unclosed"] });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /^invalid --ignore-hosts pattern '\(unclosed': /);
  }
  assert.equal(ctx.host.options.get("ignoreHosts"), ["^a\\.test:"]);
  const d = await ctx.decide(testNextLayer({ destination: { host: "a.test", port: 443 } }));
  assert.is(d.ignore, true);
});

test("hosts: a pattern that can never match warns at configure time; tcp_hosts marks TCP flows", async () => {
  const ctx = await testContext(new Hosts(), { ignoreHosts: ["^example\\.com$"], tcpHosts: ["^mail\\.test$"] });
  assert.ok(
    ctx.logLines("warn").some((l) => l.startsWith("[hosts]") && l.includes("^example\\.com$")),
    ctx.logLines().join("\n"),
  );
  const d = await ctx.decide(testNextLayer({ destination: { host: "mail.test", port: 25 } }));
  assert.equal(d, { ignore: false, needMoreData: false, tcp: true });
});

test("block: public clients refused by default, private ones only with block_private, loopback never", async () => {
  const ctx = await testContext(new Block());
  const pub = testClient({ peername: { host: "8.8.8.8", port: 1234 } });
  await ctx.trigger("clientConnect", pub);
  assert.is(pub.error, "Client connection from 8.8.8.8:1234 killed by block_global option.");
  const mapped = testClient({ peername: { host: "::ffff:1.1.1.1", port: 1 } });
  await ctx.trigger("clientConnect", mapped);
  assert.ok(mapped.error);
  const priv = testClient({ peername: { host: "192.168.1.5", port: 1 } });
  await ctx.trigger("clientConnect", priv);
  assert.is(priv.error, undefined);
  await ctx.setOptions({ blockPrivate: true, blockGlobal: false });
  const priv2 = testClient({ peername: { host: "10.0.0.1", port: 1 } });
  await ctx.trigger("clientConnect", priv2);
  assert.is(priv2.error, "Client connection from 10.0.0.1:1 killed by block_private option.");
  for (const host of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    const lo = testClient({ peername: { host, port: 1 } });
    await ctx.trigger("clientConnect", lo);
    assert.is(lo.error, undefined, host);
  }
});

test("errorcheck: an error logged during start-up asks the proxy to exit with 1; later errors do not", async () => {
  const codes: number[] = [];
  const { AddonHost } = await import("@interloper/sdk/host");
  const host = new AddonHost({ onShutdown: (c) => codes.push(c) });
  await host.add(new ErrorCheck());
  host.log("error", "script failed to load");
  await host.start();
  assert.equal(codes, [1]);
  const quiet = new AddonHost({ onShutdown: (c) => codes.push(c) });
  await quiet.add(new ErrorCheck());
  await quiet.start();
  quiet.log("error", "a runtime error");
  assert.equal(codes, [1]);
});

test.run();
