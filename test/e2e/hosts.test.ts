// ignore_hosts / allow_hosts / tcp_hosts end to end, through the CLI
// (SEMANTICS.md §1 and §4, and the seed page "Ignoring Domains").
//
// Every probe is checked twice: on the wire (whose certificate the client
// saw, which bytes the origin got) and in the event log (an ignored
// connection shows client/server connect and disconnect but no request line;
// an intercepted one shows its request line).
import { createHash, createPublicKey, randomBytes, X509Certificate } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import {
  curl,
  originCa,
  ROOT,
  runCli,
  sha256,
  sleep,
  startOrigin,
  startProxy,
  tempFile,
  waitFor,
  type Origin,
  type OriginCa,
  type ProxyProcess,
} from "../helpers/harness.ts";
import {
  destroyClients,
  exchange,
  getRequest,
  openRawProxyConnection,
  openTunnel,
  pem,
  readToEnd,
  readUntil,
  reEscape,
  startRawOrigin,
  startTlsRawOrigin,
  tlsDirect,
  tlsThroughTunnel,
  type RawOrigin,
} from "../helpers/tunnel.ts";

// ---------------------------------------------------------------------------
// Fixtures shared by the tests
// ---------------------------------------------------------------------------

/** Names in the origins' certificate (reached by CONNECTing to 127.0.0.1 with this SNI). */
const NAMES = [
  "name.test",
  "sub.name.test",
  "deep.sub.name.test",
  "evilname.test",
  "whatever.test",
  "ignored.test",
  "keep.test",
  "skip.test",
  "other.example",
  "a.test",
  "b.test",
  "c.test",
];

const BIG = randomBytes(256 * 1024);

let ca: OriginCa;
let originCaPem: string;
let originCaFp: string;
/** The proxy's CA (shared confdir of this test process), known after the first proxy started. */
let proxyCaPem: string;
let proxyCaFp: string;
/** Two TLS origins with certificates from the origin CA, on two ports. */
let tlsA: Origin;
let tlsB: Origin;
/** The origins' own leaf certificate (one certificate for every name). */
let originLeafFp: string;
/** A clear-text HTTP origin. */
let plain: Origin;

function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/big") {
    res.setHeader("content-type", "application/octet-stream");
    res.end(BIG);
    return;
  }
  res.setHeader("content-type", "text/plain");
  res.end(`hello ${req.headers.host ?? ""} ${req.url}`);
}

test.before(async () => {
  ca = await originCa();
  originCaPem = pem(ca.caFile);
  originCaFp = new X509Certificate(originCaPem).fingerprint256;
  tlsA = await startOrigin(handler, { tls: true, names: NAMES });
  tlsB = await startOrigin(handler, { tls: true, names: NAMES });
  plain = await startOrigin(handler);
  const direct = await tlsDirect(tlsA.port, { servername: "localhost", ca: [originCaPem] });
  direct.socket.destroy();
  assert.ok(direct.authorized, `the test origin's certificate must verify: ${direct.authorizationError}`);
  assert.is(direct.issuerFingerprint, originCaFp);
  originLeafFp = direct.fingerprint;
});

test.after(async () => {
  destroyClients();
  await tlsA?.close();
  await tlsB?.close();
  await plain?.close();
});

/** Starts the CLI with `args` (and learns the proxy's CA on first use). */
async function proxyWith(args: string[]): Promise<ProxyProcess> {
  // Requests go to tunnels opened by address with the names in SNI and Host: --showhost prints the
  // names the tests expect (mitmdump's default line shows the address the request goes to).
  const proxy = await startProxy(["--showhost", ...args]);
  if (!proxyCaPem) {
    proxyCaPem = pem(proxy.caFile);
    proxyCaFp = new X509Certificate(proxyCaPem).fingerprint256;
    assert.is.not(proxyCaFp, originCaFp, "the proxy's CA and the origins' CA must differ");
  }
  return proxy;
}

async function stopProxy(proxy: ProxyProcess | undefined): Promise<void> {
  if (!proxy) return;
  const code = await proxy.stop();
  assert.is(code, 0, `proxy exit code; stderr:\n${proxy.stderr()}`);
}

// ---------------------------------------------------------------------------
// The event log
// ---------------------------------------------------------------------------

/** The log lines of the client connection from local port `lp` (the dumper prefixes them with `127.0.0.1:lp:`; -v lines with `[hosts] `). */
function linesOf(log: string, lp: number): string[] {
  const prefix = `127.0.0.1:${lp}: `;
  return log
    .split("\n")
    .filter(
      (l) =>
        l.startsWith(prefix) ||
        l.startsWith(`[hosts] ${prefix}`) ||
        l.includes(`127.0.0.1:${lp} -> tcp -> `) ||
        l.includes(`127.0.0.1:${lp} <- tcp <- `),
    );
}

/** Request lines: `127.0.0.1:PORT: METHOD URL...` (SEMANTICS.md §4). */
const REQUEST_LINE = /^127\.0\.0\.1:\d+: [A-Z]+ \S+/;
/** Response lines of the dumper: `     << 200 OK 5b`. */
const RESPONSE_LINE = /^ {5}<< /;

function requestLines(lines: string[]): string[] {
  return lines.filter((l) => REQUEST_LINE.test(l));
}

/** Waits until the proxy logged both disconnects of the client from local port `lp`. */
async function waitGone(proxy: ProxyProcess, lp: number): Promise<string[]> {
  const p = `127\\.0\\.0\\.1:${lp}`;
  await proxy.waitForOutput(new RegExp(`^${p}: client disconnect$`, "m"));
  await proxy.waitForOutput(new RegExp(`^${p}: server disconnect `, "m"));
  return linesOf(proxy.stdout(), lp);
}

/** The log of an ignored connection: connect and disconnect lines, no request line, no TCP flow lines. */
function assertIgnoredLog(lines: string[], lp: number, server: string): void {
  const where = `log of client ${lp}:\n${lines.join("\n")}`;
  assert.ok(lines.includes(`127.0.0.1:${lp}: client connect`), where);
  assert.ok(
    lines.some((l) => l.startsWith(`127.0.0.1:${lp}: server connect ${server}`)),
    `server connect ${server}; ${where}`,
  );
  assert.ok(lines.includes(`127.0.0.1:${lp}: client disconnect`), where);
  assert.ok(
    lines.some((l) => l.startsWith(`127.0.0.1:${lp}: server disconnect ${server}`)),
    where,
  );
  assert.equal(requestLines(lines), [], `an ignored connection prints no request line; ${where}`);
  assert.not.ok(
    lines.some((l) => l.includes(" tcp ")),
    `an ignored connection is no TCP flow; ${where}`,
  );
}

/** The log of an intercepted connection: its request line (full URL) is there. */
function assertInterceptedLog(lines: string[], lp: number, requestLine: string | RegExp): void {
  const where = `log of client ${lp}:\n${lines.join("\n")}`;
  const reqs = requestLines(lines);
  const ok =
    typeof requestLine === "string"
      ? reqs.includes(`127.0.0.1:${lp}: ${requestLine}`)
      : reqs.some((l) => requestLine.test(l));
  assert.ok(ok, `expected request line ${requestLine}; ${where}`);
}

// ---------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------

interface TlsProbe {
  lp: number;
  /** The client saw the origin's own certificate (issued by the origin CA). */
  originCert: boolean;
  /** The client saw a certificate of the proxy's CA. */
  proxyCert: boolean;
  status: number;
  body: Buffer;
  lines: string[];
}

/**
 * CONNECT `authority` by hand, TLS with `sni` (none when undefined), one
 * `GET path` with Host `hostHeader`; then the connection's log lines.
 */
async function probeTls(
  proxy: ProxyProcess,
  authority: string,
  sni: string | undefined,
  hostHeader: string,
  path = "/x",
): Promise<TlsProbe> {
  const t = await tlsThroughTunnel(proxy.port, authority, { servername: sni, ca: [originCaPem, proxyCaPem] });
  const lp = t.tunnel.localPort;
  let res;
  try {
    assert.ok(t.authorized, `the certificate must verify against one of the two CAs: ${t.authorizationError}`);
    res = await exchange(t.socket, getRequest(hostHeader, path));
  } finally {
    t.socket.destroy();
  }
  const lines = await waitGone(proxy, lp);
  const originCert = t.fingerprint === originLeafFp && t.issuerFingerprint === originCaFp;
  const proxyCert = t.issuerFingerprint === proxyCaFp;
  assert.ok(originCert !== proxyCert, `exactly one of origin / proxy certificate: ${JSON.stringify(t)}`);
  return { lp, originCert, proxyCert, status: res.status, body: res.body, lines };
}

function expectIgnored(p: TlsProbe, server: string, what: string): void {
  assert.ok(p.originCert, `${what}: ignored, so the client sees the origin's own certificate`);
  assert.is(p.status, 200, what);
  assertIgnoredLog(p.lines, p.lp, server);
}

function expectIntercepted(p: TlsProbe, requestLine: string | RegExp, what: string): void {
  assert.ok(p.proxyCert, `${what}: intercepted, so the client sees the proxy's certificate`);
  assert.is(p.status, 200, what);
  assertInterceptedLog(p.lines, p.lp, requestLine);
}

const A = () => `127.0.0.1:${tlsA.port}`;

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

test("ignored HTTPS: the origin's own certificate (pinned key, origin CA) and a 256 KiB body intact; not ignored: the proxy's", async () => {
  // Certificate pinning, the seed's first reason: pin the origin's public key.
  const spki = createPublicKey(ca.keyPem).export({ type: "spki", format: "der" });
  const pin = `sha256//${createHash("sha256").update(spki).digest("base64")}`;
  const proxy = await proxyWith(["--ignore-hosts", `^localhost:${tlsA.port}$`]);
  try {
    const r = await curl([
      "-v",
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      ca.caFile,
      "--pinnedpubkey",
      pin,
      `https://localhost:${tlsA.port}/big`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.length, BIG.length);
    assert.is(sha256(r.stdout), sha256(BIG));
    assert.match(r.stderr, /issuer: O=interloper; CN=interloper|issuer: CN=interloper/);
    assert.match(r.stderr, /SSL certificate verify ok/);
    await proxy.waitForOutput(/client disconnect[\s\S]*server disconnect|server disconnect[\s\S]*client disconnect/);
    const log = proxy.stdout();
    assert.match(log, new RegExp(`: server connect localhost:${tlsA.port} \\(127\\.0\\.0\\.1:${tlsA.port}\\)\\n`));
    assert.not.match(log, /^127\.0\.0\.1:\d+: [A-Z]+ /m, "no request line for the ignored connection");
    assert.not.ok(
      log.split("\n").some((l) => RESPONSE_LINE.test(l)),
      "no response line either",
    );

    // Upload: 256 KiB through the ignored tunnel, unchanged at the origin.
    const upload = tempFile("upload.bin", BIG);
    const up = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      ca.caFile,
      "--data-binary",
      `@${upload}`,
      `https://localhost:${tlsA.port}/up`,
    ]);
    assert.is(up.code, 0, up.stderr);
    const got = tlsA.requests.find((q) => q.url === "/up");
    assert.ok(got, "the origin got the upload");
    assert.is(sha256(got.body), sha256(BIG));

    // The same body by hand: the certificate is the origin's leaf, issued by the origin CA.
    const p = await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", `localhost:${tlsA.port}`, "/big");
    expectIgnored(p, `localhost:${tlsA.port}`, "CONNECT localhost:A");
    assert.is(sha256(p.body), sha256(BIG));

    // Not ignored (other port): the proxy's certificate, which the origin CA alone refuses, and the pin fails.
    const refused = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      ca.caFile,
      `https://localhost:${tlsB.port}/big`,
    ]);
    assert.is(refused.code, 60, `curl must refuse the proxy's certificate with the origin CA only: ${refused.stderr}`);
    const pinned = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      "--pinnedpubkey",
      pin,
      `https://localhost:${tlsB.port}/big`,
    ]);
    assert.is(pinned.code, 90, `the pin must fail on the proxy's certificate: ${pinned.stderr}`);
    const intercepted = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      `https://localhost:${tlsB.port}/big`,
    ]);
    assert.is(intercepted.code, 0, intercepted.stderr);
    assert.is(sha256(intercepted.stdout), sha256(BIG));
    await proxy.waitForOutput(new RegExp(`: GET https://localhost:${tlsB.port}/big\\n     << 200 OK 256k\\n`));
  } finally {
    await stopProxy(proxy);
  }
});

test("the seed's tutorial: read 'server connect host:port' from the log, build ^host\\:port$ with dots escaped, restart: left alone", async () => {
  // 1. Run without patterns and look at the `server connect` messages.
  let proxy = await proxyWith([]);
  const hostPorts: string[] = [];
  try {
    for (const url of [`https://localhost:${tlsA.port}/x`, `https://127.0.0.1:${tlsB.port}/x`]) {
      const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile, url]);
      assert.is(r.code, 0, r.stderr);
      // The `server connect` line of the client whose request line is this URL.
      const req = await proxy.waitForOutput(new RegExp(`^(127\\.0\\.0\\.1:\\d+): GET ${reEscape(url)}$`, "m"));
      const m = new RegExp(`^${reEscape(req[1]!)}: server connect (\\S+)(?: \\((\\S+)\\))?$`, "m").exec(proxy.stdout());
      assert.ok(m, proxy.stdout());
      hostPorts.push(m[1]!);
    }
    assert.equal(hostPorts, [`localhost:${tlsA.port}`, `127.0.0.1:${tlsB.port}`]);
    assert.match(
      proxy.stdout(),
      new RegExp(`server connect localhost:${tlsA.port} \\(127\\.0\\.0\\.1:${tlsA.port}\\)\\n`),
    );
    assert.match(
      proxy.stdout(),
      new RegExp(`server connect 127\\.0\\.0\\.1:${tlsB.port}\\n`),
      "no parenthesis when the name is the address",
    );
  } finally {
    await stopProxy(proxy);
  }

  // 2. Surround with ^ and $, escape all dots.
  const patterns = hostPorts.map((hp) => `^${hp.replace(/\./g, "\\.")}$`);
  assert.equal(patterns, [`^localhost:${tlsA.port}$`, `^127\\.0\\.0\\.1:${tlsB.port}$`]);

  // 3. Restart with --ignore-hosts: the connections are left alone.
  proxy = await proxyWith(patterns.flatMap((p) => ["--ignore-hosts", p]));
  try {
    for (const url of [`https://localhost:${tlsA.port}/x`, `https://127.0.0.1:${tlsB.port}/x`]) {
      const r = await curl(["-v", "-x", `http://127.0.0.1:${proxy.port}`, "--cacert", ca.caFile, url]);
      assert.is(r.code, 0, `the origin's certificate must verify with the origin CA alone: ${r.stderr}`);
      assert.match(r.stdout.toString(), /^hello /);
    }
    const a = await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", `localhost:${tlsA.port}`);
    expectIgnored(a, `localhost:${tlsA.port} (127.0.0.1:${tlsA.port})`, "localhost:A");
    const b = await probeTls(proxy, `127.0.0.1:${tlsB.port}`, undefined, `127.0.0.1:${tlsB.port}`);
    expectIgnored(b, `127.0.0.1:${tlsB.port}`, "127.0.0.1:B");
    assert.not.match(proxy.stdout(), /^127\.0\.0\.1:\d+: [A-Z]+ /m, "no request lines at all");
  } finally {
    await stopProxy(proxy);
  }
});

test("anchored patterns from the seed page: ^(.+\\.)?name\\.test:PORT$ matches the domain and subdomains (SNI), not 'evilname'", async () => {
  const proxy = await proxyWith([
    "-v",
    "--ignore-hosts",
    `^(.+\\.)?name\\.test:${tlsA.port}$`,
    "--ignore-hosts",
    `^(.+\\.)?localhost:${tlsB.port}$`,
  ]);
  try {
    for (const sni of ["name.test", "sub.name.test", "deep.sub.name.test"]) {
      const p = await probeTls(proxy, A(), sni, sni);
      expectIgnored(p, A(), sni);
      assert.ok(
        p.lines.includes(
          `[hosts] 127.0.0.1:${p.lp}: ignoring connection: '^(.+\\.)?name\\.test:${tlsA.port}$' matched '${sni}:${tlsA.port}' (sni)`,
        ),
        p.lines.join("\n"),
      );
    }
    const evil = await probeTls(proxy, A(), "evilname.test", "evilname.test");
    expectIntercepted(evil, `GET https://evilname.test:${tlsA.port}/x`, "evilname.test");
    // The seed's apple.com example with a name that resolves: localhost itself.
    const lh = await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", "localhost");
    expectIgnored(lh, `localhost:${tlsB.port}`, "localhost:B");
    assert.ok(
      lh.lines.includes(
        `[hosts] 127.0.0.1:${lh.lp}: ignoring connection: '^(.+\\.)?localhost:${tlsB.port}$' matched 'localhost:${tlsB.port}' (destination)`,
      ),
      lh.lines.join("\n"),
    );
  } finally {
    await stopProxy(proxy);
  }

  // The lax version ("usually just works") also matches the evil prefix, as the seed warns.
  const lax = await proxyWith([`--ignore-hosts`, `name\\.test:${tlsA.port}`]);
  try {
    expectIgnored(await probeTls(lax, A(), "evilname.test", "evilname.test"), A(), "lax: evilname.test");
    expectIgnored(await probeTls(lax, A(), "sub.name.test", "sub.name.test"), A(), "lax: sub.name.test");
  } finally {
    await stopProxy(lax);
  }

  // "Ignore example.com, but not its subdomains": ^name.test:
  const exact = await proxyWith([`--ignore-hosts`, `^name.test:`]);
  try {
    expectIgnored(await probeTls(exact, A(), "name.test", "name.test"), A(), "^name.test: with name.test");
    expectIntercepted(
      await probeTls(exact, A(), "sub.name.test", "sub.name.test"),
      `GET https://sub.name.test:${tlsA.port}/x`,
      "^name.test: with sub.name.test",
    );
  } finally {
    await stopProxy(exact);
  }
});

test("port-only pattern :PORT$ ignores that port only (any host, SNI or not)", async () => {
  const proxy = await proxyWith(["--ignore-hosts", `:${tlsA.port}$`]);
  try {
    expectIgnored(
      await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", "localhost"),
      `localhost:${tlsA.port}`,
      "localhost:A",
    );
    expectIgnored(await probeTls(proxy, A(), "whatever.test", "whatever.test"), A(), "127.0.0.1:A with SNI");
    expectIntercepted(
      await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", `localhost:${tlsB.port}`),
      `GET https://localhost:${tlsB.port}/x`,
      "localhost:B",
    );
  } finally {
    await stopProxy(proxy);
  }
});

test("IP patterns: an IP literal CONNECT; an IP range matches a CONNECT by name through the resolved address (eager)", async () => {
  const proxy = await proxyWith([
    "-v",
    "--ignore-hosts",
    `^127\\.0\\.0\\.1:${tlsA.port}$`,
    "--ignore-hosts",
    `127\\.0\\.\\d+\\.\\d+:${tlsB.port}`,
  ]);
  try {
    const ip = await probeTls(proxy, A(), undefined, A());
    expectIgnored(ip, A(), "127.0.0.1:A without SNI");
    assert.ok(
      ip.lines.includes(
        `[hosts] 127.0.0.1:${ip.lp}: ignoring connection: '^127\\.0\\.0\\.1:${tlsA.port}$' matched '127.0.0.1:${tlsA.port}' (resolved)`,
      ),
      ip.lines.join("\n"),
    );

    const byName = await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", "localhost");
    expectIgnored(byName, `localhost:${tlsB.port} (127.0.0.1:${tlsB.port})`, "localhost:B through its address");
    assert.ok(
      byName.lines.includes(
        `[hosts] 127.0.0.1:${byName.lp}: ignoring connection: '127\\.0\\.\\d+\\.\\d+:${tlsB.port}' matched '127.0.0.1:${tlsB.port}' (resolved)`,
      ),
      byName.lines.join("\n"),
    );

    // The same name on the other port: the exact-IP pattern has port A, the range port B.
    // localhost:A resolves to 127.0.0.1:A, which the first pattern matches too (candidate 1).
    const viaResolved = await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", "localhost");
    expectIgnored(viaResolved, `localhost:${tlsA.port}`, "localhost:A through 127.0.0.1:A");
  } finally {
    await stopProxy(proxy);
  }
  const other = await proxyWith(["--ignore-hosts", `^10\\.0\\.\\d+\\.\\d+:`]);
  try {
    expectIntercepted(
      await probeTls(other, `localhost:${tlsB.port}`, "localhost", `localhost:${tlsB.port}`),
      `GET https://localhost:${tlsB.port}/x`,
      "another range",
    );
  } finally {
    await stopProxy(other);
  }
});

test("SNI on a CONNECT to an IP; case-insensitive patterns (upper case); several patterns (--ignore-hosts and --set ignore_hosts)", async () => {
  const proxy = await proxyWith([
    "-v",
    "--ignore-hosts",
    `^WHATEVER\\.TEST:${tlsA.port}$`,
    "--ignore-hosts",
    `^LOCALHOST:${tlsB.port}$`,
  ]);
  try {
    const sni = await probeTls(proxy, A(), "whatever.test", "whatever.test");
    expectIgnored(sni, A(), "SNI whatever.test on 127.0.0.1:A");
    assert.ok(
      sni.lines.includes(
        `[hosts] 127.0.0.1:${sni.lp}: ignoring connection: '^WHATEVER\\.TEST:${tlsA.port}$' matched 'whatever.test:${tlsA.port}' (sni)`,
      ),
      sni.lines.join("\n"),
    );
    // Without SNI nothing but 127.0.0.1:A is known before the handshake: TLS is intercepted…
    const noSni = await probeTls(proxy, A(), undefined, A());
    expectIntercepted(noSni, `GET https://127.0.0.1:${tlsA.port}/x`, "no SNI");
    // …and the decision after TLS was terminated sees the Host header (candidate 3): the inner
    // connection is then passed through (proxy's certificate, but no request line).
    const inner = await probeTls(proxy, A(), undefined, "whatever.test");
    assert.ok(inner.proxyCert, "without SNI the ClientHello gives no name: TLS terminated");
    assert.is(inner.status, 200);
    assert.equal(requestLines(inner.lines), [], inner.lines.join("\n"));
    assert.ok(
      inner.lines.includes(
        `[hosts] 127.0.0.1:${inner.lp}: ignoring connection: '^WHATEVER\\.TEST:${tlsA.port}$' matched 'whatever.test:${tlsA.port}' (host-header)`,
      ),
      inner.lines.join("\n"),
    );
    expectIntercepted(
      await probeTls(proxy, A(), "other.example", "other.example"),
      `GET https://other.example:${tlsA.port}/x`,
      "SNI other.example",
    );
    const upper = await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", "localhost");
    expectIgnored(upper, `localhost:${tlsB.port}`, "^LOCALHOST: with localhost");
  } finally {
    await stopProxy(proxy);
  }

  for (const args of [
    ["--ignore-hosts", `^a\\.test:${tlsA.port}$`, "--ignore-hosts", `^b\\.test:${tlsA.port}$`],
    ["--set", `ignore_hosts=^a\\.test:${tlsA.port}$`, "--set", `ignore_hosts=^b\\.test:${tlsA.port}$`],
  ]) {
    const several = await proxyWith(args);
    try {
      expectIgnored(await probeTls(several, A(), "a.test", "a.test"), A(), `${args[0]}: a.test`);
      expectIgnored(await probeTls(several, A(), "b.test", "b.test"), A(), `${args[0]}: b.test`);
      expectIntercepted(
        await probeTls(several, A(), "c.test", "c.test"),
        `GET https://c.test:${tlsA.port}/x`,
        `${args[0]}: c.test`,
      );
    } finally {
      await stopProxy(several);
    }
  }
});

test("^example\\.com$-style patterns never match (there is always a port) and produce a start-up warning", async () => {
  const proxy = await proxyWith([
    "--ignore-hosts",
    "^localhost$",
    "--ignore-hosts",
    "^whatever\\.test$",
    "--ignore-hosts",
    "^example\\.com$",
  ]);
  try {
    const out = proxy.stdout() + proxy.stderr();
    for (const p of ["^localhost$", "^whatever\\.test$", "^example\\.com$"]) {
      assert.ok(out.includes(`--ignore-hosts pattern '${p}' can never match`), `warning for ${p}:\n${out}`);
    }
    assert.ok(out.includes("write '^example\\.com:' (any port) or '^example\\.com:443$' instead"), out);
    expectIntercepted(
      await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", `localhost:${tlsA.port}`),
      `GET https://localhost:${tlsA.port}/x`,
      "^localhost$",
    );
    expectIntercepted(
      await probeTls(proxy, A(), "whatever.test", "whatever.test"),
      `GET https://whatever.test:${tlsA.port}/x`,
      "^whatever\\.test$",
    );
  } finally {
    await stopProxy(proxy);
  }
});

test("--allow-hosts intercepts only the allowed; with --ignore-hosts too: allow first, then ignore", async () => {
  const proxy = await proxyWith(["-v", "--allow-hosts", `^localhost:${tlsA.port}$`]);
  try {
    expectIntercepted(
      await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", `localhost:${tlsA.port}`),
      `GET https://localhost:${tlsA.port}/x`,
      "allowed localhost:A",
    );
    const other = await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", "localhost");
    expectIgnored(other, `localhost:${tlsB.port}`, "localhost:B not allowed");
    assert.ok(
      other.lines.some((l) =>
        l.startsWith(
          `[hosts] 127.0.0.1:${other.lp}: ignoring connection: no --allow-hosts pattern matched '127.0.0.1:${tlsB.port}' (resolved), 'localhost:${tlsB.port}' (destination)`,
        ),
      ),
      other.lines.join("\n"),
    );
  } finally {
    await stopProxy(proxy);
  }

  const both = await proxyWith(["-v", "--allow-hosts", `\\.test:${tlsA.port}$`, "--ignore-hosts", `^skip\\.test:`]);
  try {
    expectIntercepted(
      await probeTls(both, A(), "keep.test", "keep.test"),
      `GET https://keep.test:${tlsA.port}/x`,
      "allowed, not ignored",
    );
    const skip = await probeTls(both, A(), "skip.test", "skip.test");
    expectIgnored(skip, A(), "allowed, then ignored");
    assert.ok(
      skip.lines.includes(
        `[hosts] 127.0.0.1:${skip.lp}: ignoring connection: '^skip\\.test:' matched 'skip.test:${tlsA.port}' (sni)`,
      ),
      skip.lines.join("\n"),
    );
    const notAllowed = await probeTls(both, A(), "other.example", "other.example");
    expectIgnored(notAllowed, A(), "not allowed");
    assert.ok(
      notAllowed.lines.some((l) => l.includes(": ignoring connection: no --allow-hosts pattern matched")),
      notAllowed.lines.join("\n"),
    );
  } finally {
    await stopProxy(both);
  }
});

test("explicit GET http://... is never ignored, even with --ignore-hosts '.*' (request lines printed, responses intercepted)", async () => {
  const proxy = await proxyWith(["--ignore-hosts", ".*"]);
  try {
    // Two requests to two hosts on one proxy connection (the seed's footnote): both intercepted.
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      `http://127.0.0.1:${plain.port}/first`,
      `http://localhost:${plain.port}/second`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), `hello 127.0.0.1:${plain.port} /firsthello localhost:${plain.port} /second`);
    await proxy.waitForOutput(/: GET http:\/\/localhost:\d+\/second\n {5}<< 200 OK \d+b\n/);
    const log = proxy.stdout();
    const first = new RegExp(
      `^(127\\.0\\.0\\.1:\\d+): GET http://127\\.0\\.0\\.1:${plain.port}/first\\n {5}<< 200 OK \\d+b\\n`,
      "m",
    ).exec(log);
    assert.ok(first, log);
    assert.ok(
      log.includes(`${first[1]}: GET http://localhost:${plain.port}/second\n     << 200 OK`),
      `same connection, second host:\n${log}`,
    );

    // The same by hand, absolute-form on a raw proxy connection: answered through the proxy, logged.
    const raw = await openRawProxyConnection(proxy.port);
    const res = await exchange(
      raw.socket,
      `GET http://127.0.0.1:${plain.port}/hand HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\nConnection: close\r\n\r\n`,
    );
    assert.is(res.status, 200);
    assert.is(res.body.toString(), `hello 127.0.0.1:${plain.port} /hand`);
    raw.socket.destroy();
    const handLines = await waitGone(proxy, raw.localPort);
    assertInterceptedLog(handLines, raw.localPort, `GET http://127.0.0.1:${plain.port}/hand`);
    // …whereas a CONNECT through the same proxy is ignored by '.*'.
    const p = await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", "localhost");
    expectIgnored(p, `localhost:${tlsA.port}`, "CONNECT with .*");
  } finally {
    await stopProxy(proxy);
  }

  // --allow-hosts that allows nothing: explicit requests are still intercepted (no destination, no ignore).
  const allow = await proxyWith(["--allow-hosts", "^nothing\\.test:"]);
  try {
    const rawConn = await openRawProxyConnection(allow.port);
    const res = await exchange(
      rawConn.socket,
      `GET http://localhost:${plain.port}/allow HTTP/1.1\r\nHost: localhost:${plain.port}\r\nConnection: close\r\n\r\n`,
    );
    assert.is(res.body.toString(), `hello localhost:${plain.port} /allow`);
    rawConn.socket.destroy();
    assertInterceptedLog(
      await waitGone(allow, rawConn.localPort),
      rawConn.localPort,
      `GET http://localhost:${plain.port}/allow`,
    );
    expectIgnored(
      await probeTls(allow, `localhost:${tlsA.port}`, "localhost", "localhost"),
      `localhost:${tlsA.port}`,
      "CONNECT not allowed",
    );
  } finally {
    await stopProxy(allow);
  }
});

test("a clear-text CONNECT tunnel is ignored through its Host header, byte for byte (odd casing and spacing, head in two parts)", async () => {
  const origin = await startRawOrigin((socket, received) => {
    const reply = "HTTP/1.1 200 OK\r\nX-Raw-Origin: yes\r\nContent-Length: 7\r\n\r\nraw-ok\n";
    let answered = false;
    socket.on("data", () => {
      if (!answered && received().includes("\r\n\r\n")) {
        answered = true;
        socket.write(reply);
      }
    });
    socket.on("end", () => socket.end());
  });
  const proxy = await proxyWith(["-v", "--ignore-hosts", "^ignored\\.test:\\d+$"]);
  try {
    const head1 = "GET /odd?q=1 HTTP/1.1\r\nhOsT:   ig";
    const head2 = "nored.test \r\nx-MiXeD-CaSe:  spaced   value \r\naccept:*/*\r\n\r\n";
    const t = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
    assert.is(t.status, 200);
    t.socket.write(head1);
    await sleep(50); // let the first part arrive alone: the decision must wait for the whole head
    t.socket.write(head2);
    const reply = await readUntil(t.socket, (b) => b.includes("raw-ok\n"), "the raw origin's reply");
    assert.is(
      reply.toString("latin1"),
      "HTTP/1.1 200 OK\r\nX-Raw-Origin: yes\r\nContent-Length: 7\r\n\r\nraw-ok\n",
      "the reply is relayed unchanged",
    );
    t.socket.end();
    await readToEnd(t.socket);
    const lines = await waitGone(proxy, t.localPort);
    assert.is(origin.bytes(0).toString("latin1"), head1 + head2, "the origin got exactly the client's bytes");
    assertIgnoredLog(lines, t.localPort, `127.0.0.1:${origin.port}`);
    assert.ok(
      lines.includes(
        `[hosts] 127.0.0.1:${t.localPort}: ignoring connection: '^ignored\\.test:\\d+$' matched 'ignored.test:${origin.port}' (host-header)`,
      ),
      lines.join("\n"),
    );

    // CONNECT and the tunnel's first request in one write: the bytes after the CONNECT head count too.
    const before = origin.connections();
    const together = net.connect({ host: "127.0.0.1", port: proxy.port, allowHalfOpen: true });
    await new Promise<void>((r, j) => together.once("connect", r).once("error", j));
    const req = "POST /together HTTP/1.1\r\nHOST:ignored.test\r\ncontent-length: 4\r\n\r\nbody";
    together.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n${req}`);
    const both = await readUntil(together, (b) => b.includes("raw-ok\n"), "CONNECT response and the origin's reply");
    assert.match(
      both.toString("latin1"),
      /^HTTP\/1\.1 200 [^\r]*\r\n(?:[^\r]+\r\n)*\r\nHTTP\/1\.1 200 OK\r\nX-Raw-Origin: yes\r\nContent-Length: 7\r\n\r\nraw-ok\n$/,
    );
    const lpTogether = together.localPort!;
    together.end();
    await readToEnd(together);
    const linesTogether = await waitGone(proxy, lpTogether);
    assert.is(
      origin.bytes(before).toString("latin1"),
      req,
      "the origin got exactly the bytes sent after the CONNECT head",
    );
    assertIgnoredLog(linesTogether, lpTogether, `127.0.0.1:${origin.port}`);

    // Another Host: intercepted as HTTP, the request line is printed.
    const u = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
    u.socket.write("GET /other HTTP/1.1\r\nHost: other.test\r\n\r\n");
    const r2 = await readUntil(u.socket, (b) => b.includes("raw-ok\n"), "the reply through the proxy");
    assert.match(r2.toString("latin1"), /^HTTP\/1\.1 200 OK\r\n/);
    u.socket.end();
    await readToEnd(u.socket);
    const lines2 = await waitGone(proxy, u.localPort);
    assertInterceptedLog(lines2, u.localPort, `GET http://other.test:${origin.port}/other`);
  } finally {
    await stopProxy(proxy);
    await origin.close();
  }
});

test("--ignore-domain and --allow-domain shorthand (domain and subdomains, any port)", async () => {
  const ign = await proxyWith(["--ignore-domain", "name.test"]);
  try {
    expectIgnored(await probeTls(ign, A(), "name.test", "name.test"), A(), "ignore-domain: name.test");
    expectIgnored(
      await probeTls(ign, `127.0.0.1:${tlsB.port}`, "deep.sub.name.test", "deep.sub.name.test"),
      `127.0.0.1:${tlsB.port}`,
      "ignore-domain: deep.sub.name.test",
    );
    expectIntercepted(
      await probeTls(ign, A(), "evilname.test", "evilname.test"),
      `GET https://evilname.test:${tlsA.port}/x`,
      "ignore-domain: evilname.test",
    );
  } finally {
    await stopProxy(ign);
  }
  const allow = await proxyWith(["--allow-domain", "name.test", "--allow-domain", "localhost"]);
  try {
    expectIntercepted(
      await probeTls(allow, A(), "sub.name.test", "sub.name.test"),
      `GET https://sub.name.test:${tlsA.port}/x`,
      "allow-domain: sub.name.test",
    );
    expectIntercepted(
      await probeTls(allow, `localhost:${tlsB.port}`, "localhost", `localhost:${tlsB.port}`),
      `GET https://localhost:${tlsB.port}/x`,
      "allow-domain: localhost",
    );
    expectIgnored(
      await probeTls(allow, A(), "whatever.test", "whatever.test"),
      A(),
      "allow-domain: whatever.test not allowed",
    );
    expectIgnored(
      await probeTls(allow, A(), "evilname.test", "evilname.test"),
      A(),
      "allow-domain: evilname.test not allowed",
    );
  } finally {
    await stopProxy(allow);
  }
});

test("--tcp-hosts: matching connections become TCP flows (log '-> tcp ->'), raw echo works, no HTTP parsing; TLS terminated by SNI", async () => {
  const echo = await startRawOrigin((socket) => {
    socket.on("data", (c: Buffer) => socket.write(c));
    socket.on("end", () => socket.end());
  });
  const echoCert = ca.certFor(["localhost", "127.0.0.1", "echo.test"]);
  const tlsEcho: RawOrigin = await startTlsRawOrigin(ca.keyPem, echoCert, (socket) => {
    socket.on("data", (c: Buffer) => socket.write(c));
    socket.on("end", () => socket.end());
  });
  const proxy = await proxyWith(["--tcp-hosts", "^127\\.0\\.0\\.1$", "--tcp-hosts", "^echo\\.test$"]);
  try {
    const t = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
    t.socket.write("ping 1\r\n");
    assert.is((await readUntil(t.socket, (b) => b.includes("ping 1\r\n"), "echo")).toString(), "ping 1\r\n");
    const httpLike = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    t.socket.write(httpLike);
    assert.is(
      (await readUntil(t.socket, (b) => b.includes("\r\n\r\n"), "echo of the HTTP-looking bytes")).toString(),
      httpLike,
    );
    t.socket.end();
    await readToEnd(t.socket);
    const lines = await waitGone(proxy, t.localPort);
    assert.ok(lines.includes(`127.0.0.1:${t.localPort} -> tcp -> 127.0.0.1:${echo.port}`), lines.join("\n"));
    assert.ok(lines.includes(`127.0.0.1:${t.localPort} <- tcp <- 127.0.0.1:${echo.port}`), lines.join("\n"));
    assert.equal(requestLines(lines), [], "no HTTP parsing on a TCP flow");
    assert.is(echo.bytes(0).toString(), "ping 1\r\n" + httpLike);

    // TLS: the proxy terminates it (its certificate) and the inside is raw TCP.
    const s = await tlsThroughTunnel(proxy.port, `127.0.0.1:${tlsEcho.port}`, {
      servername: "echo.test",
      ca: [originCaPem, proxyCaPem],
    });
    assert.ok(s.authorized, s.authorizationError);
    assert.is(s.issuerFingerprint, proxyCaFp, "TLS is still terminated for a TCP flow");
    s.socket.write(httpLike);
    assert.is((await readUntil(s.socket, (b) => b.includes("\r\n\r\n"), "TLS echo")).toString(), httpLike);
    s.socket.end();
    await readToEnd(s.socket);
    const lp = s.tunnel.localPort;
    const lines2 = await waitGone(proxy, lp);
    assert.ok(lines2.includes(`127.0.0.1:${lp} -> tcp -> 127.0.0.1:${tlsEcho.port}`), lines2.join("\n"));
    assert.ok(lines2.includes(`127.0.0.1:${lp} <- tcp <- 127.0.0.1:${tlsEcho.port}`), lines2.join("\n"));
    assert.equal(requestLines(lines2), []);
    assert.is(tlsEcho.bytes(0).toString(), httpLike);
  } finally {
    await stopProxy(proxy);
  }
  // Both --tcp-hosts and --ignore-hosts match: ignored (no TCP flow).
  const both = await proxyWith(["--tcp-hosts", "^127\\.0\\.0\\.1$", "--ignore-hosts", `:${echo.port}$`]);
  try {
    const t = await openTunnel(both.port, `127.0.0.1:${echo.port}`);
    t.socket.write("ping 2\r\n");
    assert.is((await readUntil(t.socket, (b) => b.includes("ping 2\r\n"), "echo")).toString(), "ping 2\r\n");
    t.socket.end();
    await readToEnd(t.socket);
    assertIgnoredLog(await waitGone(both, t.localPort), t.localPort, `127.0.0.1:${echo.port}`);
  } finally {
    await stopProxy(both);
    await echo.close();
    await tlsEcho.close();
  }
});

test("server speaks first (SMTP-like banner) through a CONNECT: delivered when ignored and when not", async () => {
  const smtp = await startRawOrigin((socket, received) => {
    socket.write("220 banner.test ESMTP ready\r\n");
    let handled = 0;
    socket.on("data", () => {
      const text = received().toString("latin1");
      for (let guard = 0; guard < 100; guard++) {
        const nl = text.indexOf("\r\n", handled);
        if (nl === -1) break;
        const line = text.slice(handled, nl);
        handled = nl + 2;
        if (line === "QUIT") {
          socket.end("221 bye\r\n");
          return;
        }
        socket.write(`250 ${line}\r\n`);
      }
    });
  });
  const converse = async (proxy: ProxyProcess) => {
    const t = await openTunnel(proxy.port, `127.0.0.1:${smtp.port}`);
    assert.is(t.status, 200);
    // The client sends nothing: the banner must still come (eager connection).
    const banner = await readUntil(t.socket, (b) => b.includes("\r\n"), "the server's banner");
    assert.is(banner.toString(), "220 banner.test ESMTP ready\r\n");
    t.socket.write("HELO me\r\n");
    assert.is((await readUntil(t.socket, (b) => b.includes("\r\n"), "250")).toString(), "250 HELO me\r\n");
    t.socket.write("QUIT\r\n");
    const rest = await readToEnd(t.socket);
    assert.is(rest.toString(), "221 bye\r\n");
    return waitGone(proxy, t.localPort);
  };
  const ignoring = await proxyWith(["-v", "--ignore-hosts", `:${smtp.port}$`]);
  try {
    const lines = await converse(ignoring);
    assertIgnoredLog(lines, Number(/^127\.0\.0\.1:(\d+):/.exec(lines[0]!)![1]), `127.0.0.1:${smtp.port}`);
    assert.ok(
      lines.some((l) =>
        l.endsWith(`ignoring connection: ':${smtp.port}$' matched '127.0.0.1:${smtp.port}' (resolved)`),
      ),
      lines.join("\n"),
    );
  } finally {
    await stopProxy(ignoring);
  }
  const intercepting = await proxyWith(["--ignore-hosts", "^nomatch\\.test:"]);
  try {
    const lines = await converse(intercepting);
    assert.ok(
      lines.some((l) => / <- tcp <- 127\.0\.0\.1:\d+$/.test(l)),
      `not ignored: a TCP flow that got the banner:\n${lines.join("\n")}`,
    );
    assert.ok(
      lines.some((l) => / -> tcp -> 127\.0\.0\.1:\d+$/.test(l)),
      lines.join("\n"),
    );
    assert.equal(requestLines(lines), []);
  } finally {
    await stopProxy(intercepting);
    await smtp.close();
  }
});

test("errors: an invalid pattern is one stderr line naming option and pattern, non-zero exit; Python spellings are accepted", async () => {
  for (const [flag, pattern] of [
    ["--ignore-hosts", "(unclosed"],
    ["--allow-hosts", "[z-a]"],
    ["--tcp-hosts", "a{2,1}"],
    ["--ignore-hosts", "(?x)a b"],
  ] as const) {
    const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", flag, pattern]);
    assert.is.not(r.code, 0, `${flag} ${pattern}: exit code`);
    assert.is.not(r.code, null, `${flag} ${pattern}: it must exit by itself`);
    const lines = r.stderr.trimEnd().split("\n");
    assert.is(lines.length, 1, `one line:\n${r.stderr}`);
    assert.match(
      lines[0]!,
      new RegExp(`^(?:interloper: )?invalid ${flag} pattern '${reEscape(pattern)}': \\S`),
      r.stderr,
    );
    assert.not.match(r.stdout, /listening/);
  }
  const domain = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--ignore-domain", "https://example.com/"]);
  assert.is.not(domain.code, 0);
  assert.match(
    domain.stderr.trimEnd(),
    /^(?:interloper: )?invalid --ignore-domain value 'https:\/\/example\.com\/': \S[^\n]*$/,
  );
  const viaSet = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--set", "ignore_hosts=(unclosed"]);
  assert.is.not(viaSet.code, 0);
  assert.match(viaSet.stderr.trimEnd(), /^(?:interloper: )?invalid --ignore-hosts pattern '\(unclosed': \S[^\n]*$/);

  // (?P<name>…) and (?P=name), as mitmproxy users write them.
  const proxy = await proxyWith([
    "-v",
    "--ignore-hosts",
    `^(?P<host>localhost):(?P<port>${tlsA.port})$`,
    "--ignore-hosts",
    `^(?P<one>1)2(?P<seven>7)\\.0\\.0\\.(?P=one):${tlsB.port}$`,
  ]);
  try {
    expectIgnored(
      await probeTls(proxy, `localhost:${tlsA.port}`, "localhost", "localhost"),
      `localhost:${tlsA.port}`,
      "(?P<name>...)",
    );
    expectIgnored(
      await probeTls(proxy, `127.0.0.1:${tlsB.port}`, undefined, "127.0.0.1"),
      `127.0.0.1:${tlsB.port}`,
      "(?P=name)",
    );
    expectIntercepted(
      await probeTls(proxy, A(), "whatever.test", "whatever.test"),
      `GET https://whatever.test:${tlsA.port}/x`,
      "neither",
    );
  } finally {
    await stopProxy(proxy);
  }
});

test("IPv6: CONNECT [::1]:PORT is judged as '::1:PORT' (no brackets); the log shows [::1]:PORT", async () => {
  const origin6 = await startRawOrigin((socket, received) => {
    socket.on("data", () => {
      if (received().includes("\r\n\r\n")) socket.write("HTTP/1.1 204 No Content\r\n\r\n");
    });
    socket.on("end", () => socket.end());
  }, "::1");
  const proxy = await proxyWith(["-v", "--ignore-hosts", `^::1:${origin6.port}$`]);
  try {
    const t = await openTunnel(proxy.port, `[::1]:${origin6.port}`);
    assert.is(t.status, 200, t.head);
    const sent = `GET /v6 HTTP/1.1\r\nHost: [::1]:${origin6.port}\r\n\r\n`;
    t.socket.write(sent);
    const reply = await readUntil(t.socket, (b) => b.includes("\r\n\r\n"), "204");
    assert.is(reply.toString(), "HTTP/1.1 204 No Content\r\n\r\n");
    t.socket.end();
    await readToEnd(t.socket);
    const lines = await waitGone(proxy, t.localPort);
    assertIgnoredLog(lines, t.localPort, `[::1]:${origin6.port}`);
    assert.ok(
      lines.includes(
        `[hosts] 127.0.0.1:${t.localPort}: ignoring connection: '^::1:${origin6.port}$' matched '::1:${origin6.port}' (resolved)`,
      ),
      lines.join("\n"),
    );
    assert.is(origin6.bytes(0).toString(), sent);
  } finally {
    await stopProxy(proxy);
    await origin6.close();
  }
});

test("TLS passthrough is byte-exact and waits for a fragmented ClientHello (3 records, sent in pieces) before judging its SNI", async () => {
  const hello = readFileSync(join(ROOT, "test/fixtures/clienthello/openssl-fragmented.bin"));
  const origin = await startRawOrigin((socket) => socket.on("end", () => socket.end()));
  const proxy = await proxyWith(["-v", "--ignore-hosts", `^frag\\.test:${origin.port}$`]);
  try {
    const t = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
    // Pieces that cut the record header, the SNI's neighbourhood and a record boundary.
    const cuts = [0, 3, 200, 517, 900, hello.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      t.socket.write(hello.subarray(cuts[i], cuts[i + 1]));
      await sleep(30); // each piece on its own (the proxy must not decide on a partial hello)
    }
    await waitFor(() => origin.bytes(0).length >= hello.length || undefined, "the whole ClientHello at the origin");
    assert.ok(origin.bytes(0).equals(hello), "the origin got the ClientHello byte for byte");
    t.socket.write("after the hello");
    await waitFor(() => origin.bytes(0).length >= hello.length + 15 || undefined, "the bytes after the hello");
    assert.is(origin.bytes(0).subarray(hello.length).toString(), "after the hello");
    t.socket.end();
    await readToEnd(t.socket);
    const lines = await waitGone(proxy, t.localPort);
    assertIgnoredLog(lines, t.localPort, `127.0.0.1:${origin.port}`);
    assert.ok(
      lines.includes(
        `[hosts] 127.0.0.1:${t.localPort}: ignoring connection: '^frag\\.test:${origin.port}$' matched 'frag.test:${origin.port}' (sni)`,
      ),
      lines.join("\n"),
    );
    assert.not.ok(
      lines.some((l) => l.includes("TLS established")),
      lines.join("\n"),
    );
  } finally {
    await stopProxy(proxy);
    await origin.close();
  }
});

test("bytes that start like TLS but are no ClientHello give no SNI candidate (no error): ignored by address, else a TCP flow", async () => {
  const echo = () =>
    startRawOrigin((socket) => {
      socket.on("data", (c: Buffer) => socket.write(c));
      socket.on("end", () => socket.end());
    });
  const g1 = await echo();
  const g2 = await echo();
  // A handshake record holding a ServerHello (type 2), then junk.
  const garbage = Buffer.concat([
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02, 0xca, 0xfe]),
    Buffer.from("junk\r\n"),
  ]);
  const proxy = await proxyWith(["-v", "--ignore-hosts", `:${g1.port}$`, "--ignore-hosts", "^garbage\\.test:"]);
  try {
    for (const [o, ignored] of [
      [g1, true],
      [g2, false],
    ] as const) {
      const t = await openTunnel(proxy.port, `127.0.0.1:${o.port}`);
      t.socket.write(garbage);
      const back = await readUntil(t.socket, (b) => b.length >= garbage.length, "the echo");
      assert.ok(back.equals(garbage), "echoed unchanged");
      t.socket.end();
      await readToEnd(t.socket);
      const lines = await waitGone(proxy, t.localPort);
      assert.ok(o.bytes(0).equals(garbage), "the origin got the bytes unchanged");
      assert.not.ok(
        lines.some((l) => / \(sni\)/.test(l)),
        `no SNI candidate:\n${lines.join("\n")}`,
      );
      if (ignored) {
        assertIgnoredLog(lines, t.localPort, `127.0.0.1:${o.port}`);
      } else {
        assert.ok(lines.includes(`127.0.0.1:${t.localPort} -> tcp -> 127.0.0.1:${o.port}`), lines.join("\n"));
        assert.ok(
          lines.includes(
            `[hosts] 127.0.0.1:${t.localPort}: intercepting connection: no --ignore-hosts pattern matched '127.0.0.1:${o.port}' (resolved)`,
          ),
          lines.join("\n"),
        );
      }
    }
    assert.not.match(proxy.stdout() + proxy.stderr(), /internal error|failed in nextLayer/);
  } finally {
    await stopProxy(proxy);
    await g1.close();
    await g2.close();
  }
});

test("connection_strategy=lazy: no resolved-address candidate, so an IP pattern no longer matches a CONNECT by name", async () => {
  const proxy = await proxyWith([
    "-v",
    "--set",
    "connection_strategy=lazy",
    "--ignore-hosts",
    `127\\.0\\.\\d+\\.\\d+:${tlsB.port}`,
  ]);
  try {
    const p = await probeTls(proxy, `localhost:${tlsB.port}`, "localhost", `localhost:${tlsB.port}`);
    expectIntercepted(p, `GET https://localhost:${tlsB.port}/x`, "lazy: localhost:B");
    assert.ok(
      p.lines.some((l) =>
        l.startsWith(
          `[hosts] 127.0.0.1:${p.lp}: intercepting connection: no --ignore-hosts pattern matched 'localhost:${tlsB.port}' (destination)`,
        ),
      ),
      p.lines.join("\n"),
    );
    // An IP literal still matches through the destination itself.
    expectIgnored(
      await probeTls(proxy, `127.0.0.1:${tlsB.port}`, undefined, "127.0.0.1"),
      `127.0.0.1:${tlsB.port}`,
      "lazy: 127.0.0.1:B",
    );
  } finally {
    await stopProxy(proxy);
  }
});

test.run();
