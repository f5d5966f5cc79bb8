// The TLS version and cipher options (tls_version_client_min/max,
// tls_version_server_min/max, ciphers_client, ciphers_server) end to end:
// origins limited to one version or one cipher, clients (curl and Node's tls)
// limited the same way, what each side actually negotiated, the errors a user
// sees, and bad values refused at start-up.
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openTunnel, proxyCaPem } from "../helpers/clients.ts";
import { curl, originCa, removeDir, runCli, startProxy, tempDir, within } from "../helpers/harness.ts";

/** An HTTPS origin on 127.0.0.1 that says which version and cipher it negotiated. */
async function versionOrigin(
  opts: Pick<tls.SecureContextOptions, "minVersion" | "maxVersion" | "ciphers">,
): Promise<{ port: number; close(): Promise<void> }> {
  const ca = await originCa();
  const server = https.createServer(
    { key: ca.keyPem, cert: ca.certFor(["localhost", "127.0.0.1"]), ...opts },
    (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      res.end(`${socket.getProtocol()} ${socket.getCipher().name}`);
    },
  );
  server.keepAliveTimeout = 0;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** curl through the proxy to the origin, trusting the proxy's CA. */
function curlVia(proxy: { port: number; confdir: string }, originPort: number, extra: string[] = []) {
  return curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    `${proxy.confdir}/interloper-ca-cert.pem`,
    ...extra,
    `https://127.0.0.1:${originPort}/`,
  ]);
}

/** Node's TLS client through a CONNECT tunnel: what it negotiated with the proxy, or the error. */
async function handshakeVia(
  proxy: { port: number; confdir: string },
  originPort: number,
  opts: Pick<tls.ConnectionOptions, "minVersion" | "maxVersion" | "ciphers">,
): Promise<{ protocol?: string; cipher?: string; error?: string }> {
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${originPort}`);
  assert.is(tunnel.status, 200, tunnel.head);
  const socket = tls.connect({
    socket: tunnel.socket,
    servername: "localhost",
    ca: proxyCaPem(proxy.confdir),
    ...opts,
  });
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", resolve);
        socket.once("error", reject);
      }),
      "the TLS handshake with the proxy",
    );
    return { protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher().name };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    socket.destroy();
    tunnel.socket.destroy();
  }
}

/** OpenSSL 3 speaks TLS 1.0 and 1.1 only at security level 0; a client or origin limited to them needs it too. */
const LEGACY_CIPHERS = "DEFAULT@SECLEVEL=0";

test("server side: an origin limited to TLS 1.2 is reached by default and refused with tls_version_server_min=TLS1_3", async () => {
  const origin = await versionOrigin({ minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
  const plain = await startProxy();
  const strict = await startProxy(["--set", "tls_version_server_min=TLS1_3"]);
  try {
    const ok = await curlVia(plain, origin.port);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /^TLSv1\.2 /);

    const refused = await curlVia(strict, origin.port, ["-w", "%{http_code}"]);
    assert.is(refused.code, 0, refused.stderr);
    assert.match(refused.stdout.toString(), /502$/);
    // The 502 page and the log say what went wrong, naming the protocol version.
    assert.match(refused.stdout.toString(), /TLS handshake with 127\.0\.0\.1:\d+ failed: .*protocol version/i);
    await strict.waitForOutput(/server TLS handshake failed: .*protocol version/i);
  } finally {
    await Promise.all([plain.stop(), strict.stop(), origin.close()]);
  }
});

test("server side: an origin limited to TLS 1.3 is refused with tls_version_server_max=TLS1_2", async () => {
  const origin = await versionOrigin({ minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
  const proxy = await startProxy(["--set", "tls_version_server_max=TLS1_2"]);
  try {
    const r = await curlVia(proxy, origin.port, ["-w", "%{http_code}"]);
    assert.match(r.stdout.toString(), /502$/);
    await proxy.waitForOutput(/server TLS handshake failed: .*protocol version/i);
  } finally {
    await Promise.all([proxy.stop(), origin.close()]);
  }
});

test("server side: a TLS 1.0 origin needs tls_version_server_min=TLS1 (the proxy adds security level 0 for it)", async () => {
  const origin = await versionOrigin({ minVersion: "TLSv1", maxVersion: "TLSv1", ciphers: LEGACY_CIPHERS });
  const plain = await startProxy();
  const legacy = await startProxy(["--set", "tls_version_server_min=TLS1"]);
  try {
    const refused = await curlVia(plain, origin.port, ["-w", "%{http_code}"]);
    assert.match(refused.stdout.toString(), /502$/);
    const ok = await curlVia(legacy, origin.port);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /^TLSv1 /);
  } finally {
    await Promise.all([plain.stop(), legacy.stop(), origin.close()]);
  }
});

test("client side: tls_version_client_min=TLS1_3 refuses a TLS 1.2 client (curl --tls-max 1.2) and serves curl --tlsv1.3", async () => {
  const origin = await versionOrigin({});
  const proxy = await startProxy(["--set", "tls_version_client_min=TLS1_3"]);
  try {
    const old = await curlVia(proxy, origin.port, ["--tls-max", "1.2"]);
    assert.is(old.code, 35, `curl should fail its TLS handshake: ${old.stderr}`);
    assert.match(old.stderr, /protocol version|alert/i);
    await proxy.waitForOutput(/client TLS handshake failed: .*(unsupported protocol|protocol version)/i);

    const modern = await curlVia(proxy, origin.port, ["--tlsv1.3"]);
    assert.is(modern.code, 0, modern.stderr);

    const node = await handshakeVia(proxy, origin.port, { maxVersion: "TLSv1.2" });
    assert.match(node.error ?? "", /protocol version/i);
    assert.is((await handshakeVia(proxy, origin.port, {})).protocol, "TLSv1.3");
  } finally {
    await Promise.all([proxy.stop(), origin.close()]);
  }
});

test("client side: tls_version_client_max=TLS1_2 makes a TLS 1.3 client speak TLS 1.2; the default speaks TLS 1.3", async () => {
  const origin = await versionOrigin({});
  const plain = await startProxy();
  const capped = await startProxy(["--set", "tls_version_client_max=TLS1_2"]);
  try {
    assert.is((await handshakeVia(plain, origin.port, {})).protocol, "TLSv1.3");
    assert.is((await handshakeVia(capped, origin.port, {})).protocol, "TLSv1.2");
    const only13 = await handshakeVia(capped, origin.port, { minVersion: "TLSv1.3" });
    assert.match(only13.error ?? "", /protocol version/i);
  } finally {
    await Promise.all([plain.stop(), capped.stop(), origin.close()]);
  }
});

test("client side: a TLS 1.0 client is served with tls_version_client_min=TLS1 and refused by default", async () => {
  const origin = await versionOrigin({});
  const plain = await startProxy();
  const legacy = await startProxy(["--set", "tls_version_client_min=TLS1"]);
  try {
    const tls10 = { minVersion: "TLSv1", maxVersion: "TLSv1", ciphers: LEGACY_CIPHERS } as const;
    assert.ok((await handshakeVia(plain, origin.port, tls10)).error);
    assert.is((await handshakeVia(legacy, origin.port, tls10)).protocol, "TLSv1");
  } finally {
    await Promise.all([plain.stop(), legacy.stop(), origin.close()]);
  }
});

test("ciphers_client: the client gets the cipher named, and a client offering none of them is refused", async () => {
  const origin = await versionOrigin({});
  const proxy = await startProxy(["--set", "ciphers_client=ECDHE-ECDSA-AES256-GCM-SHA384"]);
  try {
    const r = await handshakeVia(proxy, origin.port, { maxVersion: "TLSv1.2" });
    assert.is(r.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
    const other = await handshakeVia(proxy, origin.port, {
      maxVersion: "TLSv1.2",
      ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256",
    });
    assert.match(other.error ?? "", /handshake failure/i);
    await proxy.waitForOutput(/client TLS handshake failed: .*no shared cipher/i);
  } finally {
    await Promise.all([proxy.stop(), origin.close()]);
  }
});

test("ciphers_server: the origin negotiates the cipher named; an origin without it is refused with a 502", async () => {
  const origin = await versionOrigin({ maxVersion: "TLSv1.2" });
  const aes128Only = await versionOrigin({ maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" });
  const proxy = await startProxy(["--set", "ciphers_server=ECDHE-ECDSA-CHACHA20-POLY1305"]);
  try {
    const ok = await curlVia(proxy, origin.port);
    assert.is(ok.stdout.toString(), "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305");
    const refused = await curlVia(proxy, aes128Only.port, ["-w", "%{http_code}"]);
    assert.match(refused.stdout.toString(), /502$/);
    assert.match(refused.stdout.toString(), /handshake failure/i);
  } finally {
    await Promise.all([proxy.stop(), origin.close(), aes128Only.close()]);
  }
});

test("bad values are refused at start-up with one line naming the option, exit 2", async () => {
  const confdir = tempDir();
  try {
    const cases: Array<[string[], RegExp]> = [
      [
        ["--set", "tls_version_client_min=SSL3"],
        /^interloper: invalid value for tls_version_client_min: 'SSL3' \(SSL 3\.0 is not available in Node's OpenSSL; the lowest is TLS1\)\n$/,
      ],
      [
        ["--set", "tls_version_server_max=SSL3"],
        /^interloper: invalid value for tls_version_server_max: 'SSL3' \(SSL 3\.0/,
      ],
      [
        ["--set", "tls_version_server_min=TLS1_4"],
        /^interloper: invalid value for tls_version_server_min: 'TLS1_4' \(expected one of UNBOUNDED, SSL3, TLS1, TLS1_1, TLS1_2, TLS1_3\)\n$/,
      ],
      [
        ["--set", "tls_version_client_min=TLS1_3", "--set", "tls_version_client_max=TLS1_2"],
        /^interloper: invalid TLS versions for the client side: tls_version_client_min TLS1_3 is above tls_version_client_max TLS1_2\n$/,
      ],
      [
        ["--set", "ciphers_client=NO-SUCH-CIPHER"],
        /^interloper: invalid value for ciphers_client: "NO-SUCH-CIPHER" \(OpenSSL refuses it: .+\)\n$/,
      ],
      [
        ["--set", "ciphers_server=:::"],
        /^interloper: invalid value for ciphers_server: ":::" \(OpenSSL refuses it: .+\)\n$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--set", `confdir=${confdir}`, ...args]);
      assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.is(r.stdout, "");
    }
  } finally {
    removeDir(confdir);
  }
});

test.run();
