// certs, cert_passphrase, client_certs, key_size and a confdir holding a
// mitmproxy CA, end to end: which certificate (and chain) the client actually
// received, what a TLS origin that requires a client certificate saw, the CA
// the proxy made or took over, and bad values refused at start-up.
import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { proxyCaPem } from "../helpers/clients.ts";
import {
  curl,
  originCa,
  removeDir,
  runCli,
  startInProcess,
  startOrigin,
  startProxy,
  tempDir,
  type Origin,
} from "../helpers/harness.ts";
import { startMitmdump } from "../helpers/mitmdump.ts";
import { makePki, type IssuedCert, type TestPki } from "../helpers/pki.ts";
import { destroyClients, tlsThroughTunnel } from "../helpers/tunnel.ts";

let pki: TestPki;
let user: IssuedCert;
let wild: IssuedCert;
let all: IssuedCert;
/** One origin per name set: the proxy also looks the user's certificates up by the origin certificate's names. */
let userOrigin: Origin;
let wildOrigin: Origin;
let otherOrigin: Origin;

test.before(async () => {
  // Leaves signed by an intermediate: a client that trusts the root only verifies them if the chain is served.
  pki = await makePki("interloper test user CA", { intermediate: true });
  user = await pki.issue({ cn: "user.test", dns: ["user.test"], purpose: "server" });
  wild = await pki.issue({ cn: "*.wild.test", dns: ["*.wild.test"], purpose: "server" });
  all = await pki.issue({ cn: "all.test", dns: ["all.test"], purpose: "server" });
  const answer = (_req: unknown, res: { end(body: string): void }) => res.end("origin");
  userOrigin = await startOrigin(answer, { tls: true, names: ["user.test", "alias.test"] });
  wildOrigin = await startOrigin(answer, { tls: true, names: ["a.wild.test", "b.c.wild.test"] });
  otherOrigin = await startOrigin(answer, { tls: true, names: ["other.test", "wild.test"] });
});

test.after(async () => {
  destroyClients();
  await Promise.all([userOrigin.close(), wildOrigin.close(), otherOrigin.close()]);
});

/** The certificate a client with SNI `sni` receives through a tunnel to `origin`, checked against `ca`. */
function served(port: number, origin: Origin, sni: string, ca: string) {
  return tlsThroughTunnel(port, `127.0.0.1:${origin.port}`, { servername: sni, ca: [ca] });
}

test("certs: the user's certificate for its domain and a wildcard's for names under it, with their chains; the CA's for the rest", async () => {
  const proxy = await startProxy([
    "--set",
    `certs=user.test=${user.pemFile}`,
    "--set",
    `certs=*.wild.test=${wild.pemFile}`,
  ]);
  try {
    const exact = await served(proxy.port, userOrigin, "user.test", pki.rootPem);
    assert.is(exact.fingerprint, user.fingerprint);
    // Verified against the user's root alone: the intermediate from the PEM file was sent too.
    assert.ok(exact.authorized, exact.authorizationError);

    const below = await served(proxy.port, wildOrigin, "a.wild.test", pki.rootPem);
    assert.is(below.fingerprint, wild.fingerprint);
    assert.ok(below.authorized, below.authorizationError);
    // mitmproxy's matching: *.wild.test also covers deeper names (which a TLS client then refuses by name).
    const deeper = await served(proxy.port, wildOrigin, "b.c.wild.test", pki.rootPem);
    assert.is(deeper.fingerprint, wild.fingerprint);
    assert.is(deeper.authorizationError, "ERR_TLS_CERT_ALTNAME_INVALID");

    // wild.test itself and other names get a certificate minted by the proxy's CA.
    const proxyCa = proxyCaPem(proxy.confdir);
    for (const [origin, sni] of [
      [otherOrigin, "wild.test"],
      [otherOrigin, "other.test"],
    ] as const) {
      const minted = await served(proxy.port, origin, sni, proxyCa);
      assert.ok(minted.authorized, `${sni}: ${minted.authorizationError}`);
      assert.not.ok([user.fingerprint, wild.fingerprint].includes(minted.fingerprint), sni);
    }

    // curl trusting only the user's root gets its answer through the proxy.
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      pki.rootFile,
      "--connect-to",
      `user.test:${userOrigin.port}:127.0.0.1:${userOrigin.port}`,
      `https://user.test:${userOrigin.port}/`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "origin");
  } finally {
    await proxy.stop();
  }
});

test("certs: the server certificate's names are looked up before the SNI (mitmproxy's order); without upstream_cert only the SNI", async () => {
  // The user origin's certificate names user.test: a client asking for alias.test (which it also names) gets the user's.
  const proxy = await startProxy(["--set", `certs=user.test=${user.pemFile}`]);
  const bySni = await startProxy(["--set", `certs=user.test=${user.pemFile}`, "--set", "upstream_cert=false"]);
  try {
    assert.is((await served(proxy.port, userOrigin, "alias.test", pki.rootPem)).fingerprint, user.fingerprint);
    const minted = await served(bySni.port, userOrigin, "alias.test", proxyCaPem(bySni.confdir));
    assert.ok(minted.authorized, minted.authorizationError);
    assert.is((await served(bySni.port, userOrigin, "user.test", pki.rootPem)).fingerprint, user.fingerprint);
  } finally {
    await Promise.all([proxy.stop(), bySni.stop()]);
  }
});

test("certs without a domain serve every name; a later spec for a name wins over it", async () => {
  const proxy = await startProxy(["--set", `certs=${all.pemFile}`, "--set", `certs=user.test=${user.pemFile}`]);
  try {
    assert.is((await served(proxy.port, otherOrigin, "other.test", pki.rootPem)).fingerprint, all.fingerprint);
    assert.is((await served(proxy.port, wildOrigin, "a.wild.test", pki.rootPem)).fingerprint, all.fingerprint);
    assert.is((await served(proxy.port, userOrigin, "user.test", pki.rootPem)).fingerprint, user.fingerprint);
  } finally {
    await proxy.stop();
  }
});

test("certs with an encrypted key: served with cert_passphrase, refused in one line without it or with a wrong one", async () => {
  const locked = await pki.issue({
    cn: "locked.test",
    dns: ["locked.test"],
    purpose: "server",
    passphrase: "open sesame",
  });
  assert.match(readFileSync(locked.pemFile, "utf8"), /ENCRYPTED PRIVATE KEY/);
  const confdir = tempDir();
  try {
    const missing = await runCli(cli(confdir, ["--set", `certs=locked.test=${locked.pemFile}`]));
    assert.is(missing.code, 2);
    assert.is(
      missing.stderr,
      `interloper: invalid value for certs: the private key in '${locked.pemFile}' is encrypted: give its passphrase with cert_passphrase\n`,
    );
    const wrong = await runCli(
      cli(confdir, ["--set", `certs=locked.test=${locked.pemFile}`, "--set", "cert_passphrase=nope"]),
    );
    assert.is(wrong.code, 2);
    assert.match(
      wrong.stderr,
      /^interloper: invalid value for certs: the private key in '.*' cannot be decrypted with cert_passphrase \(.*\)\n$/,
    );

    const proxy = await startProxy([
      "--set",
      `certs=locked.test=${locked.pemFile}`,
      "--set",
      "cert_passphrase=open sesame",
    ]);
    try {
      assert.is((await served(proxy.port, otherOrigin, "locked.test", pki.rootPem)).fingerprint, locked.fingerprint);
    } finally {
      await proxy.stop();
    }
  } finally {
    removeDir(confdir);
  }
});

/** The CLI's arguments for a start-up check: a throw-away confdir, loopback, any port. */
function cli(confdir: string, args: string[]): string[] {
  return ["-p", "0", "--listen-host", "127.0.0.1", "--set", `confdir=${confdir}`, ...args];
}

test("bad certs values are refused at start-up with one line naming the option, exit 2", async () => {
  const confdir = tempDir();
  const dir = tempDir();
  const certOnly = join(dir, "cert-only.pem");
  writeFileSync(certOnly, user.certPem);
  const garbage = join(dir, "garbage.pem");
  writeFileSync(garbage, "not a certificate\n");
  const otherKey = join(dir, "other-key.pem");
  writeFileSync(otherKey, user.certPem + wild.keyPem);
  const missing = join(dir, "missing.pem");
  try {
    const cases: Array<[string, string]> = [
      [`user.test=${missing}`, `invalid value for certs: '${missing}' does not exist`],
      [
        certOnly,
        `invalid value for certs: '${certOnly}' holds no private key (the PEM must hold the certificate chain and its key)`,
      ],
      [garbage, `invalid value for certs: '${garbage}' holds no PEM certificate`],
      [otherKey, `invalid value for certs: the private key in '${otherKey}' does not belong to its first certificate`],
      [`=${user.pemFile}`, `invalid value for certs: "=${user.pemFile}" (the domain before '=' is empty)`],
      ["user.test=", `invalid value for certs: "user.test=" (no file is given)`],
      [dir, `invalid value for certs: '${dir}' is a folder, not a PEM file`],
    ];
    for (const [spec, message] of cases) {
      const r = await runCli(cli(confdir, ["--set", `certs=${spec}`]));
      assert.is(r.code, 2, `${spec}: ${r.stderr}`);
      assert.is(r.stderr, `interloper: ${message}\n`);
    }
  } finally {
    removeDir(confdir);
    removeDir(dir);
  }
});

test("certs change live; a refused change keeps the certificates in force", async () => {
  const proxy = await startInProcess([], { certs: [`user.test=${user.pemFile}`] });
  try {
    assert.is((await served(proxy.port, userOrigin, "user.test", pki.rootPem)).fingerprint, user.fingerprint);
    await proxy.proxy.host.setOptions({ certs: [`user.test=${all.pemFile}`] });
    assert.is((await served(proxy.port, userOrigin, "user.test", pki.rootPem)).fingerprint, all.fingerprint);
    let refusal = "";
    await proxy.proxy.host.setOptions({ certs: ["user.test=/no/such/file.pem"] }).catch((e: Error) => {
      refusal = e.message;
    });
    assert.is(refusal, "invalid value for certs: '/no/such/file.pem' does not exist");
    assert.equal(proxy.proxy.host.options.get("certs"), [`user.test=${all.pemFile}`]);
    assert.is((await served(proxy.port, userOrigin, "user.test", pki.rootPem)).fingerprint, all.fingerprint);
  } finally {
    await proxy.stop();
  }
});

// ---- client_certs -------------------------------------------------------------------------------

/** A TLS origin that requires a client certificate from `clientPki` and answers with its subject's CN. */
async function mutualTlsOrigin(clientPki: TestPki): Promise<{ port: number; close(): Promise<void> }> {
  const ca = await originCa();
  const server = https.createServer(
    {
      key: ca.keyPem,
      cert: ca.certFor(["localhost", "127.0.0.1"]),
      requestCert: true,
      rejectUnauthorized: true,
      ca: clientPki.rootPem,
    },
    (req, res) => {
      const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
      res.end(`client CN=${peer.subject.CN}`);
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

function curlVia(proxy: { port: number; confdir: string }, url: string) {
  return curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    join(proxy.confdir, "interloper-ca-cert.pem"),
    "-w",
    "\n%{http_code}",
    url,
  ]);
}

test("client_certs: without it a server that requires a client certificate refuses (502 saying why); with a file it sees the certificate's subject", async () => {
  const clientPki = await makePki("interloper test client CA");
  const alice = await pki.issue({ cn: "unused", purpose: "client" }); // from another CA: refused by the origin
  const bob = await clientPki.issue({ cn: "client-bob", purpose: "client" });
  const origin = await mutualTlsOrigin(clientPki);
  const none = await startProxy();
  const file = await startProxy(["--set", `client_certs=${bob.pemFile}`]);
  const foreign = await startProxy(["--set", `client_certs=${alice.pemFile}`]);
  try {
    const url = `https://127.0.0.1:${origin.port}/`;
    const refused = await curlVia(none, url);
    assert.match(refused.stdout.toString(), /\n502$/);
    // TLS 1.3: the origin's alert comes after the handshake, with the first request; the 502 names it.
    assert.match(refused.stdout.toString(), /^tlsv13 alert certificate required \(SSL alert number 116\)\n/);
    await none.waitForOutput(/<< tlsv13 alert certificate required/);

    const ok = await curlVia(file, url);
    assert.is(ok.stdout.toString(), "client CN=client-bob\n200");

    // Node's origin closes without an alert when it cannot verify the certificate: a 502, not a hang.
    const wrongCa = await curlVia(foreign, url);
    assert.match(wrongCa.stdout.toString(), /\n502$/);
  } finally {
    await Promise.all([none.stop(), file.stop(), foreign.stop(), origin.close()]);
  }
});

test("client_certs: a folder of HOST.pem files, chosen by the server's name (SNI, else its address)", async () => {
  const clientPki = await makePki("interloper test client CA");
  const carol = await clientPki.issue({ cn: "client-carol", purpose: "client" });
  const dave = await clientPki.issue({ cn: "client-dave", purpose: "client" });
  const origin = await mutualTlsOrigin(clientPki);
  const folder = tempDir();
  copyFileSync(carol.pemFile, join(folder, "localhost.pem"));
  const proxy = await startProxy(["--set", `client_certs=${folder}`]);
  try {
    const byName = await curlVia(proxy, `https://localhost:${origin.port}/`);
    assert.is(byName.stdout.toString(), "client CN=client-carol\n200");
    // No 127.0.0.1.pem in the folder: no certificate is presented, and the origin refuses.
    const noFile = await curlVia(proxy, `https://127.0.0.1:${origin.port}/`);
    assert.match(noFile.stdout.toString(), /\n502$/);
    // A file added later is found (the folder is looked in for each new server connection).
    copyFileSync(dave.pemFile, join(folder, "127.0.0.1.pem"));
    const added = await curlVia(proxy, `https://127.0.0.1:${origin.port}/`);
    assert.is(added.stdout.toString(), "client CN=client-dave\n200");
    // An unusable file in the folder fails that server's handshake with a line saying why.
    writeFileSync(join(folder, "localhost.pem"), carol.certPem);
    const other = await startProxy(["--set", `client_certs=${folder}`]);
    try {
      const broken = await curlVia(other, `https://localhost:${origin.port}/`);
      assert.match(broken.stdout.toString(), /holds no private key[\s\S]*\n502$/);
      await other.waitForOutput(
        /server TLS handshake failed: client certificate '.*localhost\.pem' holds no private key/,
      );
    } finally {
      await other.stop();
    }
  } finally {
    await Promise.all([proxy.stop(), origin.close()]);
    removeDir(folder);
  }
});

test("bad client_certs values are refused at start-up with one line, exit 2", async () => {
  const confdir = tempDir();
  const dir = tempDir();
  const certOnly = join(dir, "cert-only.pem");
  writeFileSync(certOnly, user.certPem);
  try {
    const missing = await runCli(cli(confdir, ["--set", `client_certs=${join(dir, "nope")}`]));
    assert.is(missing.code, 2);
    assert.is(
      missing.stderr,
      `interloper: invalid value for client_certs: '${join(dir, "nope")}' (no such file or folder)\n`,
    );
    const keyless = await runCli(cli(confdir, ["--set", `client_certs=${certOnly}`]));
    assert.is(keyless.code, 2);
    assert.is(
      keyless.stderr,
      `interloper: invalid value for client_certs: '${certOnly}' holds no private key (the PEM must hold the certificate chain and its key)\n`,
    );
  } finally {
    removeDir(confdir);
    removeDir(dir);
  }
});

// ---- the CA: key_size and a mitmproxy CA ---------------------------------------------------------

function caKeyBits(confdir: string): number | undefined {
  const cert = new X509Certificate(readFileSync(join(confdir, "interloper-ca-cert.pem")));
  return cert.publicKey.asymmetricKeyDetails?.modulusLength;
}

test("key_size: a CA made now has that many bits (2048 by default); an existing CA is kept as it is", async () => {
  const made = tempDir();
  const byDefault = tempDir();
  try {
    const proxy = await startProxy(["--set", "key_size=3072"], { confdir: made });
    await proxy.stop();
    assert.is(caKeyBits(made), 3072);
    const before = readFileSync(join(made, "interloper-ca.pem"), "utf8");
    const again = await startProxy(["--set", "key_size=4096"], { confdir: made });
    await again.stop();
    assert.is(readFileSync(join(made, "interloper-ca.pem"), "utf8"), before);

    const plain = await startProxy([], { confdir: byDefault });
    await plain.stop();
    assert.is(caKeyBits(byDefault), 2048);

    for (const bad of ["512", "1000.5", "99999"]) {
      const r = await runCli(cli(tempDir(), ["--set", `key_size=${bad}`]));
      assert.is(r.code, 2, bad);
      assert.match(
        r.stderr,
        /^interloper: invalid value for key_size: .* \(expected RSA key bits from 1024 to 16384, e\.g\. 2048\)\n$/,
      );
    }
  } finally {
    removeDir(made);
    removeDir(byDefault);
  }
});

test("the flags: --certs (repeatable), --cert-passphrase and --key-size", async () => {
  const locked = await pki.issue({ cn: "flag.test", dns: ["flag.test"], purpose: "server", passphrase: "pw" });
  const confdir = tempDir();
  try {
    const proxy = await startProxy(
      ["--certs", `flag.test=${locked.pemFile}`, "--certs", `user.test=${user.pemFile}`].concat([
        "--cert-passphrase",
        "pw",
        "--key-size",
        "3072",
      ]),
      { confdir },
    );
    try {
      assert.is((await served(proxy.port, otherOrigin, "flag.test", pki.rootPem)).fingerprint, locked.fingerprint);
      assert.is((await served(proxy.port, userOrigin, "user.test", pki.rootPem)).fingerprint, user.fingerprint);
    } finally {
      await proxy.stop();
    }
    assert.is(caKeyBits(confdir), 3072);
    const bad = await runCli(cli(tempDir(), ["--key-size", "big"]));
    assert.is(bad.code, 2);
    assert.is(bad.stderr, "interloper: invalid --key-size 'big': expected a number of bits\n");
  } finally {
    removeDir(confdir);
  }
});

test("a confdir holding mitmproxy's CA (made by the real mitmdump) and no interloper CA: it is used, and said so once at start-up", async () => {
  const confdir = tempDir();
  try {
    // mitmdump writes its CA into the confdir when it starts.
    const mitm = await startMitmdump(["--set", `confdir=${confdir}`]);
    await mitm.stop();
    assert.ok(existsSync(join(confdir, "mitmproxy-ca.pem")), "mitmdump made no CA");
    const mitmCert = new X509Certificate(readFileSync(join(confdir, "mitmproxy-ca-cert.pem")));

    const origin = await startOrigin((_req, res) => res.end("through"), { tls: true });
    const proxy = await startProxy([], { confdir });
    try {
      const notice = await proxy.waitForOutput(
        /using the mitmproxy CA in (.*) \(there is no interloper-ca\.pem\): devices that trust it keep working/,
      );
      assert.is(notice[1], join(confdir, "mitmproxy-ca.pem"));
      assert.is(proxy.stdout().match(/using the mitmproxy CA/g)?.length, 1);
      // A client that trusts only mitmproxy's CA file trusts the proxy's certificates.
      const r = await curl([
        "-x",
        `http://127.0.0.1:${proxy.port}`,
        "--cacert",
        join(confdir, "mitmproxy-ca-cert.pem"),
        `https://127.0.0.1:${origin.port}/`,
      ]);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stdout.toString(), "through");
    } finally {
      await Promise.all([proxy.stop(), origin.close()]);
    }
    // The key stays in mitmproxy's file alone; the files devices install hold the same CA.
    assert.not.ok(existsSync(join(confdir, "interloper-ca.pem")));
    const published = new X509Certificate(readFileSync(join(confdir, "interloper-ca-cert.pem")));
    assert.is(published.fingerprint256, mitmCert.fingerprint256);
  } finally {
    removeDir(confdir);
  }
});

test("an interloper CA beside a mitmproxy CA wins, without a word about mitmproxy's", async () => {
  const confdir = tempDir();
  try {
    const made = await startProxy([], { confdir });
    await made.stop();
    const ours = new X509Certificate(readFileSync(join(confdir, "interloper-ca-cert.pem"))).fingerprint256;
    const mitm = await startMitmdump(["--set", `confdir=${confdir}`]);
    await mitm.stop();
    assert.ok(existsSync(join(confdir, "mitmproxy-ca.pem")));
    const proxy = await startProxy([], { confdir });
    await proxy.stop();
    assert.not.match(proxy.stdout(), /mitmproxy CA/);
    assert.is(new X509Certificate(readFileSync(join(confdir, "interloper-ca-cert.pem"))).fingerprint256, ours);
  } finally {
    removeDir(confdir);
  }
});

test.run();
