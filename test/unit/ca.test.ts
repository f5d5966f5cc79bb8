import { execFile, execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import forge from "node-forge";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CA_FILES, CaError, CertificateAuthority } from "../../core/tls/ca.ts";
import {
  distinguishedName,
  ext,
  fromDerExact,
  KeyUsage,
  pem as toPem,
  randomSerial,
  signCertificate,
} from "../../core/tls/x509.ts";

const execFileAsync = promisify(execFile);
const DAY = 24 * 60 * 60 * 1000;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "interloper-ca-test-"));
  tempDirs.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// One CA shared by the tests that only issue leaves (a CA costs an RSA key generation).
let shared: CertificateAuthority | undefined;
async function sharedCa(): Promise<CertificateAuthority> {
  shared ??= await CertificateAuthority.load(path.join(tempDir(), "conf"));
  return shared;
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function expectCaError(promise: Promise<unknown>, pattern: RegExp): Promise<CaError> {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, CaError);
    const err = e as CaError;
    assert.not.match(err.message, /\n/, "the message is one line");
    assert.match(err.message, pattern, err.message);
    return err;
  }
  assert.unreachable("expected a CaError");
  throw new Error("unreachable");
}

test("first load creates the confdir and the four CA files with private modes", async () => {
  const confdir = path.join(tempDir(), "nested", "conf");
  const ca = await CertificateAuthority.load(confdir);
  assert.is(ca.confdir, confdir);
  assert.is(mode(confdir), 0o700);
  assert.equal(fs.readdirSync(confdir).sort(), Object.values(CA_FILES).sort(), "no temp files left behind");
  const keyFile = path.join(confdir, CA_FILES.key);
  assert.is(mode(keyFile), 0o600);

  // interloper-ca.pem holds a key that belongs to the certificate
  const keyText = fs.readFileSync(keyFile, "utf8");
  const key = crypto.createPrivateKey(keyText);
  const fromKeyFile = new crypto.X509Certificate(keyText);
  assert.ok(fromKeyFile.checkPrivateKey(key));
  assert.is(key.asymmetricKeyType, "rsa");
  assert.is(key.asymmetricKeyDetails?.modulusLength, 2048);

  const cert = new crypto.X509Certificate(ca.caCertPem);
  assert.is(cert.fingerprint256, fromKeyFile.fingerprint256);
  assert.ok(cert.ca);
  assert.match(cert.subject, /^CN=interloper$/m);
  assert.match(cert.subject, /^O=interloper$/m);
  assert.match(cert.issuer, /^CN=interloper$/m);
  assert.ok(cert.verify(cert.publicKey), "self-signed");
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  assert.ok(Math.abs(from - (Date.now() - 2 * DAY)) < 60_000, `validFrom ${cert.validFrom}`);
  assert.ok(to - from > 3650 * DAY && to - from <= 3656 * DAY, `validTo ${cert.validTo}`);

  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.certPem), "utf8"), ca.caCertPem);
  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.certCer), "utf8"), ca.caCertPem);
  assert.not.match(ca.caCertPem, /PRIVATE KEY/);

  const text = openssl("x509", "-noout", "-text", "-in", path.join(confdir, CA_FILES.certPem));
  assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
  assert.match(text, /Public-Key: \(2048 bit\)/);
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(text, /Subject Key Identifier/);
  openssl("x509", "-noout", "-text", "-in", keyFile);
  openssl("x509", "-noout", "-text", "-in", path.join(confdir, CA_FILES.certCer));

  const p12File = path.join(confdir, CA_FILES.certP12);
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(fs.readFileSync(p12File).toString("latin1")), "");
  const bags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  assert.is(bags.length, 1);
  const p12Der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(bags[0]!.cert!)).getBytes(), "latin1");
  assert.ok(p12Der.equals(cert.raw), "the .p12 holds the CA certificate");
  for (const keyBag of [forge.pki.oids.keyBag!, forge.pki.oids.pkcs8ShroudedKeyBag!]) {
    assert.is(p12.getBags({ bagType: keyBag })[keyBag]?.length ?? 0, 0, "no key in the .p12");
  }
  const info = openssl("pkcs12", "-info", "-nokeys", "-passin", "pass:", "-in", p12File);
  assert.match(info, /subject=O = interloper, CN = interloper/);
});

test("a second load reuses the CA and recreates missing or stale derived files", async () => {
  const confdir = path.join(tempDir(), "conf");
  const first = await CertificateAuthority.load(confdir);
  const keyFile = path.join(confdir, CA_FILES.key);
  const keyBytes = fs.readFileSync(keyFile);

  const second = await CertificateAuthority.load(confdir);
  assert.is(second.caCertPem, first.caCertPem);
  assert.ok(fs.readFileSync(keyFile).equals(keyBytes));

  for (const name of [CA_FILES.certPem, CA_FILES.certCer, CA_FILES.certP12]) fs.rmSync(path.join(confdir, name));
  const third = await CertificateAuthority.load(confdir);
  assert.is(third.caCertPem, first.caCertPem);
  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.certPem), "utf8"), first.caCertPem);
  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.certCer), "utf8"), first.caCertPem);
  openssl("pkcs12", "-info", "-nokeys", "-passin", "pass:", "-in", path.join(confdir, CA_FILES.certP12));

  // A cert file of some other CA (interloper-ca.pem was swapped) is replaced, .p12 included.
  const other = await CertificateAuthority.load(path.join(tempDir(), "other"));
  fs.writeFileSync(path.join(confdir, CA_FILES.certPem), other.caCertPem);
  fs.copyFileSync(path.join(other.confdir, CA_FILES.certP12), path.join(confdir, CA_FILES.certP12));
  await CertificateAuthority.load(confdir);
  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.certPem), "utf8"), first.caCertPem);
  const info = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", path.join(confdir, CA_FILES.certPem));
  const p12Info = openssl("pkcs12", "-nokeys", "-passin", "pass:", "-in", path.join(confdir, CA_FILES.certP12));
  const p12Fingerprint = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], {
    input: p12Info,
    encoding: "utf8",
  });
  assert.is(p12Fingerprint, info);
  assert.ok(fs.readFileSync(keyFile).equals(keyBytes));
});

test("concurrent first loads of one confdir end up with one CA", async () => {
  const confdir = path.join(tempDir(), "conf");
  const loads = await Promise.all([1, 2, 3].map(() => CertificateAuthority.load(confdir)));
  assert.is(loads[1]!.caCertPem, loads[0]!.caCertPem);
  assert.is(loads[2]!.caCertPem, loads[0]!.caCertPem);
  const onDisk = new crypto.X509Certificate(fs.readFileSync(path.join(confdir, CA_FILES.key)));
  assert.is(onDisk.fingerprint256, new crypto.X509Certificate(loads[0]!.caCertPem).fingerprint256);
  assert.equal(fs.readdirSync(confdir).sort(), Object.values(CA_FILES).sort());
});

test("an unusable interloper-ca.pem is a one-line CaError and is left unchanged", async () => {
  const good = await CertificateAuthority.load(path.join(tempDir(), "good"));
  const goodText = fs.readFileSync(path.join(good.confdir, CA_FILES.key), "utf8");
  const goodKey = goodText.slice(0, goodText.indexOf("-----BEGIN CERTIFICATE-----"));
  const other = await CertificateAuthority.load(path.join(tempDir(), "other"));
  const otherText = fs.readFileSync(path.join(other.confdir, CA_FILES.key), "utf8");
  const otherKey = otherText.slice(0, otherText.indexOf("-----BEGIN CERTIFICATE-----"));
  const certLines = good.caCertPem.split("\n");
  certLines[1] = "A".repeat(certLines[1]!.length); // still base64, no longer a certificate
  const keyLines = goodKey.split("\n");
  const damagedKey = [keyLines[0], "A".repeat(keyLines[1]!.length), ...keyLines.slice(2)].join("\n");
  keyLines[2] = "B".repeat(keyLines[2]!.length); // deep in the modulus: parses, but is another key

  const cases: [string, string | Buffer, RegExp][] = [
    ["garbage", crypto.randomBytes(700), /no complete PEM private key/],
    ["empty", "", /no complete PEM private key/],
    ["truncated in the key", goodText.slice(0, 900), /no complete PEM private key/],
    ["truncated in the certificate", goodText.slice(0, goodText.length - 200), /no complete PEM certificate/],
    ["a key without its certificate", goodKey, /no complete PEM certificate/],
    ["a damaged certificate", goodKey + certLines.join("\n"), /certificate is unreadable/],
    ["a damaged key", damagedKey + good.caCertPem, /private key is unreadable/],
    ["a key changed inside its modulus", keyLines.join("\n") + good.caCertPem, /private key does not match/],
    ["the key of another CA", otherKey + good.caCertPem, /private key does not match the certificate/],
    ["an EC key and a leaf", good.leafKeyPem + good.leafCertPem(["x.test"]), /not RSA/],
    ["two keys", goodKey + otherKey + good.caCertPem, /more than one private key/],
  ];
  for (const [label, content, problem] of cases) {
    const confdir = path.join(tempDir(), "conf");
    fs.mkdirSync(confdir, { mode: 0o700 });
    const keyFile = path.join(confdir, CA_FILES.key);
    fs.writeFileSync(keyFile, content, { mode: 0o600 });
    const before = fs.readFileSync(keyFile);
    const err = await expectCaError(CertificateAuthority.load(confdir), problem).catch((e: Error) => {
      throw new Error(`${label}: ${e.message}`);
    });
    assert.ok(err.message.includes(keyFile), `${label}: names the file: ${err.message}`);
    assert.ok(fs.readFileSync(keyFile).equals(before), `${label}: file unchanged`);
    assert.equal(fs.readdirSync(confdir), [CA_FILES.key], `${label}: nothing else written`);
  }
});

/** An RSA key and a self-signed certificate with the given validity and CA flag, as interloper-ca.pem text. */
function selfSigned(notBefore: Date, notAfter: Date, ca: boolean): string {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const name = distinguishedName({ commonName: "hand made" });
  const der = signCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      notBefore,
      notAfter,
      subjectPublicKeyInfo: fromDerExact(publicKey.export({ type: "spki", format: "der" })),
      extensions: [ext.basicConstraints(ca), ext.keyUsage([KeyUsage.digitalSignature, KeyUsage.keyCertSign])],
    },
    privateKey,
  );
  return (privateKey.export({ type: "pkcs1", format: "pem" }) as string) + toPem("CERTIFICATE", der);
}

test("an expired CA or a certificate that is no CA is refused, not replaced", async () => {
  const cases: [string, string, RegExp][] = [
    [
      "expired",
      selfSigned(new Date(Date.now() - 400 * DAY), new Date(Date.now() - DAY), true),
      /CA certificate expired on 20/,
    ],
    [
      "not a CA",
      selfSigned(new Date(Date.now() - DAY), new Date(Date.now() + 400 * DAY), false),
      /not a CA certificate/,
    ],
  ];
  for (const [label, content, problem] of cases) {
    const confdir = path.join(tempDir(), "conf");
    fs.mkdirSync(confdir);
    fs.writeFileSync(path.join(confdir, CA_FILES.key), content);
    const err = await expectCaError(CertificateAuthority.load(confdir), problem);
    assert.ok(err.message.includes(path.join(confdir, CA_FILES.key)), label);
    assert.is(fs.readFileSync(path.join(confdir, CA_FILES.key), "utf8"), content, label);
  }
});

test("a CA made elsewhere (openssl, PKCS#8 key) is used as it is, and its leaves verify", async () => {
  const dir = tempDir();
  const confdir = path.join(dir, "conf");
  fs.mkdirSync(confdir);
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "30",
      "-subj",
      "/C=US/O=Example Org/CN=Someone's CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ],
    { stdio: "ignore" },
  );
  // certificate first, key second: the order in the file does not matter
  const content = fs.readFileSync(certFile, "utf8") + fs.readFileSync(keyFile, "utf8");
  fs.writeFileSync(path.join(confdir, CA_FILES.key), content, { mode: 0o600 });

  const ca = await CertificateAuthority.load(confdir);
  assert.is(fs.readFileSync(path.join(confdir, CA_FILES.key), "utf8"), content);
  assert.is(ca.caCertPem.trim(), fs.readFileSync(certFile, "utf8").trim());
  const caCert = new crypto.X509Certificate(ca.caCertPem);
  const leafFile = path.join(dir, "leaf.pem");
  fs.writeFileSync(leafFile, ca.leafCertPem(["elsewhere.test"]));
  const leaf = new crypto.X509Certificate(fs.readFileSync(leafFile));
  assert.is(leaf.issuer, caCert.subject);
  assert.ok(Date.parse(leaf.validTo) <= Date.parse(caCert.validTo), "a leaf never outlives its CA");
  assert.ok(Date.parse(leaf.validFrom) >= Date.parse(caCert.validFrom), "nor predates it");
  const verify = ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", certFile];
  assert.match(openssl(...verify, "-verify_hostname", "elsewhere.test", leafFile), /OK/);
});

test("an unreadable interloper-ca.pem and a confdir that is a file are CaErrors", async () => {
  const confdir = path.join(tempDir(), "conf");
  fs.mkdirSync(path.join(confdir, CA_FILES.key), { recursive: true });
  await expectCaError(CertificateAuthority.load(confdir), /Cannot read the CA file .*interloper-ca\.pem: .*EISDIR/);
  assert.ok(fs.statSync(path.join(confdir, CA_FILES.key)).isDirectory());

  const file = path.join(tempDir(), "not-a-dir");
  fs.writeFileSync(file, "hello");
  const err = await expectCaError(CertificateAuthority.load(file), /is not a directory/);
  assert.ok(err.message.includes(file));
  assert.is(fs.readFileSync(file, "utf8"), "hello");
});

test("a leaf carries its names, verifies against the CA and is a TLS server certificate", async () => {
  const ca = await sharedCa();
  const names = ["Example.COM", "*.example.com", "127.0.0.1", "::1", "2001:DB8:0:0::42"];
  const pem = ca.leafCertPem(names);
  const leaf = new crypto.X509Certificate(pem);
  const caCert = new crypto.X509Certificate(ca.caCertPem);

  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(leaf.checkIssued(caCert));
  assert.not.ok(leaf.verify(crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey));
  assert.is(leaf.subject, "CN=example.com");
  assert.is(leaf.issuer, caCert.subject);
  assert.is(
    leaf.subjectAltName,
    "DNS:example.com, DNS:*.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, " +
      "IP Address:2001:DB8:0:0:0:0:0:42",
  );
  assert.is(leaf.checkHost("www.example.com"), "*.example.com");
  assert.is(leaf.checkIP("::1"), "::1");
  assert.is(leaf.checkIP("127.0.0.2"), undefined);
  assert.equal(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  assert.not.ok(leaf.ca);
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(ca.leafKeyPem)));
  assert.is(leaf.publicKey.asymmetricKeyType, "ec");
  assert.ok(/^[0-7]/.test(leaf.serialNumber) && leaf.serialNumber.length === 32, `serial ${leaf.serialNumber}`);

  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  assert.ok(Math.abs(from - (Date.now() - 2 * DAY)) < 60_000, `validFrom ${leaf.validFrom}`);
  assert.ok(Math.abs(to - (Date.now() + 365 * DAY)) < 60_000, `validTo ${leaf.validTo}`);
  assert.ok(to < Date.parse(caCert.validTo));

  const dir = tempDir();
  const leafFile = path.join(dir, "leaf.pem");
  fs.writeFileSync(leafFile, pem);
  const caFile = path.join(ca.confdir, CA_FILES.certPem);
  const verify = (...check: string[]) =>
    openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caFile, ...check, leafFile);
  assert.match(verify("-verify_hostname", "example.com"), /OK/);
  assert.match(verify("-verify_hostname", "api.example.com"), /OK/);
  assert.match(verify("-verify_ip", "::1"), /OK/);
  assert.match(verify("-verify_ip", "2001:db8::42"), /OK/);
  assert.throws(() => verify("-verify_hostname", "example.org"));
  const text = openssl("x509", "-noout", "-text", "-in", leafFile);
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature/);
  assert.match(text, /Extended Key Usage:\s+TLS Web Server Authentication/);
  assert.match(text, /Subject Key Identifier/);
  const caKeyId = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(openssl("x509", "-noout", "-text", "-in", caFile))![1];
  assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${caKeyId}`));
});

test("leaves are cached by name set, whatever the order and case", async () => {
  const ca = await sharedCa();
  const a = ca.leafCertPem(["cache.test", "www.cache.test", "10.0.0.1", "fe80::1"]);
  assert.is(ca.leafCertPem(["FE80:0::1", "10.0.0.1", "WWW.Cache.Test", "cache.test."]), a);
  assert.is(ca.leafCertPem(["www.cache.test", "cache.test", "www.cache.test", "10.0.0.1", "fe80::1"]), a);
  const context = ca.secureContext(["cache.test", "www.cache.test", "10.0.0.1", "fe80::1"]);
  assert.is(ca.secureContext(["fe80::1", "10.0.0.1", "www.cache.test", "CACHE.test"]), context);

  const b = ca.leafCertPem(["cache.test", "www.cache.test"]);
  const c = ca.leafCertPem(["other.test"]);
  assert.is.not(b, a);
  assert.is.not(c, b);
  const serials = [a, b, c].map((p) => new crypto.X509Certificate(p).serialNumber);
  assert.is(new Set(serials).size, 3);
  assert.is(ca.leafCertPem(["other.test"]), c);
});

test("the cache is bounded: the least recently used leaf is evicted", async () => {
  const ca = await CertificateAuthority.load((await sharedCa()).confdir, { cacheSize: 2 });
  const one = ca.leafCertPem(["one.test"]);
  const two = ca.leafCertPem(["two.test"]);
  assert.is(ca.leafCertPem(["one.test"]), one); // one is now the most recent
  ca.leafCertPem(["three.test"]); // evicts two
  assert.is(ca.leafCertPem(["one.test"]), one);
  assert.is.not(ca.leafCertPem(["two.test"]), two);
});

test("names longer than a common name allows are carried in full by the SAN", async () => {
  const ca = await sharedCa();
  const long = `${"a".repeat(60)}.${"b".repeat(60)}.example.test`;
  const leaf = new crypto.X509Certificate(ca.leafCertPem([long]));
  assert.is(leaf.subject, `CN=${long.slice(0, 64)}`);
  assert.is(leaf.subjectAltName, `DNS:${long}`);
  assert.is(leaf.checkHost(long), long);

  const idn = new crypto.X509Certificate(ca.leafCertPem(["bücher.example"]));
  assert.is(idn.subjectAltName, "DNS:xn--bcher-kva.example");
});

test("names no certificate can carry are left out; none left is a TypeError", async () => {
  const ca = await sharedCa();
  assert.throws(() => ca.leafCertPem([]), TypeError);
  assert.throws(() => ca.leafCertPem([""]), TypeError);
  assert.throws(() => ca.leafCertPem(["two words", "nul\0.test", " "]), TypeError);
  const leaf = new crypto.X509Certificate(ca.leafCertPem(["two words", "fine.test", "nul\0.test", "[::1]"]));
  assert.is(leaf.subject, "CN=fine.test");
  assert.is(leaf.subjectAltName, "DNS:fine.test, IP Address:0:0:0:0:0:0:0:1");
});

async function listen(server: tls.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

function handshake(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => resolve(socket));
    socket.once("error", reject);
  });
}

test("a real TLS handshake on loopback: SNI picks the leaf, the client trusts it through the CA", async () => {
  const ca = await sharedCa();
  const sni: string[] = [];
  const server = tls.createServer({
    SNICallback: (servername, cb) => {
      sni.push(servername);
      cb(null, ca.secureContext([servername]));
    },
  });
  server.on("secureConnection", (socket) => socket.end("hi"));
  server.on("tlsClientError", () => {});
  const port = await listen(server);
  try {
    const socket = await handshake({ host: "127.0.0.1", port, servername: "name.test", ca: ca.caCertPem });
    assert.ok(socket.authorized);
    const peer = socket.getPeerCertificate();
    assert.is(peer.issuer.CN, "interloper");
    assert.is(peer.subject.CN, "name.test");
    assert.is(peer.subjectaltname, "DNS:name.test");
    socket.destroy();
    assert.equal(sni, ["name.test"]);

    // Without the CA the same certificate is rejected: the test above can fail.
    const untrusted = await handshake({ host: "127.0.0.1", port, servername: "name.test", rejectUnauthorized: false });
    assert.not.ok(untrusted.authorized);
    assert.is(String(untrusted.authorizationError), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    untrusted.destroy();
  } finally {
    server.close();
  }
});

test("new hosts one after another: each handshake serves that host's own leaf, verified through the CA", async () => {
  const ca = await CertificateAuthority.load(tempDir());
  const server = tls.createServer({ SNICallback: (servername, cb) => cb(null, ca.secureContext([servername])) });
  server.on("secureConnection", (socket) => socket.end("hi"));
  server.on("tlsClientError", () => {});
  const port = await listen(server);
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const name = `reserve-${i}.test`;
      const socket = await handshake({ host: "127.0.0.1", port, servername: name, ca: ca.caCertPem });
      assert.ok(socket.authorized, `${name}: ${socket.authorizationError}`);
      const peer = socket.getPeerCertificate();
      assert.is(peer.subject.CN, name);
      assert.is(peer.subjectaltname, `DNS:${name}`);
      seen.add(peer.fingerprint256);
      socket.destroy();
    }
    assert.is(seen.size, 12, "twelve different certificates");
    // A cached leaf is the same context object; another host's is another.
    assert.is(ca.secureContext(["reserve-3.test"]), ca.secureContext(["RESERVE-3.test"]));
    assert.is.not(ca.secureContext(["reserve-3.test"]), ca.secureContext(["reserve-4.test"]));
  } finally {
    server.close();
  }
});
test("a real TLS handshake to an IP literal uses the iPAddress SAN", async () => {
  const ca = await sharedCa();
  const server = tls.createServer({ key: ca.leafKeyPem, cert: ca.leafCertPem(["127.0.0.1"]) });
  server.on("secureConnection", (socket) => socket.end());
  const port = await listen(server);
  try {
    const socket = await handshake({ host: "127.0.0.1", port, ca: ca.caCertPem });
    assert.ok(socket.authorized);
    assert.is(socket.getPeerCertificate().subjectaltname, "IP Address:127.0.0.1");
    socket.destroy();
  } finally {
    server.close();
  }
});

test("curl trusts an https server using a leaf through --cacert", async () => {
  const ca = await sharedCa();
  const server = https.createServer(
    { SNICallback: (servername, cb) => cb(null, ca.secureContext([servername])) },
    (_req, res) => res.end("hello through interloper's CA\n"),
  );
  const port = await listen(server);
  try {
    const caFile = path.join(ca.confdir, CA_FILES.certCer);
    const { stdout } = await execFileAsync("curl", [
      "-sS",
      "--max-time",
      "10",
      "--cacert",
      caFile,
      "--resolve",
      `name.test:${port}:127.0.0.1`,
      `https://name.test:${port}/`,
    ]);
    assert.is(stdout, "hello through interloper's CA\n");

    // and fails without it
    const failed = await execFileAsync("curl", [
      "-sS",
      "--max-time",
      "10",
      "--resolve",
      `name.test:${port}:127.0.0.1`,
      `https://name.test:${port}/`,
    ]).then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    assert.is(failed?.code, 60, "curl: (60) SSL certificate problem");
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("a CA key others can read and a confdir others can write are warned about, not refused", async () => {
  const confdir = path.join(tempDir(), "conf");
  const fresh = await CertificateAuthority.load(confdir);
  assert.equal(fresh.warnings, []);
  const keyFile = path.join(confdir, CA_FILES.key);
  fs.chmodSync(keyFile, 0o644);
  fs.chmodSync(confdir, 0o777);
  const loose = await CertificateAuthority.load(confdir);
  assert.is(loose.warnings.length, 2);
  assert.match(
    loose.warnings[0]!,
    /CA key .*interloper-ca\.pem can be read by other users \(mode 0644\): run chmod 600/,
  );
  assert.match(loose.warnings[1]!, /confdir .* can be written by other users \(mode 0777\)/);
  fs.chmodSync(confdir, 0o1777);
  assert.is((await CertificateAuthority.load(confdir)).warnings.length, 1, "a sticky folder is fine");
});

test.run();
