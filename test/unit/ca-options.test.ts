// What the TLS options change in the CA (core/tls/ca.ts): key_size for a CA
// made now, cert_passphrase for an encrypted CA key, a mitmproxy CA taken over
// when there is no interloper CA, and the client handshake's versions. (The
// real mitmdump's CA is taken over in test/e2e/certs.test.ts.)
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CA_FILES, CaError, CertificateAuthority, MITMPROXY_CA_FILE } from "../../core/tls/ca.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "interloper-ca-options-"));
  dirs.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function keyBits(ca: CertificateAuthority): number | undefined {
  return new crypto.X509Certificate(ca.caCertPem).publicKey.asymmetricKeyDetails?.modulusLength;
}

/** A CA file as mitmproxy writes it (PKCS#1 key, then the certificate), made by a CA of ours elsewhere. */
async function mitmproxyStyleCa(): Promise<{ text: string; fingerprint: string }> {
  const source = path.join(tempDir(), "source");
  await CertificateAuthority.load(source, { keySize: 1024 });
  const text = fs.readFileSync(path.join(source, CA_FILES.key), "latin1");
  assert.match(text, /^-----BEGIN RSA PRIVATE KEY-----/);
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text)![0];
  return { text, fingerprint: new crypto.X509Certificate(cert).fingerprint256 };
}

test("key_size: a CA made now has an RSA key of that size; 2048 without it", async () => {
  assert.is(keyBits(await CertificateAuthority.load(path.join(tempDir(), "c"), { keySize: 1024 })), 1024);
  assert.is(keyBits(await CertificateAuthority.load(path.join(tempDir(), "c"))), 2048);
});

test("key_size does not remake an existing CA", async () => {
  const dir = path.join(tempDir(), "c");
  const first = await CertificateAuthority.load(dir, { keySize: 1024 });
  const again = await CertificateAuthority.load(dir, { keySize: 3072 });
  assert.is(again.caCertPem, first.caCertPem);
  assert.is(keyBits(again), 1024);
});

test("a mitmproxy CA and no interloper CA: it is used where it is, with a notice, and published for devices", async () => {
  const mitm = await mitmproxyStyleCa();
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, MITMPROXY_CA_FILE), mitm.text, { mode: 0o600 });
  const ca = await CertificateAuthority.load(dir);
  assert.is(new crypto.X509Certificate(ca.caCertPem).fingerprint256, mitm.fingerprint);
  assert.equal(ca.notices, [
    `using the mitmproxy CA in ${path.join(dir, MITMPROXY_CA_FILE)} (there is no interloper-ca.pem): devices that trust it keep working`,
  ]);
  assert.equal(ca.warnings, []);
  assert.not.ok(fs.existsSync(path.join(dir, CA_FILES.key)), "the key was copied");
  const published = fs.readFileSync(path.join(dir, CA_FILES.certPem), "latin1");
  assert.is(new crypto.X509Certificate(published).fingerprint256, mitm.fingerprint);
  // Leaves are signed by it.
  const leaf = new crypto.X509Certificate(ca.leafCertPem(["x.test"]));
  assert.ok(leaf.verify(new crypto.X509Certificate(ca.caCertPem).publicKey));
});

test("an interloper CA beside a mitmproxy CA is used, and nothing is said", async () => {
  const mitm = await mitmproxyStyleCa();
  const dir = path.join(tempDir(), "c");
  const ours = await CertificateAuthority.load(dir);
  fs.writeFileSync(path.join(dir, MITMPROXY_CA_FILE), mitm.text, { mode: 0o600 });
  const again = await CertificateAuthority.load(dir);
  assert.is(again.caCertPem, ours.caCertPem);
  assert.equal(again.notices, []);
});

test("a broken mitmproxy CA is reported by its file name, never replaced", async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, MITMPROXY_CA_FILE), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n", { mode: 0o600 });
  await CertificateAuthority.load(dir).then(
    () => assert.unreachable("loaded"),
    (e: Error) => {
      assert.instance(e, CaError);
      assert.match(e.message, new RegExp(`^Cannot use the CA in ${path.join(dir, MITMPROXY_CA_FILE)}: `));
    },
  );
  assert.not.ok(fs.existsSync(path.join(dir, CA_FILES.key)));
});

test("an encrypted CA key opens with cert_passphrase; without it or with a wrong one the CA is refused in one line", async () => {
  const source = path.join(tempDir(), "source");
  await CertificateAuthority.load(source, { keySize: 1024 });
  const text = fs.readFileSync(path.join(source, CA_FILES.key), "latin1");
  const keyPem = /-----BEGIN RSA PRIVATE KEY-----[\s\S]*?-----END RSA PRIVATE KEY-----\n/.exec(text)![0];
  const encrypted = crypto
    .createPrivateKey(keyPem)
    .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string;
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, CA_FILES.key), text.replace(keyPem, encrypted), { mode: 0o600 });

  const refusal = (passphrase?: string) =>
    CertificateAuthority.load(dir, { passphrase }).then(
      () => "",
      (e: Error) => e.message,
    );
  assert.match(
    await refusal(),
    /: the private key is encrypted; give its passphrase with cert_passphrase\. Fix the file/,
  );
  assert.match(
    await refusal("wrong"),
    /: the private key cannot be decrypted with cert_passphrase \(.*\)\. Fix the file/,
  );
  const ca = await CertificateAuthority.load(dir, { passphrase: "pw" });
  assert.ok(ca.caCertPem.includes("BEGIN CERTIFICATE"));
  assert.is(await refusal("pw"), "");
});

/** The version a client negotiates with a server using `ca`'s context for localhost (as intercept.ts uses it). */
async function negotiated(ca: CertificateAuthority, client: tls.ConnectionOptions): Promise<string> {
  const server = net.createServer((socket) => {
    const t = new tls.TLSSocket(socket, { isServer: true, secureContext: ca.secureContext(["localhost"]) });
    t.on("error", () => socket.destroy());
    t.once("secure", () => t.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    return await new Promise<string>((resolve) => {
      const s = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: ca.caCertPem, ...client });
      s.once("secureConnect", () => {
        resolve(s.getProtocol() ?? "?");
        s.destroy();
      });
      s.once("error", (e: Error) => resolve(`error: ${e.message}`));
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test("setContextOptions: the client handshakes' versions, also for certificates already cached", async () => {
  const ca = await CertificateAuthority.load(path.join(tempDir(), "c"), { keySize: 1024 });
  assert.is(await negotiated(ca, {}), "TLSv1.3");
  ca.setContextOptions({ minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
  assert.is(await negotiated(ca, {}), "TLSv1.2");
  ca.setContextOptions({ minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
  assert.match(await negotiated(ca, { maxVersion: "TLSv1.2" }), /^error: .*protocol version/);
  ca.setContextOptions({});
  assert.is(await negotiated(ca, {}), "TLSv1.3");
});

test.run();
