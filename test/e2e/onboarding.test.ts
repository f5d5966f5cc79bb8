// The onboarding page end to end (the CLI, curl): every CA download through the proxy equals the
// confdir's file, over absolute-form http and through a CONNECT tunnel with https (HTTP/1.1 and
// HTTP/2), with mitmproxy's content types and attachment names; the page lists the formats, the
// platforms and the fingerprint; the private key is never served; an origin that counts
// connections never sees a request for the onboarding host; onboarding=false forwards them.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { confdirWith } from "../helpers/config-cli.ts";
import { closeSession, h2Get, h2ViaProxy } from "../helpers/h2.ts";
import { curl, startOrigin, startProxy, type Origin, type ProxyProcess } from "../helpers/harness.ts";

const FORMATS = [
  { id: "pem", file: "interloper-ca-cert.pem", type: "application/x-x509-ca-cert" },
  { id: "cer", file: "interloper-ca-cert.cer", type: "application/x-x509-ca-cert" },
  { id: "p12", file: "interloper-ca-cert.p12", type: "application/x-pkcs12" },
];

let proxy: ProxyProcess;
let origin: Origin;
let originTls: Origin;
/** TCP connections each origin accepted: a request answered by the proxy opens none. */
const connections = { http: 0, https: 0 };

test.before(async () => {
  origin = await startOrigin((_req, res) => res.end("from the origin\n"));
  originTls = await startOrigin((_req, res) => res.end("from the origin\n"), { tls: true });
  origin.server.on("connection", () => connections.http++);
  originTls.server.on("connection", () => connections.https++);
  proxy = await startProxy([]);
});

test.after(async () => {
  await proxy.stop();
  await origin.close();
  await originTls.close();
});

/** A GET through the proxy: status, HTTP version, headers (lower-case names) and body bytes. */
async function get(p: ProxyProcess, url: string, extra: string[] = []) {
  const r = await curl(["-i", "-x", `http://127.0.0.1:${p.port}`, "--cacert", p.caFile, ...extra, url]);
  assert.is(r.code, 0, `curl ${url}: ${r.stderr}`);
  let rest = r.stdout;
  // -i shows the proxy's answer to CONNECT too: the response is the head after it.
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return { version: undefined, status: NaN, headers: new Map<string, string>(), body: rest };
    const head = rest.subarray(0, end).toString("latin1");
    rest = rest.subarray(end + 4);
    if (/^HTTP\/1\.[01] 200 Connection established/i.test(head)) continue;
    const headers = new Map<string, string>();
    for (const line of head.split("\r\n").slice(1)) {
      const i = line.indexOf(":");
      if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const status = /^HTTP\/([\d.]+) (\d+)/.exec(head);
    return { version: status?.[1], status: Number(status?.[2]), headers, body: rest };
  }
}

test("each CA format downloads byte for byte, over http and https (HTTP/1.1 and HTTP/2), never forwarded", async () => {
  for (const f of FORMATS) {
    const want = readFileSync(join(proxy.confdir, f.file));
    for (const [url, extra] of [
      [`http://interloper.invalid/cert/${f.id}`, []],
      [`https://interloper.invalid/cert/${f.id}`, []],
      [`https://interloper.invalid:8443/cert/${f.id}`, []],
    ] as Array<[string, string[]]>) {
      const r = await get(proxy, url, extra);
      assert.is(r.status, 200, url);
      assert.ok(r.body.equals(want), `${url}: the confdir's ${f.file}`);
      assert.is(r.headers.get("content-type"), f.type, url);
      assert.is(r.headers.get("content-disposition"), `attachment; filename="${f.file}"`, url);
    }
  }
  // HTTP/2 in the tunnel (a client that offers only h2; curl offers HTTP/1.1 too, which the proxy prefers without a server).
  const { session, alpn } = await h2ViaProxy(proxy.port, "interloper.invalid:443", readFileSync(proxy.caFile, "utf8"));
  try {
    assert.is(alpn, "h2");
    for (const f of FORMATS) {
      const r = await h2Get(session, { ":path": `/cert/${f.id}`, ":authority": "interloper.invalid" });
      assert.is(r.status, 200);
      assert.ok(r.body.equals(readFileSync(join(proxy.confdir, f.file))), `HTTP/2: ${f.file}`);
      assert.is(r.headers["content-type"], f.type);
    }
  } finally {
    await closeSession(session);
  }
  assert.match(proxy.stdout(), /GET https:\/\/interloper\.invalid\/cert\/p12/);
  assert.not.match(proxy.stdout(), /server connect interloper\.invalid/, "no server connection was made");
});

test("the page: the formats the confdir holds, six platforms, the fingerprint; the key is never served", async () => {
  const page = await get(proxy, "http://interloper.invalid/");
  assert.is(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/);
  const html = page.body.toString();
  for (const f of FORMATS) assert.ok(html.includes(`href="/cert/${f.id}"`), f.id);
  for (const platform of ["Windows", "macOS", "Linux", "iOS", "Android", "Firefox"])
    assert.ok(html.includes(`<summary>${platform}</summary>`), platform);
  const fingerprint = new X509Certificate(readFileSync(join(proxy.confdir, "interloper-ca-cert.pem"))).fingerprint256;
  assert.ok(html.includes(fingerprint), "the fingerprint");
  assert.ok(html.includes('name="viewport"'), "made for phones too");
  assert.not.match(html, /<script|https?:\/\/(?!interloper)/, "no script, nothing fetched from elsewhere");
  for (const path of [
    "/cert/key",
    "/interloper-ca.pem",
    "/cert/../interloper-ca.pem",
    "/cert/pem/../../interloper-ca.pem",
    "/cert/PEM",
  ]) {
    const r = await get(proxy, `http://interloper.invalid${path}`, ["--path-as-is"]);
    assert.is(r.status, 404, path);
    assert.not.match(r.body.toString(), /PRIVATE KEY/, path);
  }
  const post = await curl([
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-X",
    "POST",
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "http://interloper.invalid/",
  ]);
  assert.is(post.stdout.toString(), "405");
});

test("onboarding_host names any host (here one an origin answers): the origin never sees a request; onboarding=false forwards", async () => {
  const p = await startProxy(["--set", "onboarding_host=localhost"], { confdir: confdirWith() });
  const off = await startProxy(["--set", "onboarding_host=localhost", "--set", "onboarding=false"], {
    confdir: confdirWith(),
  });
  try {
    const want = readFileSync(join(p.confdir, "interloper-ca-cert.pem"));
    const plain = await get(p, `http://localhost:${origin.port}/cert/pem`);
    assert.ok(plain.body.equals(want));
    const tls = await get(p, `https://localhost:${originTls.port}/cert/pem`);
    assert.ok(tls.body.equals(want));
    assert.equal(connections, { http: 0, https: 0 }, "no connection reached either origin");
    assert.is(origin.requests.length + originTls.requests.length, 0);

    const other = await get(p, `http://127.0.0.1:${origin.port}/cert/pem`);
    assert.is(other.body.toString(), "from the origin\n", "another host name is forwarded");
    const forwarded = await get(off, `http://localhost:${origin.port}/cert/pem`);
    assert.is(forwarded.body.toString(), "from the origin\n");
    const forwardedTls = await get(off, `https://localhost:${originTls.port}/cert/pem`);
    assert.is(forwardedTls.body.toString(), "from the origin\n");
    assert.ok(connections.http > 0 && connections.https > 0);
  } finally {
    await p.stop();
    await off.stop();
  }
});

test.run();
