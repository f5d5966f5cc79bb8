// The onboarding addon through @interloper/sdk/testing: which requests it answers (host, any port,
// the Host header, case and a trailing dot), CONNECT answered without a server, the downloads'
// bytes and headers, a mitmproxy CA taken over, the page's escaping, hostile paths and methods.
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HTTPFlow, Request, Response, type OptionSpec } from "@interloper/sdk";
import { testClient, testContext, testFlow, testServer } from "@interloper/sdk/testing";
import { Onboarding } from "../../addons/onboarding/index.ts";
import { escapeHtml, renderPage } from "../../addons/onboarding/page.ts";
import { CertificateAuthority } from "../../core/tls/ca.ts";
import { removeDir, tempDir } from "../helpers/harness.ts";

const CONFDIR: OptionSpec = { name: "confdir", type: "string", default: "~/.interloper", help: "" };

let confdir: string;

test.before(async () => {
  confdir = tempDir("interloper-onboarding-");
  await CertificateAuthority.load(confdir);
});

test.after(() => removeDir(confdir));

async function context(options: Record<string, unknown> = {}) {
  return testContext(new Onboarding(), { confdir, ...options }, [CONFDIR]);
}

test("answers its host on any port, by URL or Host header, in any case; other hosts go on", async () => {
  const ctx = await context();
  const answered = [
    "http://interloper.invalid/",
    "https://interloper.invalid/cert/pem",
    "http://INTERLOPER.invalid:8080/cert/cer",
    "http://interloper.invalid./",
  ];
  for (const url of answered) {
    const flow = await ctx.http(testFlow({ url }), { status: 599 });
    assert.is.not(flow.response?.status, 599, url);
  }
  // Transparent mode: the request goes to an address, the Host header names the page.
  const byHost = testFlow({ url: "http://192.0.2.1/cert/pem", headers: { Host: "interloper.invalid" } });
  assert.is((await ctx.http(byHost, { status: 599 })).response?.status, 200);
  for (const url of [
    "http://interloper.invalid.example/",
    "http://xinterloper.invalid/",
    "http://example.com/cert/pem",
  ]) {
    assert.is((await ctx.http(testFlow({ url }), { status: 599 })).response?.status, 599, url);
  }
});

test("downloads: the confdir's bytes, mitmproxy's content types, an attachment name; nothing else", async () => {
  const ctx = await context();
  const cases = [
    ["pem", "interloper-ca-cert.pem", "application/x-x509-ca-cert"],
    ["cer", "interloper-ca-cert.cer", "application/x-x509-ca-cert"],
    ["p12", "interloper-ca-cert.p12", "application/x-pkcs12"],
  ];
  for (const [id, file, type] of cases) {
    const flow = await ctx.http(testFlow({ url: `http://interloper.invalid/cert/${id}?x=1` }));
    assert.ok(Buffer.from(flow.response!.body).equals(readFileSync(join(confdir, file!))), file);
    assert.is(flow.response!.headers.get("content-type"), type);
    assert.is(flow.response!.headers.get("content-disposition"), `attachment; filename="${file}"`);
  }
  for (const path of [
    "/cert/key",
    "/cert/",
    "/cert/pem/",
    "/interloper-ca.pem",
    "/cert/../interloper-ca.pem",
    "/%2e%2e/x",
  ]) {
    const flow = testFlow({ url: "http://interloper.invalid/" });
    flow.request.path = path;
    const again = await ctx.http(flow);
    assert.is(again.response?.status, 404, path);
    assert.not.match(again.response!.text(), /PRIVATE KEY/, path);
  }
  const post = await ctx.http(testFlow({ url: "http://interloper.invalid/", method: "POST" }));
  assert.is(post.response?.status, 405);
  assert.is(post.response?.headers.get("allow"), "GET, HEAD");
});

test("CONNECT to the host is answered 200 (no server needed); an earlier answer or another host is left alone", async () => {
  const ctx = await context();
  const connect = (host: string) =>
    new HTTPFlow(
      testClient(),
      testServer({ host, port: 443 }),
      new Request({ method: "CONNECT", host, port: 443, path: "", form: "authority" }),
    );
  const mine = connect("interloper.invalid");
  await ctx.trigger("httpConnect", mine);
  assert.is(mine.response?.status, 200);
  const other = connect("example.com");
  await ctx.trigger("httpConnect", other);
  assert.is(other.response, undefined);
  const refused = connect("interloper.invalid");
  refused.response = Response.make(407);
  await ctx.trigger("httpConnect", refused);
  assert.is(refused.response.status, 407, "proxyauth's refusal stands");
});

test("onboarding=false and onboarding_host change what is answered, live", async () => {
  const ctx = await context({ onboarding: false });
  assert.is((await ctx.http(testFlow({ url: "http://interloper.invalid/" }), { status: 599 })).response?.status, 599);
  await ctx.setOptions({ onboarding: true, onboardingHost: "Setup.Example.test" });
  assert.is((await ctx.http(testFlow({ url: "http://setup.example.test/" }), { status: 599 })).response?.status, 200);
  assert.is((await ctx.http(testFlow({ url: "http://interloper.invalid/" }), { status: 599 })).response?.status, 599);
});

test("onboarding_port (mitmproxy 8.1.1's option): 0 answers any port, a port only that one; bad values refused", async () => {
  const ctx = await context({ onboardingPort: 8080 });
  const status = async (url: string) => (await ctx.http(testFlow({ url }), { status: 599 })).response?.status;
  assert.is(await status("http://interloper.invalid:8080/"), 200);
  assert.is(await status("http://interloper.invalid/"), 599, "port 80 goes on");
  const connect = testFlow({ url: "http://interloper.invalid:443/", method: "CONNECT" });
  await ctx.trigger("httpConnect", connect);
  assert.is(connect.response, undefined, "a CONNECT to another port is not answered");
  await ctx.setOptions({ onboardingPort: 0 });
  assert.is(await status("http://interloper.invalid/"), 200);
  assert.is(await status("http://interloper.invalid:4443/"), 200);
  for (const bad of [-1, 65536, 1.5]) {
    let error: unknown;
    try {
      await ctx.setOptions({ onboardingPort: bad });
    } catch (err) {
      error = err;
    }
    assert.match(String(error), new RegExp(`invalid value for onboarding_port: ${bad} \\(expected 0 for any port`));
    assert.is(ctx.host.options.get("onboardingPort"), 0, "the old value stays");
  }
});

test("flows that are not live (read with -r, replayed) are not answered", async () => {
  const ctx = await context();
  const flow = testFlow({ url: "http://interloper.invalid/" });
  flow.live = false;
  await ctx.trigger("request", flow);
  assert.is(flow.response, undefined);
  const live = testFlow({ url: "http://interloper.invalid/" });
  await ctx.trigger("request", live);
  assert.is(live.response?.status, 200);
});

test("a mitmproxy CA taken over (mitmproxy-ca.pem alone): every format and the fingerprint, under mitmproxy's names", async () => {
  const dir = tempDir("interloper-onboarding-mitm-");
  try {
    // The usual case: only mitmproxy's key file, no mitmproxy-ca-cert.* next to it. The core's
    // CA loading writes interloper-ca-cert.* for the CA it takes over.
    copyFileSync(join(confdir, "interloper-ca.pem"), join(dir, "mitmproxy-ca.pem"));
    await CertificateAuthority.load(dir);
    const ctx = await testContext(new Onboarding(), { confdir: dir }, [CONFDIR]);
    for (const id of ["pem", "cer", "p12"]) {
      const flow = await ctx.http(testFlow({ url: `http://interloper.invalid/cert/${id}` }), { status: 599 });
      assert.is(flow.response!.status, 200, id);
      assert.is(flow.response!.headers.get("content-disposition"), `attachment; filename="mitmproxy-ca-cert.${id}"`);
      assert.ok(flow.response!.content.equals(readFileSync(join(dir, `interloper-ca-cert.${id}`))), id);
    }
    const page = (await ctx.http(testFlow({ url: "http://interloper.invalid/" }))).response!.text();
    const fingerprint = new X509Certificate(readFileSync(join(dir, "interloper-ca-cert.pem"))).fingerprint256;
    assert.ok(page.includes(fingerprint), "the fingerprint is shown");
    for (const id of ["pem", "cer", "p12"]) assert.ok(page.includes(`href="/cert/${id}"`), id);
    assert.ok(page.includes("mitmproxy-ca-cert.pem"));
  } finally {
    removeDir(dir);
  }
});

test("the page escapes what it shows and carries no script; a policy header says so", async () => {
  const html = renderPage({
    formats: [{ format: { id: "pem", contentType: "x", label: "<b>label</b>" }, fileName: 'a"<script>.pem' }],
    fingerprint: "<img src=x>",
    baseName: "interloper-ca-cert",
  });
  assert.not.match(html, /<script|<img|<b>label/);
  assert.is(escapeHtml(`<&>"'`), "&#60;&#38;&#62;&#34;&#39;");
  const ctx = await context();
  const page = (await ctx.http(testFlow({ url: "http://interloper.invalid/" }))).response!;
  assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
});

test.run();
