import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HTTPFlow } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import blockHosts from "./block-hosts.ts";

const noServer = (): never => {
  throw new Error("the server must not be contacted for a blocked host");
};

/** A request to one address whose Host header names another (set after the URL: setting a URL rewrites Host). */
function withHost(flow: HTTPFlow, host: string): HTTPFlow {
  flow.request.headers.set("Host", host);
  return flow;
}

test("a listed host gets a 403 HTML page without contacting the server", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["ads.example"] });
  const flow = await ctx.http(testFlow({ url: "https://ads.example/banner.js" }), noServer);
  assert.is(flow.response?.status, 403);
  assert.is(flow.response?.reason, "Forbidden");
  assert.match(flow.response?.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(flow.response!.text(), /Requests to <b>ads\.example<\/b> are blocked/);
  assert.is(flow.response?.headers.get("content-length"), String(flow.response!.body.length));
});

test("subdomains are blocked, look-alikes and other hosts are not", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["Ads.Example."] });
  assert.is((await ctx.http(testFlow({ url: "http://cdn.ADS.example:8080/x" }), noServer)).response?.status, 403);
  for (const url of ["http://badads.example/", "http://ads.example.org/", "http://example/"]) {
    const flow = await ctx.http(testFlow({ url }), { status: 200, body: "real" });
    assert.is(flow.response?.status, 200, url);
    assert.is(flow.response?.text(), "real", url);
  }
});

test("the Host header counts: a transparent-mode request to an IP is blocked by name", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["tracker.test"] });
  const flow = await ctx.http(withHost(testFlow({ url: "http://203.0.113.7/pixel" }), "tracker.test"), noServer);
  assert.is(flow.response?.status, 403);
});

test("the name shown on the page is escaped", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["203.0.113.7"] });
  const flow = await ctx.http(withHost(testFlow({ url: "http://203.0.113.7/" }), "<script>x</script>"), noServer);
  assert.is(flow.response?.status, 403);
  assert.not.match(flow.response!.text(), /<script>/);
  assert.match(flow.response!.text(), /&#60;script&#62;/);
});

test("the list changes at run time; a bad entry is refused and the old list stays", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["a.test"] });
  await ctx.setOptions({ blockedHosts: ["b.test"] });
  assert.is((await ctx.http(testFlow({ url: "http://a.test/" }), { status: 200 })).response?.status, 200);
  assert.is((await ctx.http(testFlow({ url: "http://b.test/" }), noServer)).response?.status, 403);

  try {
    await ctx.setOptions({ blockedHosts: ["https://c.test/"] });
    assert.unreachable("a URL is not a host name");
  } catch (err) {
    assert.match((err as Error).message, /invalid blocked_hosts entry 'https:\/\/c\.test\/'/);
  }
  assert.is((await ctx.http(testFlow({ url: "http://b.test/" }), noServer)).response?.status, 403);
});

test("an IP address is blocked only as a whole", async () => {
  const ctx = await testContext(blockHosts, { blockedHosts: ["113.7", "2001:db8::1"] });
  assert.is((await ctx.http(testFlow({ url: "http://203.0.113.7/" }), { status: 200 })).response?.status, 200);
  assert.is((await ctx.http(testFlow({ url: "http://[2001:db8::1]/" }), noServer)).response?.status, 403);
});

test("with no list nothing is blocked", async () => {
  const ctx = await testContext(blockHosts);
  const flow = await ctx.http(testFlow({ url: "http://ads.example/" }), { status: 200 });
  assert.is(flow.response?.status, 200);
});

test.run();
