import { test } from "uvu";
import * as assert from "uvu/assert";
import { testClient, testContext, testFlow } from "@interloper/sdk/testing";
import { HTTPFlow, Request, type Socks5AuthData } from "@interloper/sdk";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

function explicit(headers: Record<string, string> = {}, clientId?: string): HTTPFlow {
  const f = testFlow({ url: "http://example.com/x", headers: { Host: "example.com", ...headers } });
  f.request.form = "absolute";
  if (clientId) (f.client as { id: string }).id = clientId;
  return f;
}

test("without proxyauth nothing is required, and SOCKS5 asks for no credentials", async () => {
  const ctx = await testContext(new ProxyAuth());
  const f = await ctx.http(explicit(), { status: 200 });
  assert.is(f.response?.status, 200);
  assert.not.ok(ctx.host.hasHandlers("socks5Auth"));
});

test("user:pass: missing or wrong credentials get 407 with Proxy-Authenticate; right ones pass", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "alice:s3cret" });
  const none = await ctx.http(explicit(), { status: 200 });
  assert.is(none.response?.status, 407);
  assert.is(none.response?.headers.get("proxy-authenticate"), 'Basic realm="interloper"');
  const wrong = await ctx.http(explicit({ "Proxy-Authorization": basic("alice", "nope") }), { status: 200 });
  assert.is(wrong.response?.status, 407);
  assert.ok(ctx.logLines("warn").some((l) => l.includes("proxy authentication failed for user 'alice'")));
  const right = await ctx.http(explicit({ "Proxy-Authorization": basic("alice", "s3cret") }), { status: 200 });
  assert.is(right.response?.status, 200);
});

test("a connection that authenticated once is not asked again", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "a:b" });
  const first = await ctx.http(explicit({ "Proxy-Authorization": basic("a", "b") }, "conn-1"), { status: 200 });
  assert.is(first.response?.status, 200);
  const second = await ctx.http(explicit({}, "conn-1"), { status: 200 });
  assert.is(second.response?.status, 200);
  const other = await ctx.http(explicit({}, "conn-2"), { status: 200 });
  assert.is(other.response?.status, 407);
});

test("CONNECT is checked in httpConnect; requests inside a tunnel are not", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "a:b" });
  const connect = new HTTPFlow(
    testClient(),
    { id: "s", address: { host: "example.com", port: 443 }, tls: false, tlsEstablished: false },
    new Request({ method: "CONNECT", host: "example.com", port: 443, path: "", form: "authority" }),
  );
  await ctx.trigger("httpConnect", connect);
  assert.is(connect.response?.status, 407);
  const inner = testFlow({ url: "https://example.com/" });
  inner.request.form = "origin";
  const f = await ctx.http(inner, { status: 200 });
  assert.is(f.response?.status, 200);
});

test("'any' accepts any non-empty credentials; SOCKS5 credentials are checked by the socks5Auth hook", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "any" });
  const f = await ctx.http(explicit({ "Proxy-Authorization": basic("x", "y") }), { status: 200 });
  assert.is(f.response?.status, 200);
  assert.ok(ctx.host.hasHandlers("socks5Auth"));
  const data: Socks5AuthData = { client: testClient(), username: "u", password: "p", valid: false };
  await ctx.trigger("socks5Auth", data);
  assert.ok(data.valid);
  await ctx.setOptions({ proxyauth: "u:right" });
  const bad: Socks5AuthData = { client: testClient(), username: "u", password: "wrong", valid: false };
  await ctx.trigger("socks5Auth", bad);
  assert.not.ok(bad.valid);
  await ctx.setOptions({ proxyauth: undefined });
  assert.not.ok(ctx.host.hasHandlers("socks5Auth"), "SOCKS5 asks for credentials only while proxyauth is set");
});

test("bad values are refused with a line naming the option, and the old value stays", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "a:b" });
  for (const bad of ["nocolon", ":pass", "@/nonexistent/interloper-test/htpasswd", "ldap:localhost:cn=a:pw:ou=u"]) {
    try {
      await ctx.setOptions({ proxyauth: bad });
      assert.unreachable(`accepted ${bad}`);
    } catch (err) {
      assert.match((err as Error).message, /^invalid value for proxyauth: ('|LDAP)/);
    }
  }
  assert.is(ctx.host.options.get("proxyauth"), "a:b");
  const f = await ctx.http(explicit(), { status: 200 });
  assert.is(f.response?.status, 407);
});

test.run();
