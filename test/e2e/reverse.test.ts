// Reverse mode end to end (SEMANTICS.md §2): every connection goes to the
// fixed target; the URL's scheme says what the client speaks (http, https,
// tcp, tls); Host is rewritten unless keep_host_header; the hosts rules are
// decided before the reverse stack (ignored → the origin's own certificate).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  WAIT_MS,
  curl,
  originCa,
  startOrigin,
  startProxy,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import {
  connectRaw,
  ipv6Loopback,
  issuerCN,
  PEER,
  startEcho,
  tlsConnect,
  waitListeners,
  type EchoServer,
  type Listener,
} from "../helpers/modes.ts";

let httpOrigin: Origin;
let httpsOrigin: Origin;
let tcpEcho: EchoServer;
let tlsEcho: EchoServer;
let ignoredHttps: Origin;
let ignoredHttp: Origin;

let main: ProxyProcess;
let mainListeners: Listener[];
let keepHost: ProxyProcess;
let ignoring: ProxyProcess;
let ignoringListeners: Listener[];

const echoHost = (req: { url?: string; headers: Record<string, unknown> }) => `${req.url} host=${req.headers.host}`;

function listenerFor(list: Listener[], title: string): Listener {
  const l = list.find((x) => x.title === title);
  if (!l) throw new Error(`no listener '${title}' in ${JSON.stringify(list)}`);
  return l;
}

test.before(async () => {
  httpOrigin = await startOrigin((req, res) => res.end(echoHost(req)));
  httpsOrigin = await startOrigin((req, res) => res.end(echoHost(req)), { tls: true });
  tcpEcho = await startEcho();
  tlsEcho = await startEcho({ tls: true });
  ignoredHttps = await startOrigin((req, res) => res.end(echoHost(req)), { tls: true });
  ignoredHttp = await startOrigin((req, res) => res.end(echoHost(req)));
  main = await startProxy([
    "--mode",
    `reverse:http://localhost:${httpOrigin.port}@0`,
    "--mode",
    `reverse:https://localhost:${httpsOrigin.port}@0`,
    "--mode",
    `reverse:tcp://127.0.0.1:${tcpEcho.port}@0`,
    "--mode",
    `reverse:tls://localhost:${tlsEcho.port}@0`,
  ]);
  mainListeners = await waitListeners(main, 4);
  keepHost = await startProxy([
    "--mode",
    `reverse:http://localhost:${httpOrigin.port}@0`,
    "--set",
    "keep_host_header=true",
  ]);
  ignoring = await startProxy([
    "--mode",
    `reverse:https://localhost:${ignoredHttps.port}@0`,
    "--mode",
    `reverse:http://localhost:${ignoredHttp.port}@0`,
    "--ignore-hosts",
    `^localhost:(${ignoredHttps.port}|${ignoredHttp.port})$`,
  ]);
  ignoringListeners = await waitListeners(ignoring, 2);
});

test.after(async () => {
  await main?.stop();
  await keepHost?.stop();
  await ignoring?.stop();
  for (const s of [httpOrigin, httpsOrigin, tcpEcho, tlsEcho, ignoredHttps, ignoredHttp]) await s?.close();
});

test("start-up lines: one per reverse listener, naming the target URL", () => {
  assert.equal(
    mainListeners.map((l) => `${l.title} listening at ${l.scheme}://${l.host}`),
    [
      `Reverse proxy to http://localhost:${httpOrigin.port} listening at http://127.0.0.1`,
      `Reverse proxy to https://localhost:${httpsOrigin.port} listening at http://127.0.0.1`,
      `Reverse proxy to tcp://127.0.0.1:${tcpEcho.port} listening at http://127.0.0.1`,
      `Reverse proxy to tls://localhost:${tlsEcho.port} listening at http://127.0.0.1`,
    ],
  );
  assert.is(new Set(mainListeners.map((l) => l.port)).size, 4, "four different ephemeral ports");
  assert.ok(mainListeners.every((l) => l.port > 0));
});

test("reverse:http: a plain curl to the proxy reaches the origin; the origin sees Host rewritten to the target", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to http://localhost:${httpOrigin.port}`).port;
  const r = await curl([`http://127.0.0.1:${p}/rev?q=1`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/rev?q=1 host=localhost:${httpOrigin.port}`);
  const seen = httpOrigin.requests.find((q) => q.url === "/rev?q=1")!;
  assert.ok(seen);
  const hosts = seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === "host").length;
  assert.is(hosts, 1, "exactly one Host field");
  await main.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${httpOrigin.port}/rev\\?q=1\\n     << 200 OK`));
  assert.match(
    main.stdout(),
    new RegExp(`${PEER}: server connect localhost:${httpOrigin.port} \\(127\\.0\\.0\\.1:${httpOrigin.port}\\)`),
  );
});

test("reverse:http with keep_host_header=true: the origin sees the client's Host", async () => {
  const r = await curl([`http://127.0.0.1:${keepHost.port}/kept`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/kept host=127.0.0.1:${keepHost.port}`);
  const custom = await curl(["-H", "Host: app.test", `http://127.0.0.1:${keepHost.port}/custom`]);
  assert.is(custom.code, 0, custom.stderr);
  assert.is(custom.stdout.toString(), "/custom host=app.test");
});

test("reverse:http keeps the connection: two requests on one client connection both reach the origin", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to http://localhost:${httpOrigin.port}`).port;
  const r = await curl([`http://127.0.0.1:${p}/one`, `http://127.0.0.1:${p}/two`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/one host=localhost:${httpOrigin.port}/two host=localhost:${httpOrigin.port}`);
});

test("reverse:https: curl https://localhost:P with the proxy CA is intercepted; the origin is reached over TLS", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to https://localhost:${httpsOrigin.port}`).port;
  const r = await curl(["-v", "--cacert", main.caFile, `https://localhost:${p}/secure`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/secure host=localhost:${httpsOrigin.port}`);
  assert.match(r.stderr, /issuer: .*CN=interloper/);
  // httpsOrigin speaks only TLS: the request arriving there proves the proxy spoke TLS to it.
  assert.ok(httpsOrigin.requests.some((q) => q.url === "/secure"));
  await main.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${httpsOrigin.port}/secure\\n     << 200 OK`));
  // The origin's CA alone does not verify the proxy's certificate.
  const o = await curl(["--cacert", (await originCa()).caFile, `https://localhost:${p}/secure`]);
  assert.is(o.code, 60, o.stderr);
});

test("reverse:https: a client that sends plain HTTP is closed, with a log line", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to https://localhost:${httpsOrigin.port}`).port;
  const before = httpsOrigin.requests.length;
  const raw = await connectRaw(p);
  try {
    raw.write(`GET /plain HTTP/1.1\r\nHost: localhost:${p}\r\n\r\n`);
    const got = await raw.closedByPeer("the close of a plain-HTTP client");
    assert.is(got.length, 0, `nothing sent back: ${got.toString("latin1")}`);
  } finally {
    raw.destroy();
  }
  await main.waitForOutput(
    new RegExp(`${PEER}: reverse:https expects TLS from the client, but its first bytes are not a TLS ClientHello\\n`),
  );
  assert.is(httpsOrigin.requests.length, before, "nothing reached the origin");
  // curl sees the connection end.
  const r = await curl([`http://127.0.0.1:${p}/plain`]);
  assert.is.not(r.code, 0);
});

test("reverse:tcp: raw bytes are echoed; the log shows TCP flow lines", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to tcp://127.0.0.1:${tcpEcho.port}`).port;
  const raw = await connectRaw(p);
  const payload = Buffer.from("\x00\x01raw bytes\r\n\xff", "latin1");
  try {
    raw.write(payload);
    assert.equal(await raw.read(payload.length, "the echo"), payload);
    raw.write("again");
    assert.is((await raw.read(5, "the second echo")).toString(), "again");
  } finally {
    raw.destroy();
  }
  assert.equal(tcpEcho.received.at(-1), Buffer.concat([payload, Buffer.from("again")]));
  await main.waitForOutput(new RegExp(`${PEER} -> tcp -> 127\\.0\\.0\\.1:${tcpEcho.port}\\n`));
  await main.waitForOutput(new RegExp(`${PEER} <- tcp <- 127\\.0\\.0\\.1:${tcpEcho.port}\\n`));
  assert.not.match(main.stdout(), new RegExp(`GET http://127\\.0\\.0\\.1:${tcpEcho.port}`));
});

test("reverse:tcp: an HTTP-looking client is still raw TCP (the scheme decides, not the bytes)", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to tcp://127.0.0.1:${tcpEcho.port}`).port;
  const raw = await connectRaw(p);
  const req = "GET /not-parsed HTTP/1.1\r\nHost: x\r\n\r\n";
  try {
    raw.write(req);
    assert.is((await raw.read(req.length, "the echo")).toString(), req);
  } finally {
    raw.destroy();
  }
  assert.not.match(main.stdout(), /GET http:\/\/[^\s]*\/not-parsed/);
});

test("reverse:tls: TLS is terminated with the proxy's certificate; raw TCP inside; TLS again to the server", async () => {
  const p = listenerFor(mainListeners, `Reverse proxy to tls://localhost:${tlsEcho.port}`).port;
  const t = await tlsConnect({ port: p, servername: "localhost", caFile: main.caFile });
  try {
    assert.is(issuerCN(t), "interloper");
    t.write("over tls\n");
    const got = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(buf)}`)), WAIT_MS);
      t.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.length >= 9) {
          clearTimeout(timer);
          resolve(buf);
        }
      });
    });
    assert.is(got, "over tls\n");
  } finally {
    t.destroy();
  }
  assert.is(
    tlsEcho.received.at(-1)?.toString(),
    "over tls\n",
    "the TLS echo server got the plaintext (TLS on its side too)",
  );
  assert.is(tlsEcho.snis.at(-1), "localhost", "the proxy sends the target's name as SNI");
  await main.waitForOutput(new RegExp(`${PEER} -> tcp -> localhost:${tlsEcho.port}\\n`));
  // The origin CA alone does not verify what the client was shown: it was the proxy's certificate.
  let refused = false;
  try {
    const o = await tlsConnect({ port: p, servername: "localhost", caFile: (await originCa()).caFile });
    o.destroy();
  } catch {
    refused = true;
  }
  assert.ok(refused, "the origin CA must not verify the proxy's certificate");
});

test("reverse:https with --ignore-hosts matching the target: the client gets the origin's certificate, no request line", async () => {
  const p = listenerFor(ignoringListeners, `Reverse proxy to https://localhost:${ignoredHttps.port}`).port;
  const ca = await originCa();
  // The origin's certificate names localhost and 127.0.0.1: curl verifies it against the origin CA.
  const r = await curl(["-v", "--cacert", ca.caFile, `https://localhost:${p}/passthrough`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/passthrough host=localhost:${p}`, "Host untouched: the bytes are relayed as sent");
  const viaIp = await curl([
    "--cacert",
    ca.caFile,
    "--resolve",
    `localhost:${p}:127.0.0.1`,
    `https://127.0.0.1:${p}/by-ip`,
  ]);
  assert.is(viaIp.code, 0, viaIp.stderr);
  await ignoring.waitForOutput(new RegExp(`server disconnect localhost:${ignoredHttps.port}`));
  assert.not.match(ignoring.stdout(), /GET https/);
  // The proxy's CA does not verify it: this is not the proxy's certificate.
  const withProxyCa = await curl(["--cacert", ignoring.caFile, `https://localhost:${p}/x`]);
  assert.is(withProxyCa.code, 60, withProxyCa.stderr);
});

test("reverse:http with --ignore-hosts matching the target: relayed as sent (no Host rewrite), no request line", async () => {
  const p = listenerFor(ignoringListeners, `Reverse proxy to http://localhost:${ignoredHttp.port}`).port;
  const r = await curl([`http://127.0.0.1:${p}/raw`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `/raw host=127.0.0.1:${p}`);
  await ignoring.waitForOutput(new RegExp(`server disconnect localhost:${ignoredHttp.port}`));
  assert.not.match(ignoring.stdout(), /GET http:/);
});

test("reverse to a target that refuses: the client connection is closed, the log says why", async () => {
  const gone = await startEcho();
  const port = gone.port;
  await gone.close();
  const p = await startProxy(["--mode", `reverse:http://127.0.0.1:${port}@0`]);
  try {
    const raw = await connectRaw(p.port);
    try {
      raw.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await raw.closedByPeer("the close");
    } finally {
      raw.destroy();
    }
    await p.waitForOutput(new RegExp(`${PEER}: error establishing server connection: .*`));
    await p.waitForOutput(new RegExp(`${PEER}: client disconnect`));
    assert.not.match(p.stdout() + p.stderr(), /internal error/);
  } finally {
    assert.is(await p.stop(), 0);
  }
});

test("reverse:https to a server whose certificate does not verify: 502 to the client, naming the TLS failure", async () => {
  const untrusted = await startOrigin((req, res) => res.end(echoHost(req)), { tls: true, selfSigned: true });
  const p = await startProxy(["--mode", `reverse:https://localhost:${untrusted.port}@0`]);
  try {
    const r = await curl([
      "-s",
      "-w",
      "\\n%{http_code}",
      "--cacert",
      p.caFile,
      `https://localhost:${p.port}/untrusted`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.match(
      r.stdout.toString(),
      new RegExp(`TLS handshake with localhost:${untrusted.port} failed: certificate verify failed`),
    );
    assert.match(r.stdout.toString(), /\n502$/);
    assert.is(untrusted.requests.length, 0);
    await p.waitForOutput(/server TLS handshake failed: certificate verify failed/);
  } finally {
    await p.stop();
    await untrusted.close();
  }
});

test("reverse to an IPv6 target: the start-up line and the rewritten Host use brackets", async () => {
  if (!(await ipv6Loopback())) {
    console.log("  (skipped: no IPv6 loopback here)");
    return;
  }
  const o = await startOrigin((req, res) => res.end(echoHost(req)), { host: "::1" });
  const p = await startProxy(["--mode", `reverse:http://[::1]:${o.port}@0`]);
  try {
    const [l] = await waitListeners(p, 1);
    assert.is(l!.title, `Reverse proxy to http://[::1]:${o.port}`);
    const r = await curl([`http://127.0.0.1:${p.port}/v6`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), `/v6 host=[::1]:${o.port}`);
    await p.waitForOutput(new RegExp(`${PEER}: GET http://\\[::1\\]:${o.port}/v6\\n`));
  } finally {
    await p.stop();
    await o.close();
  }
});

test.run();
