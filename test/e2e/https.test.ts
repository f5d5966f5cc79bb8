// HTTPS interception: the certificate the client gets, the hook order of
// SEMANTICS.md §3, keep-alive in the tunnel, upstream verification, the
// upstream_cert and connection_strategy options, clear text in a tunnel,
// and a client that does not trust the CA.
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  curl,
  originCa,
  sleep,
  startInProcess,
  startOrigin,
  startProxy,
  testConfdir,
  waitFor,
} from "../helpers/harness.ts";
import {
  PEER,
  WireClient,
  countConnections,
  hookRecorder,
  requestViaProxy,
  openTunnel,
  proxyCaPem,
  tlsOver,
} from "../helpers/clients.ts";
import { HTTPS_HOOK_ORDER } from "../helpers/hook-order.ts";

/** The SEMANTICS.md §3 order for one intercepted HTTPS request. */
const SECTION_3 = HTTPS_HOOK_ORDER;

function sans(cert: tls.PeerCertificate): string[] {
  return (cert.subjectaltname ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** GET over an established TLS socket, returns the response (the socket stays open). */
async function getOver(
  t: tls.TLSSocket,
  host: string,
  path: string,
  client?: WireClient,
): Promise<{ client: WireClient; status: number; body: string }> {
  const c = client ?? new WireClient(t);
  c.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const r = await c.readResponse();
  return { client: c, status: r.status, body: r.body.toString() };
}

test("HTTPS via curl --cacert <proxy CA>: 200, the body, and the event log lines", async () => {
  const origin = await startOrigin((req, res) => res.end(`secure ${req.url}`), { tls: true });
  const proxy = await startProxy();
  try {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      `https://localhost:${origin.port}/s?x=1`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "secure /s?x=1");
    await proxy.waitForOutput(/server disconnect/);
    const o = origin.port;
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: client connect\\n${PEER}: server connect localhost:${o} \\(127\\.0\\.0\\.1:${o}\\)\\n${PEER}: GET https://localhost:${o}/s\\?x=1\\n     << 200 OK 13b\\n`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the certificate the client gets through `CONNECT localhost:PORT` is issued by the proxy's CA (CN=interloper) and names the host", async () => {
  const origin = await startOrigin((_req, res) => res.end("cert ok"), { tls: true });
  const proxy = await startProxy();
  try {
    const caPem = proxyCaPem(proxy.confdir);
    const caCert = new X509Certificate(caPem);
    assert.match(caCert.subject, /CN=interloper/);
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    assert.is(tunnel.status, 200, tunnel.head);
    assert.match(tunnel.head, /^HTTP\/1\.1 200 /);
    // Verified against the proxy's CA alone (and the name checked by Node): nothing else could pass.
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: caPem });
    try {
      assert.is(t.authorized, true);
      const cert = t.getPeerCertificate(true);
      assert.is(cert.issuer.CN, "interloper");
      assert.ok(sans(cert).includes("DNS:localhost"), cert.subjectaltname);
      assert.is(
        cert.issuerCertificate.fingerprint256,
        caCert.fingerprint256,
        "signed by the proxy's CA, not the origin's",
      );
      // The origin's own certificate comes from another CA.
      const originCaCert = new X509Certificate((await originCa()).ca.caCertPem);
      assert.is.not(originCaCert.fingerprint256, caCert.fingerprint256);
      const r = await getOver(t, `localhost:${origin.port}`, "/c");
      assert.is(r.status, 200);
      assert.is(r.body, "cert ok");
    } finally {
      t.destroy();
    }
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the leaf carries the SNI the client sent (and the CONNECT address) as SANs; the origin gets that SNI's Host", async () => {
  const origin = await startOrigin((req, res) => res.end(`host ${req.headers.host}`), {
    tls: true,
    names: ["sni.test"],
  });
  const proxy = await startProxy();
  try {
    const tunnel = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
    assert.is(tunnel.status, 200, tunnel.head);
    const t = await tlsOver(tunnel.socket, { servername: "sni.test", ca: proxyCaPem(proxy.confdir) });
    try {
      const names = sans(t.getPeerCertificate());
      assert.ok(names.includes("DNS:sni.test"), names.join(", "));
      assert.ok(names.includes("IP Address:127.0.0.1"), names.join(", "));
      const r = await getOver(t, "sni.test", "/");
      assert.is(r.status, 200);
      assert.is(r.body, "host sni.test");
    } finally {
      t.destroy();
    }
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("hook order for one intercepted HTTPS request is SEMANTICS.md §3's", async () => {
  const origin = await startOrigin((_req, res) => res.end("hooks"), { tls: true });
  const rec = hookRecorder();
  const p = await startInProcess([rec.addon]);
  try {
    const caFile = join(testConfdir(), "interloper-ca-cert.pem");
    const r = await curl(["-x", `http://127.0.0.1:${p.port}`, "--cacert", caFile, `https://localhost:${origin.port}/`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "hooks");
    await waitFor(() => rec.calls.includes("clientDisconnect"), "clientDisconnect");
    const known = new Set(SECTION_3);
    assert.equal(
      rec.calls.filter((h) => known.has(h)),
      SECTION_3,
      `all hooks: ${rec.calls.join(", ")}`,
    );
    assert.not.ok(rec.calls.includes("error"));
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("keep-alive inside the tunnel: two requests on one TLS connection, one server connection", async () => {
  const origin = await startOrigin((req, res) => res.end(`${req.url} on ${req.socket.remotePort}`), { tls: true });
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: proxyCaPem(proxy.confdir) });
    try {
      const host = `localhost:${origin.port}`;
      const a = await getOver(t, host, "/first");
      const b = await getOver(t, host, "/second", a.client);
      const pa = /^\/first on (\d+)$/.exec(a.body);
      const pb = /^\/second on (\d+)$/.exec(b.body);
      assert.ok(pa && pb, `${a.body} / ${b.body}`);
      assert.is(pa[1], pb[1]);
      assert.is(a.client.closed, false);
    } finally {
      t.destroy();
    }
    await proxy.waitForOutput(/server disconnect/);
    assert.is(conns.count(), 1);
    const log = proxy.stdout();
    assert.is(log.match(/server connect /g)?.length, 1, log);
    assert.match(
      log,
      new RegExp(
        `GET https://localhost:${origin.port}/first\\n     << 200 OK .*\\n${PEER}: GET https://localhost:${origin.port}/second\\n     << 200 OK`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the origin closes an idle keep-alive connection inside the tunnel: the next request reconnects (with TLS) and is answered", async () => {
  const origin = await startOrigin(
    (req, res) => {
      res.once("finish", () => setTimeout(() => req.socket.destroy(), 30));
      res.end(`${req.url} on ${req.socket.remotePort}`);
    },
    { tls: true },
  );
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: proxyCaPem(proxy.confdir) });
    const c = new WireClient(t);
    try {
      const host = `localhost:${origin.port}`;
      c.write(`GET /one HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const a = await c.readResponse();
      assert.match(a.body.toString(), /^\/one on \d+$/);
      await waitFor(() => conns.closed() === 1, "the origin to close its side");
      // The FIN reached the proxy before the next request: it says so.
      await proxy.waitForOutput(/server disconnect/);
      c.write(`GET /two HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const b = await c.readResponse();
      assert.is(b.status, 200);
      assert.match(b.body.toString(), /^\/two on \d+$/);
    } finally {
      t.destroy();
    }
    assert.is(conns.count(), 2);
    await proxy.waitForOutput(/\/two\n     << 200 OK/);
    assert.is(proxy.stdout().match(/server connect /g)?.length, 2);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an upstream with an untrusted certificate: 502 saying `certificate verify failed`, and the log line", async () => {
  const origin = await startOrigin((_req, res) => res.end("should not be seen"), { tls: true, selfSigned: true });
  const proxy = await startProxy();
  try {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      "-i",
      `https://localhost:${origin.port}/`,
    ]);
    assert.is(r.code, 0, r.stderr);
    // curl -i also prints the proxy's answer to its CONNECT.
    const text = r.stdout.toString().replace(/^HTTP\/1\.1 200 Connection established\r\n\r\n/, "");
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(text, /\r\n\r\nTLS handshake with localhost:\d+ failed: certificate verify failed/);
    assert.is(origin.requests.length, 0);
    await proxy.waitForOutput(/ << TLS handshake/);
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: GET https://localhost:${origin.port}/\\n << TLS handshake with localhost:${origin.port} failed: certificate verify failed: [^\\n]+\\n`,
      ),
    );
    assert.match(proxy.stdout(), new RegExp(`${PEER}: server TLS handshake failed: certificate verify failed`));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the same untrusted upstream with -k: 200 and the origin's body", async () => {
  const origin = await startOrigin((_req, res) => res.end("insecure but ok"), { tls: true, selfSigned: true });
  const proxy = await startProxy(["-k"]);
  try {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      `https://localhost:${origin.port}/`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "insecure but ok");
    await proxy.waitForOutput(/<< 200 OK/);
    assert.not.match(proxy.stdout(), /certificate verify failed/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

/** The SANs of the certificate a client gets for `localhost:port` through the proxy. */
async function leafSans(proxyPort: number, confdir: string, originPort: number): Promise<string[]> {
  const tunnel = await openTunnel(proxyPort, `localhost:${originPort}`);
  assert.is(tunnel.status, 200, tunnel.head);
  const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: proxyCaPem(confdir) });
  try {
    return sans(t.getPeerCertificate());
  } finally {
    t.destroy();
  }
}

test("upstream_cert (default on) copies the upstream certificate's names into the leaf; --set upstream_cert=false does not", async () => {
  const origin = await startOrigin((_req, res) => res.end("x"), {
    tls: true,
    names: ["extra.test", "another.extra.test"],
  });
  const on = await startProxy();
  const off = await startProxy(["--set", "upstream_cert=false"]);
  try {
    const withNames = await leafSans(on.port, on.confdir, origin.port);
    assert.ok(withNames.includes("DNS:localhost"), withNames.join(", "));
    assert.ok(withNames.includes("DNS:extra.test"), withNames.join(", "));
    assert.ok(withNames.includes("DNS:another.extra.test"), withNames.join(", "));
    const without = await leafSans(off.port, off.confdir, origin.port);
    assert.ok(without.includes("DNS:localhost"), without.join(", "));
    assert.not.ok(without.includes("DNS:extra.test"), without.join(", "));
    assert.not.ok(without.includes("DNS:another.extra.test"), without.join(", "));
  } finally {
    assert.is(await on.stop(), 0);
    assert.is(await off.stop(), 0);
    await origin.close();
  }
});

test("connection_strategy=lazy: the CONNECT is answered before any server connection; the request still works", async () => {
  const origin = await startOrigin((_req, res) => res.end("lazy ok"), { tls: true });
  const conns = countConnections(origin);
  const proxy = await startProxy(["--set", "connection_strategy=lazy"]);
  try {
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    assert.is(tunnel.status, 200, tunnel.head);
    // Let anything that would connect eagerly have its chance.
    await sleep(150);
    assert.is(conns.count(), 0, "no server connection before the client spoke");
    assert.not.match(proxy.stdout(), /server connect/);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: proxyCaPem(proxy.confdir) });
    try {
      const r = await getOver(t, `localhost:${origin.port}`, "/lazy");
      assert.is(r.status, 200);
      assert.is(r.body, "lazy ok");
    } finally {
      t.destroy();
    }
    await proxy.waitForOutput(/server disconnect/);
    assert.is(conns.count(), 1);
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: server connect localhost:${origin.port} \\(127\\.0\\.0\\.1:${origin.port}\\)\\n`),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("eager (default): the server connection is up before the CONNECT is answered", async () => {
  const origin = await startOrigin((_req, res) => res.end("eager"), { tls: true });
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    try {
      assert.is(tunnel.status, 200, tunnel.head);
      await waitFor(() => conns.count() === 1, "the eager server connection");
      await proxy.waitForOutput(/server connect localhost/);
    } finally {
      tunnel.socket.destroy();
    }
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the `server connect` entry relative to the request: eager before the ClientHello, lazy after the `request` hook", async () => {
  const origin = await startOrigin((_req, res) => res.end("order"), { tls: true });
  const caFile = join(testConfdir(), "interloper-ca-cert.pem");
  for (const strategy of ["eager", "lazy"] as const) {
    const rec = hookRecorder();
    const p = await startInProcess([rec.addon], { connectionStrategy: strategy });
    p.proxy.host.events.on("log", (e) => {
      if (/: server connect /.test(e.message)) rec.calls.push("LOG server connect");
    });
    try {
      const r = await curl([
        "-x",
        `http://127.0.0.1:${p.port}`,
        "--cacert",
        caFile,
        `https://localhost:${origin.port}/`,
      ]);
      assert.is(r.code, 0, `${strategy}: ${r.stderr}`);
      assert.is(r.stdout.toString(), "order");
      await waitFor(() => rec.calls.includes("clientDisconnect"), "clientDisconnect");
      const at = (h: string) => rec.calls.indexOf(h);
      assert.is(rec.calls.filter((h) => h === "LOG server connect").length, 1, rec.calls.join(", "));
      if (strategy === "eager") {
        assert.ok(
          at("httpConnect") < at("LOG server connect") && at("LOG server connect") < at("tlsClienthello"),
          `eager: ${rec.calls.join(", ")}`,
        );
      } else {
        assert.ok(
          at("request") < at("serverConnect") && at("request") < at("LOG server connect"),
          `lazy: ${rec.calls.join(", ")}`,
        );
        assert.ok(at("LOG server connect") < at("responseheaders"), `lazy: ${rec.calls.join(", ")}`);
        assert.equal(
          rec.calls.filter((h) =>
            [
              "tlsStartClient",
              "tlsEstablishedClient",
              "requestheaders",
              "request",
              "serverConnect",
              "serverConnected",
              "tlsStartServer",
              "tlsEstablishedServer",
              "responseheaders",
              "response",
            ].includes(h),
          ),
          [
            "tlsStartClient",
            "tlsEstablishedClient",
            "requestheaders",
            "request",
            "serverConnect",
            "serverConnected",
            "tlsStartServer",
            "tlsEstablishedServer",
            "responseheaders",
            "response",
          ],
          `lazy: ${rec.calls.join(", ")}`,
        );
      }
    } finally {
      await p.stop();
    }
  }
  await origin.close();
});

test("clear-text HTTP inside a CONNECT tunnel (curl -p): the request goes through and is logged as http://", async () => {
  const origin = await startOrigin((req, res) => res.end(`plain in tunnel ${req.url}`));
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const r = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      `http://localhost:${origin.port}/t1`,
      `http://localhost:${origin.port}/t2`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "plain in tunnel /t1plain in tunnel /t2");
    await proxy.waitForOutput(/server disconnect/);
    const o = origin.port;
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: server connect localhost:${o} \\(127\\.0\\.0\\.1:${o}\\)\\n${PEER}: GET http://localhost:${o}/t1\\n     << 200 OK 19b\\n${PEER}: GET http://localhost:${o}/t2\\n     << 200 OK 19b\\n`,
      ),
    );
    assert.is(conns.count(), 1);
    assert.equal(
      origin.requests.map((q) => q.url),
      ["/t1", "/t2"],
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("a client that does not trust the proxy's CA: its handshake fails and the log says why", async () => {
  const origin = await startOrigin((_req, res) => res.end("never"), { tls: true });
  const proxy = await startProxy();
  try {
    // Trusting only some other CA (the origins'), not the proxy's.
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      (await originCa()).caFile,
      `https://localhost:${origin.port}/`,
    ]);
    assert.is(r.code, 60, `curl exit ${r.code}: ${r.stderr}`);
    assert.is(r.stdout.length, 0);
    assert.is(origin.requests.length, 0);
    await proxy.waitForOutput(/client TLS handshake failed/);
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: client TLS handshake failed: the client does not trust the proxy's certificate for localhost \\([^\\n]*\\)\\n`,
      ),
    );
    assert.not.match(proxy.stdout(), /GET https:/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an absolute-form https:// request sent to the proxy in clear text goes to the origin over verified TLS", async () => {
  const origin = await startOrigin((req, res) => res.end(`abs-tls ${req.url}`), { tls: true });
  const proxy = await startProxy();
  try {
    const r = await requestViaProxy(proxy.port, `https://localhost:${origin.port}/abs`);
    assert.is(r.status, 200);
    assert.is(r.body.toString(), "abs-tls /abs");
    await proxy.waitForOutput(/<< 200 OK/);
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/abs\\n     << 200 OK 12b\\n`),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test.run();
