// Upstream mode end to end (SEMANTICS.md §1-§2): explicit HTTP goes to the
// upstream proxy in absolute form, tunnels go through it with CONNECT (ignored
// ones too), there is no resolved-IP candidate, upstream_auth, a refusing
// upstream, a chain of two interlopers, and the secure web proxy
// (`curl -x https://…`) in regular and upstream mode.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  curl,
  originCa,
  startOrigin,
  startProxy,
  tempDir,
  removeDir,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import {
  connectRaw,
  PEER,
  startEcho,
  startUpstreamProxy,
  waitListeners,
  type EchoServer,
  type UpstreamProxy,
} from "../helpers/modes.ts";

let httpOrigin: Origin;
let httpsOrigin: Origin;
let ignoredHttps: Origin;
let echo: EchoServer;
/** Records everything; no auth. */
let up: UpstreamProxy;
/** Requires Proxy-Authorization: Basic user:pass. */
let upAuth: UpstreamProxy;
/** upstream:http://127.0.0.1:up, -v, ignoring ignoredHttps and echo. */
let proxy: ProxyProcess;
/** upstream:http://127.0.0.1:upAuth with upstream_auth=user:pass. */
let authed: ProxyProcess;
/** upstream:http://127.0.0.1:upAuth without credentials. */
let refused: ProxyProcess;

const BASIC_USER_PASS = "Basic dXNlcjpwYXNz";
const body = (req: { method?: string; url?: string }) => `${req.method} ${req.url}`;

test.before(async () => {
  httpOrigin = await startOrigin((req, res) => res.end(body(req)));
  httpsOrigin = await startOrigin((req, res) => res.end(body(req)), { tls: true });
  ignoredHttps = await startOrigin((req, res) => res.end(body(req)), { tls: true });
  echo = await startEcho();
  up = await startUpstreamProxy();
  upAuth = await startUpstreamProxy({ requireAuth: BASIC_USER_PASS });
  proxy = await startProxy([
    "--mode",
    `upstream:http://127.0.0.1:${up.port}`,
    "-v",
    "--ignore-hosts",
    `^localhost:${ignoredHttps.port}$`,
    "--ignore-hosts",
    `^127\\.0\\.0\\.1:${echo.port}$`,
    // Matches the explicit HTTP requests below: they are never ignored (no destination is known).
    "--ignore-hosts",
    `^localhost:${httpOrigin.port}$`,
  ]);
  authed = await startProxy(["--mode", `upstream:http://127.0.0.1:${upAuth.port}`, "--set", "upstream_auth=user:pass"]);
  refused = await startProxy(["--mode", `upstream:http://127.0.0.1:${upAuth.port}`]);
});

test.after(async () => {
  for (const p of [proxy, authed, refused]) await p?.stop();
  for (const s of [httpOrigin, httpsOrigin, ignoredHttps, echo, up, upAuth]) await s?.close();
});

const connects = (u: UpstreamProxy) => u.records.filter((r) => r.kind === "connect").map((r) => r.target);

test("the start-up line names the upstream proxy", async () => {
  const [l] = await waitListeners(proxy, 1);
  assert.equal(l, {
    title: `Upstream proxy via http://127.0.0.1:${up.port}`,
    scheme: "http",
    host: "127.0.0.1",
    port: proxy.port,
  });
});

test("explicit HTTP requests arrive at the upstream proxy in absolute form", async () => {
  const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://localhost:${httpOrigin.port}/abs?q=1`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), "GET /abs?q=1");
  const rec = up.records.find((x) => x.kind === "request" && x.target.endsWith("/abs?q=1"));
  assert.ok(rec, JSON.stringify(up.records));
  assert.is(rec.method, "GET");
  assert.is(rec.target, `http://localhost:${httpOrigin.port}/abs?q=1`);
  assert.is(rec.headers.host, `localhost:${httpOrigin.port}`);
  assert.is(rec.headers["proxy-authorization"], undefined, "no credentials without upstream_auth");
  assert.not.ok(connects(up).includes(`localhost:${httpOrigin.port}`), "plain HTTP is not tunnelled");
  await proxy.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${httpOrigin.port}/abs\\?q=1\\n     << 200 OK`));
  // The connection the proxy opened is to the upstream proxy.
  assert.match(proxy.stdout(), new RegExp(`${PEER}: server connect 127\\.0\\.0\\.1:${up.port}\\n`));
  // A POST body goes through unchanged.
  const post = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--data-binary",
    "a=1&b=2",
    `http://localhost:${httpOrigin.port}/post`,
  ]);
  assert.is(post.code, 0, post.stderr);
  assert.is(post.stdout.toString(), "POST /post");
  assert.is(httpOrigin.requests.find((q) => q.url === "/post")?.body.toString(), "a=1&b=2");
});

test("one client connection, two origins: both requests reach the upstream in absolute form, each with its own target", async () => {
  const r = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    `http://localhost:${httpOrigin.port}/first`,
    `http://127.0.0.1:${httpOrigin.port}/second`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), "GET /firstGET /second");
  const targets = up.records.filter((x) => x.kind === "request").map((x) => x.target);
  assert.ok(targets.includes(`http://localhost:${httpOrigin.port}/first`), JSON.stringify(targets));
  assert.ok(targets.includes(`http://127.0.0.1:${httpOrigin.port}/second`), JSON.stringify(targets));
  await proxy.waitForOutput(new RegExp(`${PEER}: GET http://127\\.0\\.0\\.1:${httpOrigin.port}/second\\n`));
});

test("HTTPS goes through the upstream with CONNECT and is intercepted (the client sees the proxy's certificate)", async () => {
  const r = await curl([
    "-v",
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    proxy.caFile,
    `https://localhost:${httpsOrigin.port}/secure`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), "GET /secure");
  assert.match(r.stderr, /issuer: .*CN=interloper/);
  assert.ok(connects(up).includes(`localhost:${httpsOrigin.port}`), JSON.stringify(up.records));
  await proxy.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/secure\\n     << 200 OK`));
  // Through an upstream proxy there is no resolved address: no `(ip:port)` after the name.
  assert.match(proxy.stdout(), new RegExp(`${PEER}: server connect localhost:${httpsOrigin.port}\\n`));
  const o = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    (await originCa()).caFile,
    `https://localhost:${httpsOrigin.port}/secure`,
  ]);
  assert.is(o.code, 60, `the origin CA must not verify the proxy's certificate: ${o.stderr}`);
});

test("an absolute-form https:// request goes through the upstream with CONNECT, then TLS", async () => {
  const raw = await connectRaw(proxy.port);
  try {
    raw.write(
      `GET https://localhost:${httpsOrigin.port}/abs-https HTTP/1.1\r\nHost: localhost:${httpsOrigin.port}\r\nConnection: close\r\n\r\n`,
    );
    await raw.closedByPeer("the response");
    assert.match(raw.buf.toString("latin1"), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nGET \/abs-https$/);
  } finally {
    raw.destroy();
  }
  assert.ok(connects(up).includes(`localhost:${httpsOrigin.port}`));
  assert.not.ok(
    up.records.some((r) => r.kind === "request" && r.target.includes("/abs-https")),
    "not sent to the upstream in absolute form",
  );
  await proxy.waitForOutput(
    new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/abs-https\\n     << 200 OK`),
  );
});

test("an ignored tunnel still goes through the upstream via CONNECT: the origin's certificate, no request line", async () => {
  const before = connects(up).filter((c) => c === `localhost:${ignoredHttps.port}`).length;
  const r = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    (await originCa()).caFile,
    `https://localhost:${ignoredHttps.port}/pinned`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), "GET /pinned");
  assert.is(
    connects(up).filter((c) => c === `localhost:${ignoredHttps.port}`).length,
    before + 1,
    "one more CONNECT at the upstream",
  );
  await proxy.waitForOutput(new RegExp(`server disconnect localhost:${ignoredHttps.port}`));
  assert.not.match(proxy.stdout(), new RegExp(`GET https://localhost:${ignoredHttps.port}`));
});

test("an ignored tunnel relays raw bytes unchanged through the upstream", async () => {
  const raw = await connectRaw(proxy.port);
  const payload = Buffer.from("\x00\xff\x16not a hello\r\n\r\n", "latin1");
  try {
    raw.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\n`);
    await raw.until(() => raw.buf.includes("\r\n\r\n"), "the CONNECT response");
    const head = raw.buf.subarray(0, raw.buf.indexOf("\r\n\r\n") + 4).toString("latin1");
    assert.match(head, /^HTTP\/1\.1 200 /);
    await raw.read(head.length);
    raw.write(payload);
    assert.equal(await raw.read(payload.length, "the echo"), payload);
  } finally {
    raw.destroy();
  }
  assert.equal(echo.received.at(-1), payload);
  assert.ok(connects(up).includes(`127.0.0.1:${echo.port}`));
  assert.not.match(proxy.stdout(), new RegExp(`-> tcp -> 127\\.0\\.0\\.1:${echo.port}`));
});

test("-v: the hosts decision has no resolved-IP candidate in upstream mode", async () => {
  // The decisions of the tests above: one ignore by destination, one intercept listing its candidates.
  await proxy.waitForOutput(
    new RegExp(
      `ignoring connection: '\\^localhost:${ignoredHttps.port}\\$' matched 'localhost:${ignoredHttps.port}' \\(destination\\)`,
    ),
  );
  await proxy.waitForOutput(
    new RegExp(
      `intercepting connection: no --ignore-hosts pattern matched 'localhost:${httpsOrigin.port}' \\(destination\\)`,
    ),
  );
  const decisions = proxy
    .stdout()
    .split("\n")
    .filter((l) => /(ignoring|intercepting) connection:|waiting for more data/.test(l));
  assert.ok(decisions.length > 0);
  for (const l of decisions) assert.not.match(l, /\(resolved\)/, l);
  assert.not.match(proxy.stdout(), /\(resolved\)/);
});

test("--set upstream_auth=user:pass: the upstream gets Proxy-Authorization: Basic dXNlcjpwYXNz (absolute form and CONNECT)", async () => {
  const h = await curl(["-x", `http://127.0.0.1:${authed.port}`, `http://localhost:${httpOrigin.port}/authed`]);
  assert.is(h.code, 0, h.stderr);
  assert.is(h.stdout.toString(), "GET /authed");
  const s = await curl([
    "-x",
    `http://127.0.0.1:${authed.port}`,
    "--cacert",
    authed.caFile,
    `https://localhost:${httpsOrigin.port}/authed-tls`,
  ]);
  assert.is(s.code, 0, s.stderr);
  assert.is(s.stdout.toString(), "GET /authed-tls");
  const req = upAuth.records.find((r) => r.kind === "request" && r.target.endsWith("/authed"));
  const con = upAuth.records.find((r) => r.kind === "connect" && r.target === `localhost:${httpsOrigin.port}`);
  assert.is(req?.headers["proxy-authorization"], BASIC_USER_PASS);
  assert.is(con?.headers["proxy-authorization"], BASIC_USER_PASS);
  // The client's own Proxy-Authorization (for interloper) is not what the upstream gets.
  const c = await curl([
    "-x",
    `http://127.0.0.1:${authed.port}`,
    "--proxy-user",
    "client:secret",
    `http://localhost:${httpOrigin.port}/client-cred`,
  ]);
  assert.is(c.code, 0, c.stderr);
  const rec = upAuth.records.find((r) => r.kind === "request" && r.target.endsWith("/client-cred"));
  assert.is(rec?.headers["proxy-authorization"], BASIC_USER_PASS);
});

test("an upstream that answers 407 to CONNECT: the client gets 502 naming it", async () => {
  const raw = await connectRaw(refused.port);
  let response: string;
  try {
    raw.write(`CONNECT localhost:${httpsOrigin.port} HTTP/1.1\r\nHost: localhost:${httpsOrigin.port}\r\n\r\n`);
    await raw.closedByPeer("the 502 and the close");
    response = raw.buf.toString("latin1");
  } finally {
    raw.destroy();
  }
  assert.match(response, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  const text = response.slice(response.indexOf("\r\n\r\n") + 4);
  assert.match(text, /upstream proxy/);
  assert.match(text, /407 Proxy Authentication Required/);
  assert.match(text, `localhost:${httpsOrigin.port}`);
  await refused.waitForOutput(/error establishing server connection: upstream proxy refused CONNECT .*407/);
  // curl reports the failed tunnel.
  const r = await curl([
    "-x",
    `http://127.0.0.1:${refused.port}`,
    "--cacert",
    refused.caFile,
    `https://localhost:${httpsOrigin.port}/x`,
  ]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /502/);
  assert.not.ok(httpsOrigin.requests.some((q) => q.url === "/x"));
});

test("an upstream that answers 407 to an absolute-form request: the client gets an answer, never the origin's", async () => {
  const r = await curl([
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-x",
    `http://127.0.0.1:${refused.port}`,
    `http://localhost:${httpOrigin.port}/no-auth`,
  ]);
  assert.is(r.code, 0, r.stderr);
  // mitmproxy relays the upstream's response as it is; a 502 would also be an answer.
  assert.ok(["407", "502"].includes(r.stdout.toString()), r.stdout.toString());
  assert.not.ok(httpOrigin.requests.some((q) => q.url === "/no-auth"));
});

// ---------------------------------------------------------------- chains

test("a chain: interloper (upstream mode) → interloper (regular) → origin, HTTP and HTTPS, both intercept", async () => {
  const confB = tempDir("interloper-conf-b-");
  let b: ProxyProcess | undefined;
  let a: ProxyProcess | undefined;
  try {
    b = await startProxy(["--mode", "regular@0"], { confdir: confB });
    // A verifies B's certificates (B intercepts the tunnel A opens), not the origin's.
    a = await startProxy(
      ["--mode", `upstream:http://127.0.0.1:${b.port}`, "--set", `ssl_verify_upstream_trusted_ca=${b.caFile}`],
      { trustOrigin: false },
    );
    const h = await curl(["-x", `http://127.0.0.1:${a.port}`, `http://localhost:${httpOrigin.port}/chain`]);
    assert.is(h.code, 0, h.stderr);
    assert.is(h.stdout.toString(), "GET /chain");
    const s = await curl([
      "-x",
      `http://127.0.0.1:${a.port}`,
      "--cacert",
      a.caFile,
      `https://localhost:${httpsOrigin.port}/chain-tls`,
    ]);
    assert.is(s.code, 0, s.stderr);
    assert.is(s.stdout.toString(), "GET /chain-tls");
    for (const p of [a, b]) {
      await p.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${httpOrigin.port}/chain\\n     << 200 OK`));
      await p.waitForOutput(
        new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/chain-tls\\n     << 200 OK`),
      );
    }
    // A's server connection is B itself.
    assert.match(a.stdout(), new RegExp(`server connect 127\\.0\\.0\\.1:${b.port}\\n`));
  } finally {
    await a?.stop();
    await b?.stop();
    removeDir(confB);
  }
});

test("a chain over TLS: upstream:https://localhost:B where B is a regular interloper (a secure web proxy upstream)", async () => {
  const confB = tempDir("interloper-conf-b-");
  let b: ProxyProcess | undefined;
  let a: ProxyProcess | undefined;
  try {
    b = await startProxy(["--mode", "regular@0"], { confdir: confB });
    a = await startProxy(
      ["--mode", `upstream:https://localhost:${b.port}`, "--set", `ssl_verify_upstream_trusted_ca=${b.caFile}`],
      { trustOrigin: false },
    );
    const h = await curl(["-x", `http://127.0.0.1:${a.port}`, `http://localhost:${httpOrigin.port}/chain-swp`]);
    assert.is(h.code, 0, h.stderr);
    assert.is(h.stdout.toString(), "GET /chain-swp");
    const s = await curl([
      "-x",
      `http://127.0.0.1:${a.port}`,
      "--cacert",
      a.caFile,
      `https://localhost:${httpsOrigin.port}/chain-swp-tls`,
    ]);
    assert.is(s.code, 0, s.stderr);
    assert.is(s.stdout.toString(), "GET /chain-swp-tls");
    await b.waitForOutput(/client speaks TLS to the proxy|GET http:\/\/localhost:\d+\/chain-swp\n/);
    await b.waitForOutput(new RegExp(`GET https://localhost:${httpsOrigin.port}/chain-swp-tls\\n`));
  } finally {
    await a?.stop();
    await b?.stop();
    removeDir(confB);
  }
});

test("an https upstream whose certificate does not verify: 502 naming the upstream proxy and the TLS failure", async () => {
  const confB = tempDir("interloper-conf-b-");
  let b: ProxyProcess | undefined;
  let a: ProxyProcess | undefined;
  try {
    b = await startProxy(["--mode", "regular@0"], { confdir: confB });
    // A trusts only the origin CA, not B's.
    a = await startProxy(["--mode", `upstream:https://localhost:${b.port}`]);
    const raw = await connectRaw(a.port);
    let response: string;
    try {
      raw.write(`CONNECT localhost:${httpsOrigin.port} HTTP/1.1\r\nHost: localhost:${httpsOrigin.port}\r\n\r\n`);
      await raw.closedByPeer("the 502");
      response = raw.buf.toString("latin1");
    } finally {
      raw.destroy();
    }
    assert.match(response, /^HTTP\/1\.1 502 /);
    assert.match(
      response,
      new RegExp(`TLS handshake with upstream proxy localhost:${b.port} failed: certificate verify failed`),
    );
    const h = await curl([
      "-s",
      "-w",
      "\\n%{http_code}",
      "-x",
      `http://127.0.0.1:${a.port}`,
      `http://localhost:${httpOrigin.port}/unverified`,
    ]);
    assert.match(h.stdout.toString(), /\n502$/);
    assert.match(h.stdout.toString(), /certificate verify failed/);
    assert.not.ok(httpOrigin.requests.some((q) => q.url === "/unverified"));
  } finally {
    await a?.stop();
    await b?.stop();
    removeDir(confB);
  }
});

// ---------------------------------------------------------------- secure web proxy

test("secure web proxy, regular mode: curl -x https://localhost:P --proxy-cacert for HTTP and HTTPS targets", async () => {
  const p = await startProxy([
    "--mode",
    "regular@0",
    "--ignore-hosts",
    `^localhost:${ignoredHttps.port}$`,
    "--ignore-hosts",
    "^proxy\\.test:",
  ]);
  try {
    const h = await curl([
      "-x",
      `https://localhost:${p.port}`,
      "--proxy-cacert",
      p.caFile,
      `http://localhost:${httpOrigin.port}/swp`,
    ]);
    assert.is(h.code, 0, h.stderr);
    assert.is(h.stdout.toString(), "GET /swp");
    const s = await curl([
      "-x",
      `https://localhost:${p.port}`,
      "--proxy-cacert",
      p.caFile,
      "--cacert",
      p.caFile,
      `https://localhost:${httpsOrigin.port}/swp-tls`,
    ]);
    assert.is(s.code, 0, s.stderr);
    assert.is(s.stdout.toString(), "GET /swp-tls");
    await p.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${httpOrigin.port}/swp\\n     << 200 OK`));
    await p.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/swp-tls\\n     << 200 OK`));
    // The proxy's TLS is verified with the proxy CA: the origin CA refuses it.
    const bad = await curl([
      "-x",
      `https://localhost:${p.port}`,
      "--proxy-cacert",
      (await originCa()).caFile,
      `http://localhost:${httpOrigin.port}/swp`,
    ]);
    assert.is.not(bad.code, 0);
    // A CONNECT inside the secure web proxy is decided as in regular mode: a matching one is ignored…
    const i = await curl([
      "-x",
      `https://localhost:${p.port}`,
      "--proxy-cacert",
      p.caFile,
      "--cacert",
      (await originCa()).caFile,
      `https://localhost:${ignoredHttps.port}/swp-ignored`,
    ]);
    assert.is(i.code, 0, i.stderr);
    assert.is(i.stdout.toString(), "GET /swp-ignored");
    // …and the name the client used for the proxy itself (its TLS SNI) is not a candidate.
    const n = await curl([
      "-x",
      `https://proxy.test:${p.port}`,
      "--resolve",
      `proxy.test:${p.port}:127.0.0.1`,
      "--proxy-cacert",
      p.caFile,
      "--cacert",
      p.caFile,
      `https://localhost:${httpsOrigin.port}/swp-named-proxy`,
    ]);
    assert.is(n.code, 0, n.stderr);
    assert.is(n.stdout.toString(), "GET /swp-named-proxy");
    await p.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/swp-named-proxy\\n`));
    assert.not.match(p.stdout(), /swp-ignored/);
  } finally {
    await p.stop();
  }
});

test("secure web proxy, upstream mode: HTTP in absolute form and HTTPS via CONNECT still reach the upstream", async () => {
  const h = await curl([
    "-x",
    `https://localhost:${proxy.port}`,
    "--proxy-cacert",
    proxy.caFile,
    `http://localhost:${httpOrigin.port}/swp-up`,
  ]);
  assert.is(h.code, 0, h.stderr);
  assert.is(h.stdout.toString(), "GET /swp-up");
  assert.ok(
    up.records.some((r) => r.kind === "request" && r.target === `http://localhost:${httpOrigin.port}/swp-up`),
    JSON.stringify(up.records),
  );
  const before = connects(up).length;
  const s = await curl([
    "-x",
    `https://localhost:${proxy.port}`,
    "--proxy-cacert",
    proxy.caFile,
    "--cacert",
    proxy.caFile,
    `https://localhost:${httpsOrigin.port}/swp-up-tls`,
  ]);
  assert.is(s.code, 0, s.stderr);
  assert.is(s.stdout.toString(), "GET /swp-up-tls");
  assert.ok(connects(up).slice(before).includes(`localhost:${httpsOrigin.port}`));
  await proxy.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/swp-up-tls\\n`));
  // An ignored tunnel inside the secure web proxy: the origin's own certificate, via the upstream.
  const i = await curl([
    "-x",
    `https://localhost:${proxy.port}`,
    "--proxy-cacert",
    proxy.caFile,
    "--cacert",
    (await originCa()).caFile,
    `https://localhost:${ignoredHttps.port}/swp-ignored`,
  ]);
  assert.is(i.code, 0, i.stderr);
  assert.is(i.stdout.toString(), "GET /swp-ignored");
  assert.not.match(proxy.stdout(), /GET https:\/\/[^\s]*\/swp-ignored/);
});

test.run();
