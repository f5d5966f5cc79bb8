// Reading the PEM files of certs and client_certs (core/tls/cert-file.ts):
// chain order, key forms, encrypted keys with and without the passphrase, and
// every way a file can be unusable, each said in one line.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CertificateAuthority } from "../../core/tls/ca.ts";
import { certificateNames, CertFileError, parseCertPem, readCertFile } from "../../core/tls/cert-file.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "interloper-cert-file-"));
  dirs.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

let caPromise: Promise<CertificateAuthority> | undefined;
const ca = () => (caPromise ??= CertificateAuthority.load(path.join(tempDir(), "conf")));

function refused(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof CertFileError && expected.test(e.message) && !/\n/.test(e.message));
}

test("leaf, chain and key in one file: the leaf first, the key decrypted to PKCS#8, the leaf's names", async () => {
  const authority = await ca();
  const leaf = authority.leafCertPem(["user.test", "*.user.test", "127.0.0.1"]);
  const file = parseCertPem(leaf + authority.caCertPem + authority.leafKeyPem, "x.pem");
  assert.is(file.chainPem.length, 2);
  assert.is(file.leaf.fingerprint256, new crypto.X509Certificate(leaf).fingerprint256);
  assert.is(
    new crypto.X509Certificate(file.chainPem[1]!).fingerprint256,
    new crypto.X509Certificate(authority.caCertPem).fingerprint256,
  );
  assert.match(file.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(file.names, ["user.test", "user.test", "*.user.test", "127.0.0.1"]);
});

test("the key may come first, in SEC1 or PKCS#8 form, between text and blank lines", async () => {
  const authority = await ca();
  const leaf = authority.leafCertPem(["k.test"]);
  const key = crypto.createPrivateKey(authority.leafKeyPem);
  const sec1 = key.export({ type: "sec1", format: "pem" }) as string;
  for (const text of [
    sec1 + leaf,
    `Bag Attributes\n    friendlyName: k\n${authority.leafKeyPem}\n\n${leaf}\n`,
    leaf.replace(/\n/g, "\r\n") + authority.leafKeyPem.replace(/\n/g, "\r\n"),
  ]) {
    assert.equal(parseCertPem(text, "k.pem").names, ["k.test", "k.test"]);
  }
});

test("an encrypted key: needs cert_passphrase, refuses a wrong one, opens with the right one (PKCS#8 and legacy PEM)", async () => {
  const authority = await ca();
  const leaf = authority.leafCertPem(["enc.test"]);
  const key = crypto.createPrivateKey(authority.leafKeyPem);
  const forms = [
    key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }) as string,
    key.export({ type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }) as string,
  ];
  assert.match(forms[0]!, /ENCRYPTED PRIVATE KEY/);
  assert.match(forms[1]!, /Proc-Type: 4,ENCRYPTED/);
  for (const encrypted of forms) {
    refused(
      () => parseCertPem(leaf + encrypted, "e.pem"),
      /^the private key in 'e\.pem' is encrypted: give its passphrase with cert_passphrase$/,
    );
    refused(
      () => parseCertPem(leaf + encrypted, "e.pem", "wrong"),
      /^the private key in 'e\.pem' cannot be decrypted with cert_passphrase \(/,
    );
    assert.equal(parseCertPem(leaf + encrypted, "e.pem", "s3cret").names, ["enc.test", "enc.test"]);
  }
  // A passphrase given for an unencrypted key is not needed, and does no harm (mitmproxy falls back the same way).
  assert.equal(parseCertPem(leaf + authority.leafKeyPem, "p.pem", "unused").names, ["enc.test", "enc.test"]);
});

test("unusable files are refused, each in one line saying why", async () => {
  const authority = await ca();
  const leaf = authority.leafCertPem(["bad.test"]);
  const otherKey = crypto
    .generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    .privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  refused(() => parseCertPem("", "f.pem"), /^'f\.pem' holds no PEM certificate$/);
  refused(() => parseCertPem("hello\n", "f.pem"), /holds no PEM certificate/);
  refused(() => parseCertPem(authority.leafKeyPem, "f.pem"), /holds no PEM certificate/);
  refused(
    () => parseCertPem(leaf, "f.pem"),
    /^'f\.pem' holds no private key \(the PEM must hold the certificate chain and its key\)$/,
  );
  refused(() => parseCertPem(leaf + authority.leafKeyPem + otherKey, "f.pem"), /holds more than one private key/);
  refused(
    () => parseCertPem(leaf + otherKey, "f.pem"),
    /^the private key in 'f\.pem' does not belong to its first certificate$/,
  );
  // The leaf must come first: a chain in the wrong order names the key as not its.
  refused(
    () => parseCertPem(authority.caCertPem + leaf + authority.leafKeyPem, "f.pem"),
    /does not belong to its first certificate/,
  );
  // Truncated and damaged blocks.
  refused(() => parseCertPem(leaf.slice(0, 200) + authority.leafKeyPem, "f.pem"), /holds no PEM certificate/);
  const damaged = leaf.replace(/\n([A-Za-z0-9+/]{10})/, "\n!!!!!!!!!!");
  refused(() => parseCertPem(damaged + authority.leafKeyPem, "f.pem"), /^certificate 1 in 'f\.pem' is unreadable \(/);
  const badKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  refused(() => parseCertPem(leaf + badKey, "f.pem"), /^the private key in 'f\.pem' is unreadable \(/);
  // Binary garbage.
  refused(() => parseCertPem(crypto.randomBytes(4096).toString("latin1"), "f.pem"), /holds no PEM certificate/);
});

test("readCertFile: a missing file, a folder, an unreadable file", () => {
  const dir = tempDir();
  refused(() => readCertFile(path.join(dir, "nope.pem")), /^'.*nope\.pem' does not exist$/);
  refused(() => readCertFile(dir), /is a folder, not a PEM file$/);
  if (process.getuid?.() !== 0) {
    const locked = path.join(dir, "locked.pem");
    fs.writeFileSync(locked, "x", { mode: 0o000 });
    refused(() => readCertFile(locked), /^cannot read '.*locked\.pem' \(EACCES\)$/);
  }
});

test("certificateNames: the CN, then DNS and IP subjectAltNames in order; none for a certificate without them", async () => {
  const authority = await ca();
  const cert = new crypto.X509Certificate(authority.leafCertPem(["a.test", "::1", "b.test", "10.0.0.1"]));
  // As Node prints them (IPv6 in full): names are compared in one spelling later (cert-match.ts).
  assert.equal(certificateNames(cert), ["a.test", "a.test", "0:0:0:0:0:0:0:1", "b.test", "10.0.0.1"]);
  // The CA certificate has a CN and no SANs.
  assert.equal(certificateNames(new crypto.X509Certificate(authority.caCertPem)), ["interloper"]);
});

test.run();
