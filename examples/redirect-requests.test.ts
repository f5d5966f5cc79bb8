import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HTTPFlow } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import redirect, { parseTarget } from "./redirect-requests.ts";

/** What the server stand-in saw: where the request was sent and the Host it was asked for. */
function server(seen: string[]) {
  return (f: HTTPFlow) => {
    seen.push(`${f.request.url} host=${f.request.headers.get("host")}`);
    return { status: 200, body: "ok" };
  };
}

test("by default, as mitmproxy's example: example.org goes to mitmproxy.org, path, query and scheme kept", async () => {
  const ctx = await testContext(redirect);
  const seen: string[] = [];
  await ctx.http(testFlow({ url: "https://example.org/docs?x=1" }), server(seen));
  await ctx.http(testFlow({ url: "http://example.org:8080/plain" }), server(seen));
  assert.equal(seen, [
    "https://mitmproxy.org/docs?x=1 host=mitmproxy.org",
    "http://mitmproxy.org:8080/plain host=mitmproxy.org:8080",
  ]);
});

test("other hosts, subdomains and look-alikes are left alone", async () => {
  const ctx = await testContext(redirect);
  const seen: string[] = [];
  for (const url of ["https://www.example.org/", "https://example.org.evil.test/", "https://example.com/"])
    await ctx.http(testFlow({ url }), server(seen));
  assert.equal(seen, [
    "https://www.example.org/ host=www.example.org",
    "https://example.org.evil.test/ host=example.org.evil.test",
    "https://example.com/ host=example.com",
  ]);
});

test("the Host header decides (transparent mode: the request names only an address)", async () => {
  const ctx = await testContext(redirect, { redirectFrom: "api.test", redirectTo: "127.0.0.1:8080" });
  const flow = testFlow({ url: "http://203.0.113.7/v1" });
  flow.request.headers.set("Host", "API.test.");
  const seen: string[] = [];
  await ctx.http(flow, server(seen));
  assert.equal(seen, ["http://127.0.0.1:8080/v1 host=127.0.0.1:8080"]);
});

test("a request without a Host header gets none added", async () => {
  const ctx = await testContext(redirect, { redirectTo: "[::1]:9000" });
  const flow = testFlow({ url: "https://example.org/" });
  flow.request.headers.delete("host");
  await ctx.http(flow, { status: 200 });
  assert.is(flow.request.url, "https://[::1]:9000/");
  assert.not.ok(flow.request.headers.has("host"));
});

test("bad option values are refused with one line and the old value stays", async () => {
  const ctx = await testContext(redirect, { redirectTo: "mirror.test" });
  for (const bad of ["https://mirror.test/", "mirror.test:99999", "a b", ""]) {
    await refused(
      ctx.setOptions({ redirectTo: bad }),
      /^invalid redirect_to '.*': expected host, host:port or \[IPv6\]:port$/,
    );
  }
  await refused(
    ctx.setOptions({ redirectFrom: "http://example.org/" }),
    /^invalid redirect_from 'http:\/\/example\.org\/'/,
  );
  const seen: string[] = [];
  await ctx.http(testFlow({ url: "https://example.org/" }), server(seen));
  assert.equal(seen, ["https://mirror.test/ host=mirror.test"]);
});

test("parseTarget: host, host:port, [IPv6]:port; nothing else", () => {
  assert.equal(parseTarget("Mirror.Test"), { host: "mirror.test" });
  assert.equal(parseTarget("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
  assert.equal(parseTarget("[::1]:443"), { host: "::1", port: 443 });
  for (const bad of ["", ":80", "host:0", "host:65536", "::1", "host/path", "user@host", "host:80:81"])
    assert.is(parseTarget(bad), undefined, bad);
});

/** `change` must be refused with a message matching `re`. */
async function refused(change: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await change;
    assert.unreachable("the value was taken");
  } catch (err) {
    assert.match((err as Error).message, re);
  }
}

test.run();
