// The TLS options of both sides of the proxy: which certificate a client is
// shown (one of the user's `certs`, else a leaf minted by the CA) and with
// which versions and ciphers; how the proxy speaks to servers (trust, versions,
// ciphers, `client_certs`). Options are parsed whole and swapped in at once, so
// a refused value leaves the previous TLS set-up in force.
import { statSync } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { expandHome, OptionError, type OptionsView } from "@interloper/sdk";
import type { CertificateAuthority } from "./ca.ts";
import { CertFileError, readCertFile, type CertFile } from "./cert-file.ts";
import { CertMatcher, parseCertSpec } from "./cert-match.ts";
import { isPlausibleHostName } from "./names.ts";
import { versionRange, VersionError } from "./versions.ts";

/**
 * The options this reads (camelCase); a change of any other leaves the TLS set-up as it is. A new trust
 * store (ssl_verify_upstream_trusted_ca, read by the core) also starts new server contexts, so no TLS
 * session made under the old one is resumed.
 */
const TLS_OPTION_NAMES = [
  "sslVerifyUpstreamTrustedCa",
  "certs",
  "certPassphrase",
  "clientCerts",
  "tlsVersionClientMin",
  "tlsVersionClientMax",
  "tlsVersionServerMin",
  "tlsVersionServerMax",
  "ciphersClient",
  "ciphersServer",
  "keySize",
];

/** One of the user's certificates; its context is made on first use. */
interface OwnCert {
  file: CertFile;
  context?: tls.SecureContext;
}

type ClientCerts = { kind: "none" } | { kind: "file"; path: string } | { kind: "folder"; dir: string };

/** What the options say, parsed. */
interface TlsState {
  clientOptions: tls.SecureContextOptions;
  serverOptions: tls.SecureContextOptions;
  own: CertMatcher<OwnCert>;
  clientCerts: ClientCerts;
  passphrase: string | undefined;
}

/** How upstream certificates are verified (the core's ssl_insecure and ssl_verify_upstream_trusted_ca). */
export interface UpstreamTrust {
  sslInsecure: boolean;
  extraUpstreamCa: string | undefined;
}

export class TlsConfig {
  #state: TlsState = {
    clientOptions: { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" },
    serverOptions: { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" },
    own: new CertMatcher(),
    clientCerts: { kind: "none" },
    passphrase: undefined,
  };
  #ca: CertificateAuthority | undefined;
  /** Contexts for connections to servers, by the client certificate file they present ("" for none). */
  #serverContexts = new Map<string, tls.SecureContext>();
  /** The extra trusted CA the server contexts were made with (null: none made yet). */
  #contextsTrust: string | undefined | null = null;

  /**
   * Parses the TLS options (when one of them is in `updated`) and returns what
   * makes them take effect, with the warnings to log; throws an OptionError
   * naming the option, and then nothing has changed.
   */
  prepare(updated: ReadonlySet<string>, options: OptionsView): { commit: () => void; warnings: string[] } {
    if (!TLS_OPTION_NAMES.some((name) => updated.has(name))) return { commit: () => {}, warnings: [] };
    const warnings: string[] = [];
    const passphrase = options.get<string | undefined>("certPassphrase") || undefined;
    const state: TlsState = {
      clientOptions: sideOptions("client", options, warnings),
      serverOptions: sideOptions("server", options, warnings),
      own: ownCerts(options.get<string[]>("certs"), passphrase),
      clientCerts: clientCerts(options.get<string | undefined>("clientCerts"), passphrase),
      passphrase,
    };
    keySize(options.get<number>("keySize"));
    return {
      warnings,
      commit: () => {
        this.#state = state;
        this.#serverContexts.clear();
        this.#ca?.setContextOptions(state.clientOptions);
      },
    };
  }

  /** The CA that mints certificates for names none of the user's certificates covers. */
  attach(ca: CertificateAuthority): void {
    this.#ca = ca;
    ca.setContextOptions(this.#state.clientOptions);
  }

  /**
   * The context for a client's handshake: one of the user's certificates for
   * the first of `lookupNames` it covers (mitmproxy's order: the upstream
   * certificate's names, then the SNI), else a leaf for `leafNames` from the CA.
   */
  clientContext(lookupNames: readonly string[], leafNames: string[]): tls.SecureContext {
    const own = this.#state.own.find(lookupNames);
    if (own) {
      own.context ??= tls.createSecureContext(
        Object.assign({}, this.#state.clientOptions, { key: own.file.keyPem, cert: own.file.chainPem.join("\n") }),
      );
      return own.context;
    }
    if (!this.#ca) throw new Error("the certificate authority is not loaded");
    return this.#ca.secureContext(leafNames);
  }

  /**
   * How to speak TLS to the server `serverName` (its SNI, else its address):
   * verification, versions, ciphers and the client certificate to present.
   * Throws a CertFileError when the folder's certificate for it is unusable.
   */
  serverOptions(serverName: string | undefined, trust: UpstreamTrust): tls.ConnectionOptions {
    if (trust.extraUpstreamCa !== this.#contextsTrust) {
      this.#serverContexts.clear();
      this.#contextsTrust = trust.extraUpstreamCa;
    }
    const certPath = this.#clientCertPath(serverName);
    let context = this.#serverContexts.get(certPath ?? "");
    if (!context) {
      const cert = certPath === undefined ? undefined : clientCertFile(certPath, this.#state.passphrase);
      // One context per client certificate: building one per connection (with ~140 root certificates
      // parsed each time) costs tens of milliseconds and about a megabyte per connection.
      context = tls.createSecureContext({
        ...this.#state.serverOptions,
        ...(trust.extraUpstreamCa ? { ca: [...tls.rootCertificates, trust.extraUpstreamCa] } : {}),
        ...(cert ? { key: cert.keyPem, cert: cert.chainPem.join("\n") } : {}),
      });
      this.#serverContexts.set(certPath ?? "", context);
    }
    return { rejectUnauthorized: !trust.sslInsecure, secureContext: context };
  }

  /** mitmproxy's choice: the file itself, or FOLDER/NAME.pem when that file exists. */
  #clientCertPath(serverName: string | undefined): string | undefined {
    const source = this.#state.clientCerts;
    if (source.kind === "file") return source.path;
    // The name comes from the client (SNI, CONNECT target): only a host name may become a path.
    if (source.kind === "none" || !serverName || !isPlausibleHostName(serverName)) return undefined;
    const file = path.join(source.dir, `${serverName}.pem`);
    return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : undefined;
  }
}

/** A client_certs file read for a server; the error names what it is. */
function clientCertFile(file: string, passphrase: string | undefined): CertFile {
  try {
    return readCertFile(file, passphrase);
  } catch (err) {
    if (err instanceof CertFileError) throw new CertFileError(`client certificate ${err.message}`);
    throw err;
  }
}

/** Versions and ciphers of one side; throws an OptionError for what OpenSSL cannot do. */
function sideOptions(side: "client" | "server", options: OptionsView, warnings: string[]): tls.SecureContextOptions {
  const Side = side === "client" ? "Client" : "Server";
  let range;
  try {
    range = versionRange(
      side,
      options.get<string>(`tlsVersion${Side}Min`),
      options.get<string>(`tlsVersion${Side}Max`),
    );
  } catch (err) {
    if (err instanceof VersionError) throw new OptionError(err.message);
    throw err;
  }
  const given = options.get<string | undefined>(`ciphers${Side}`) || undefined;
  if (given && range.legacy && !given.includes("@SECLEVEL=0")) {
    warnings.push(
      `with tls_version_${side}_min below TLS1_2, ciphers_${side} must include "@SECLEVEL=0" for TLS 1.0 and 1.1 to work`,
    );
  }
  // OpenSSL 3 allows TLS 1.0 and 1.1 only at security level 0; mitmproxy's default list says so too.
  const ciphers = given ?? (range.legacy ? `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0` : undefined);
  const result: tls.SecureContextOptions = {
    minVersion: range.minVersion,
    maxVersion: range.maxVersion,
    ...(ciphers ? { ciphers } : {}),
  };
  if (given) {
    try {
      tls.createSecureContext(result);
    } catch (err) {
      throw new OptionError(
        `invalid value for ciphers_${side}: ${JSON.stringify(given)} (OpenSSL refuses it: ${(err as Error).message.replace(/^error:[0-9A-F]+:SSL routines:[^:]*:/, "")})`,
      );
    }
  }
  return result;
}

/** The user's certificates, each file read and checked now. */
function ownCerts(specs: readonly string[], passphrase: string | undefined): CertMatcher<OwnCert> {
  const matcher = new CertMatcher<OwnCert>();
  for (const spec of specs) {
    const parsed = parseCertSpec(spec);
    if ("error" in parsed) throw new OptionError(`invalid value for certs: ${JSON.stringify(spec)} (${parsed.error})`);
    let file: CertFile;
    try {
      file = readCertFile(expandHome(parsed.path), passphrase);
    } catch (err) {
      if (err instanceof CertFileError) throw new OptionError(`invalid value for certs: ${err.message}`);
      throw err;
    }
    // As mitmproxy's CertStore: under the certificate's own names, then the spec's domain.
    matcher.add({ file }, [...file.names, parsed.domain]);
  }
  return matcher;
}

function clientCerts(value: string | undefined, passphrase: string | undefined): ClientCerts {
  if (!value) return { kind: "none" };
  const where = expandHome(value);
  const stat = statSync(where, { throwIfNoEntry: false });
  if (!stat) throw new OptionError(`invalid value for client_certs: '${value}' (no such file or folder)`);
  if (stat.isDirectory()) return { kind: "folder", dir: where };
  try {
    readCertFile(where, passphrase);
  } catch (err) {
    if (err instanceof CertFileError) throw new OptionError(`invalid value for client_certs: ${err.message}`);
    throw err;
  }
  return { kind: "file", path: where };
}

/** key_size: what OpenSSL will use in TLS (1024 bits at least) and can make in reasonable time. */
function keySize(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1024 || bits > 16384) {
    throw new OptionError(`invalid value for key_size: ${bits} (expected RSA key bits from 1024 to 16384, e.g. 2048)`);
  }
}
