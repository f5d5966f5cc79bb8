// TlsConfig (core/tls/tls-config.ts) without sockets: options parsed whole
// and swapped in at once, the contexts each side gets, the client_certs folder
// lookup with hostile server names, and OpenSSL's error texts shortened.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as tls from "node:tls";
import { OptionError, type OptionsView } from "@interloper/sdk";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { opensslReason } from "../../core/connection/server-conn.ts";
import { CertificateAuthority } from "../../core/tls/ca.ts";
import { TlsConfig } from "../../core/tls/tls-config.ts";
import { TLS_OPTIONS } from "../../core/tls/tls-options.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "interloper-tls-config-"));
  dirs.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The options view TlsConfig reads: the TLS options' defaults with `values` over them. */
function view(values: Record<string, unknown> = {}): OptionsView {
  const all: Record<string, unknown> = { sslVerifyUpstreamTrustedCa: undefined };
  for (const spec of TLS_OPTIONS) all[spec.name] = spec.default;
  Object.assign(all, values);
  return { get: <T>(name: string) => all[name] as T } as OptionsView;
}
const EVERY = new Set([...TLS_OPTIONS.map((s) => s.name), "sslVerifyUpstreamTrustedCa"]);
const TRUST = { sslInsecure: false, extraUpstreamCa: undefined };

/** A CA stand-in that records what the client handshakes are set to. */
function recordingCa(): { ca: CertificateAuthority; set: tls.SecureContextOptions[] } {
  const set: tls.SecureContextOptions[] = [];
  const ca = { setContextOptions: (o: tls.SecureContextOptions) => set.push(o) } as unknown as CertificateAuthority;
  return { ca, set };
}

let pemPromise: Promise<string> | undefined;
/** A PEM file with a certificate for client.test and its key. */
function certPem(): Promise<string> {
  pemPromise ??= CertificateAuthority.load(path.join(tempDir(), "conf")).then(
    (ca) => ca.leafCertPem(["client.test"]) + ca.leafKeyPem,
  );
  return pemPromise;
}

test("the defaults: TLS 1.2 to 1.3 for both sides, OpenSSL's ciphers, no warning", () => {
  const config = new TlsConfig();
  const { ca, set } = recordingCa();
  const change = config.prepare(EVERY, view());
  assert.equal(change.warnings, []);
  change.commit();
  config.attach(ca);
  assert.equal(set.at(-1), { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" });
});

test("below TLS1_2 the default ciphers get @SECLEVEL=0; a cipher string of one's own without it gets a warning", () => {
  const config = new TlsConfig();
  const { ca, set } = recordingCa();
  config.attach(ca);
  config.prepare(EVERY, view({ tlsVersionClientMin: "TLS1" })).commit();
  assert.is(set.at(-1)!.minVersion, "TLSv1");
  assert.match(String(set.at(-1)!.ciphers), /:@SECLEVEL=0$/);
  const own = config.prepare(
    EVERY,
    view({ tlsVersionClientMin: "UNBOUNDED", ciphersClient: "ECDHE-ECDSA-AES128-SHA" }),
  );
  assert.equal(own.warnings, [
    'with tls_version_client_min below TLS1_2, ciphers_client must include "@SECLEVEL=0" for TLS 1.0 and 1.1 to work',
  ]);
  own.commit();
  assert.is(set.at(-1)!.ciphers, "ECDHE-ECDSA-AES128-SHA");
});

test("a refused value throws an OptionError and changes nothing (the previous set-up stays)", () => {
  const config = new TlsConfig();
  const { ca, set } = recordingCa();
  config.attach(ca);
  config.prepare(EVERY, view({ tlsVersionClientMax: "TLS1_2" })).commit();
  const before = set.length;
  for (const bad of [
    { tlsVersionClientMin: "SSL3" },
    { tlsVersionServerMax: "nope" },
    { tlsVersionServerMin: "TLS1_3", tlsVersionServerMax: "TLS1_1" },
    { ciphersServer: "NOT-A-CIPHER" },
    { certs: ["/no/such/file.pem"] },
    { certs: ["=x.pem"] },
    { clientCerts: "/no/such/folder" },
    { keySize: 512 },
    { keySize: 2048.5 },
  ]) {
    assert.throws(
      () => config.prepare(EVERY, view(bad)),
      (e: Error) => e instanceof OptionError && !/\n/.test(e.message),
      JSON.stringify(bad),
    );
  }
  assert.is(set.length, before);
  assert.is(set.at(-1)!.maxVersion, "TLSv1.2");
});

test("a change of another option leaves the TLS set-up alone", () => {
  const config = new TlsConfig();
  const change = config.prepare(new Set(["flowDetail", "mode"]), view({ tlsVersionClientMin: "SSL3" }));
  assert.equal(change.warnings, []);
});

test("server contexts: one per client certificate, reused; made anew for a new trust store or new options", async () => {
  const config = new TlsConfig();
  config.prepare(EVERY, view()).commit();
  const a = config.serverOptions("a.test", TRUST);
  assert.is(config.serverOptions("b.test", TRUST).secureContext, a.secureContext);
  assert.is(a.rejectUnauthorized, true);
  assert.is(
    config.serverOptions("a.test", { sslInsecure: true, extraUpstreamCa: undefined }).rejectUnauthorized,
    false,
  );
  const extra = (await CertificateAuthority.load(path.join(tempDir(), "c"))).caCertPem;
  const withExtra = config.serverOptions("a.test", { sslInsecure: false, extraUpstreamCa: extra });
  assert.is.not(withExtra.secureContext, a.secureContext);
  config.prepare(new Set(["ciphersServer"]), view({ ciphersServer: "ECDHE-ECDSA-AES128-GCM-SHA256" })).commit();
  assert.is.not(
    config.serverOptions("a.test", { sslInsecure: false, extraUpstreamCa: extra }).secureContext,
    withExtra.secureContext,
  );
});

test("client_certs as a folder: HOST.pem for plausible host names only; other names present nothing", async () => {
  const folder = path.join(tempDir(), "client-certs");
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(folder, "api.test.pem"), await certPem());
  fs.writeFileSync(path.join(folder, "127.0.0.1.pem"), await certPem());
  // A file outside the folder that a path-like name would reach.
  fs.writeFileSync(path.join(path.dirname(folder), "outside.pem"), await certPem());
  const config = new TlsConfig();
  config.prepare(EVERY, view({ clientCerts: folder })).commit();
  const none = config.serverOptions(undefined, TRUST).secureContext;
  const api = config.serverOptions("api.test", TRUST).secureContext;
  assert.is.not(api, none);
  assert.is(config.serverOptions("api.test", TRUST).secureContext, api);
  assert.is.not(config.serverOptions("127.0.0.1", TRUST).secureContext, none);
  for (const hostile of [
    "other.test",
    "../outside",
    "..",
    "a/../api.test",
    "api.test/",
    "",
    "api.test\u0000",
    "*.test",
  ]) {
    assert.is(config.serverOptions(hostile, TRUST).secureContext, none, JSON.stringify(hostile));
  }
});

test("client_certs: an unusable file in the folder throws a line naming it; a file option is checked when set", async () => {
  const folder = tempDir();
  fs.writeFileSync(path.join(folder, "broken.test.pem"), "no certificate here\n");
  const config = new TlsConfig();
  config.prepare(EVERY, view({ clientCerts: folder })).commit();
  assert.throws(
    () => config.serverOptions("broken.test", TRUST),
    (e: Error) => /^client certificate '.*broken\.test\.pem' holds no PEM certificate$/.test(e.message),
  );
  const file = path.join(tempDir(), "c.pem");
  fs.writeFileSync(file, await certPem());
  config.prepare(EVERY, view({ clientCerts: file })).commit();
  assert.is(config.serverOptions("x.test", TRUST).secureContext, config.serverOptions("y.test", TRUST).secureContext);
  fs.writeFileSync(
    path.join(folder, "keyless.pem"),
    (await certPem()).replace(/-----BEGIN PRIVATE KEY-----[\s\S]*$/, ""),
  );
  assert.throws(
    () => config.prepare(EVERY, view({ clientCerts: path.join(folder, "keyless.pem") })),
    /^invalid value for client_certs: '.*keyless\.pem' holds no private key/,
  );
});

test("opensslReason: OpenSSL's error text becomes its reason (and alert number); other texts stay", () => {
  assert.is(
    opensslReason(
      "80DCE4D6917F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n",
    ),
    "tlsv13 alert certificate required (SSL alert number 116)",
  );
  assert.is(
    opensslReason(
      "C0B7B2F6:error:0A000102:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:355:",
    ),
    "wrong version number",
  );
  for (const other of [
    "Connection reset by peer",
    "",
    "error:",
    "certificate verify failed: self-signed certificate",
    "x".repeat(5000),
  ]) {
    assert.is(opensslReason(other), other);
  }
});

test.run();
