// The certificate authority: loads (or, on first use, creates) the CA that
// lives in the confdir, and issues the leaf certificates presented to
// intercepted clients. A CA file that cannot be used is reported, never
// replaced: a new CA would silently break every device that trusts the old one.
import * as crypto from "node:crypto";
import { constants as fsConstants } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { sanEntry, type SanEntry } from "./names.ts";
import {
  type Asn1,
  distinguishedName,
  ext,
  fromDerExact,
  issuerFields,
  keyIdentifier,
  KeyUsage,
  pem,
  randomSerial,
  signCertificate,
} from "./x509.ts";

/** A CA problem the user can fix; the message is one line, printed as-is. */
export class CaError extends Error {
  override name = "CaError";
}

/** The files in the confdir. Only `key` holds a secret; the others are for installing the CA on devices. */
export const CA_FILES = {
  key: "interloper-ca.pem",
  certPem: "interloper-ca-cert.pem",
  certCer: "interloper-ca-cert.cer",
  certP12: "interloper-ca-cert.p12",
} as const;

/** mitmproxy's CA (key and certificate in one PEM), used when there is no interloper CA: devices that trust it keep working. */
export const MITMPROXY_CA_FILE = "mitmproxy-ca.pem";

const DAY = 24 * 60 * 60 * 1000;
const CLOCK_SKEW = 2 * DAY;
const LEAF_LIFETIME = 365 * DAY;
const CA_YEARS = 10;
const CN_MAX = 64; // ub-common-name
const DEFAULT_CACHE_SIZE = 4096;
const DEFAULT_KEY_SIZE = 2048;

export interface CertificateAuthorityOptions {
  /** How many leaf certificates (with their secure contexts) stay cached. */
  cacheSize?: number;
  /** RSA key size in bits of a CA made now (key_size; mitmproxy's default 2048). */
  keySize?: number;
  /** Decrypts an encrypted CA key (cert_passphrase, as mitmproxy reads its CA with it). */
  passphrase?: string;
}

interface Leaf {
  pem: string;
  notAfter: number;
  context?: tls.SecureContext;
}

export class CertificateAuthority {
  readonly confdir: string;
  readonly caCertPem: string;
  /** The key of all leaf certificates (PKCS#8 PEM). */
  readonly leafKeyPem: string;

  readonly #caKey: crypto.KeyObject;
  readonly #issuer: Asn1;
  readonly #caNotBefore: number;
  readonly #caNotAfter: number;
  readonly #leafSpki: Asn1;
  readonly #leafExtensions: Asn1[];
  readonly #cache = new Map<string, Leaf>();
  readonly #cacheSize: number;
  /** Versions and ciphers of the client handshakes (tls_version_client_*, ciphers_client). */
  #contextOptions: tls.SecureContextOptions = {};

  private constructor(
    confdir: string,
    caKey: crypto.KeyObject,
    caCertDer: Buffer,
    options: CertificateAuthorityOptions,
  ) {
    this.confdir = confdir;
    this.caCertPem = pem("CERTIFICATE", caCertDer);
    this.#caKey = caKey;
    this.#cacheSize = Math.max(1, options.cacheSize ?? DEFAULT_CACHE_SIZE);
    const ca = issuerFields(caCertDer);
    this.#issuer = ca.subject;
    this.#caNotBefore = ca.notBefore.getTime();
    this.#caNotAfter = ca.notAfter.getTime();

    // One key for every leaf: a P-256 key is made in well under a millisecond,
    // but sharing it means the per-host cost is one signature and nothing else.
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.leafKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const spkiDer = publicKey.export({ type: "spki", format: "der" });
    this.#leafSpki = fromDerExact(spkiDer);
    this.#leafExtensions = [
      ext.basicConstraints(false),
      ext.keyUsage([KeyUsage.digitalSignature]),
      ext.serverAuth(),
      ext.subjectKeyIdentifier(keyIdentifier(spkiDer)),
      ...(ca.keyId ? [ext.authorityKeyIdentifier(ca.keyId)] : []),
    ];
  }

  /** Loads the CA from `confdir`, creating the directory (mode 0700) and the CA on first use. */
  static async load(confdir: string, options: CertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
    const dir = path.resolve(confdir);
    await ensureConfdir(dir);
    let keyFile = path.join(dir, CA_FILES.key);
    let ca = await readCa(keyFile, options.passphrase);
    const notices: string[] = [];
    if (!ca) {
      const mitmproxyFile = path.join(dir, MITMPROXY_CA_FILE);
      ca = await readCa(mitmproxyFile, options.passphrase);
      if (ca) {
        // Used where it is, not copied: one copy of the secret, and a CA mitmproxy makes anew is followed.
        keyFile = mitmproxyFile;
        notices.push(
          `using the mitmproxy CA in ${mitmproxyFile} (there is no ${CA_FILES.key}): devices that trust it keep working`,
        );
      }
    }
    if (!ca) {
      const created = await createCa(options.keySize ?? DEFAULT_KEY_SIZE);
      // Published with link(), which never overwrites: if another process made
      // a CA in the meantime, that one wins and is the one used here too.
      const published = await writeAtomic(keyFile, created.keyPem + pem("CERTIFICATE", created.certDer), 0o600, true);
      ca = published ? created : await readCa(keyFile, options.passphrase);
      if (!ca) throw new CaError(`Cannot use the CA in ${keyFile}: it vanished while being created.`);
    }
    await writeDerivedFiles(dir, ca.certDer);
    const authority = new CertificateAuthority(dir, ca.key, ca.certDer, options);
    authority.warnings.push(...(await permissionWarnings(dir, keyFile)));
    authority.notices.push(...notices);
    return authority;
  }

  /** What the user should know about the CA in use (said once at start-up, at info level). */
  readonly notices: string[] = [];

  /** Problems with the confdir the user should fix (said once at start-up): a key others can read, a folder others can write. */
  readonly warnings: string[] = [];

  /**
   * A TLS secure context for a leaf certificate with these names (host names,
   * wildcards, IPv4/IPv6 literals). The first name is the common name. Cached
   * by the set of names, ignoring order and the case of host names. Names no
   * certificate can carry (empty, with spaces or control characters) are left
   * out; a TypeError only if that leaves none.
   */
  secureContext(names: string[]): tls.SecureContext {
    const leaf = this.#leaf(names);
    leaf.context ??= tls.createSecureContext(
      Object.assign({}, this.#contextOptions, { key: this.leafKeyPem, cert: leaf.pem }),
    );
    return leaf.context;
  }

  /** Versions and ciphers for the contexts `secureContext` makes from now on (those made before are dropped). */
  setContextOptions(options: tls.SecureContextOptions): void {
    this.#contextOptions = options;
    for (const leaf of this.#cache.values()) leaf.context = undefined;
  }

  /** The leaf certificate PEM for these names (cached like `secureContext`). */
  leafCertPem(names: string[]): string {
    return this.#leaf(names).pem;
  }

  #leaf(names: string[]): Leaf {
    const entries = new Map<string, SanEntry>();
    for (const name of names) {
      // A name that cannot be encoded could never be matched by a client
      // either: one odd SAN of an upstream certificate must not cost the rest.
      const entry = sanEntryOrUndefined(name);
      if (entry && !entries.has(entry.name)) entries.set(entry.name, entry);
    }
    if (entries.size === 0) throw new TypeError(`no name a certificate can carry in ${JSON.stringify(names)}`);
    // Canonical names never contain whitespace, so this key is unambiguous.
    const key = [...entries.keys()].sort().join(" ");
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached) {
      this.#cache.delete(key); // re-insert: most recently used last
      // Renewed a day before it expires, unless the CA itself expires first.
      if (cached.notAfter - now > DAY || cached.notAfter >= this.#caNotAfter) {
        this.#cache.set(key, cached);
        return cached;
      }
    }
    const leaf = this.#issue([...entries.values()], now);
    this.#cache.set(key, leaf);
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return leaf;
  }

  #issue(entries: SanEntry[], now: number): Leaf {
    const notBefore = Math.max(now - CLOCK_SKEW, this.#caNotBefore);
    const notAfter = Math.min(now + LEAF_LIFETIME, this.#caNotAfter);
    const der = signCertificate(
      {
        serial: randomSerial(16),
        issuer: this.#issuer,
        subject: distinguishedName({ commonName: entries[0]!.name.slice(0, CN_MAX) }),
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        subjectPublicKeyInfo: this.#leafSpki,
        extensions: [...this.#leafExtensions, ext.subjectAltName(entries)],
      },
      this.#caKey,
    );
    return { pem: pem("CERTIFICATE", der), notAfter };
  }
}

function sanEntryOrUndefined(name: string): SanEntry | undefined {
  try {
    return sanEntry(name);
  } catch {
    return undefined;
  }
}

interface LoadedCa {
  key: crypto.KeyObject;
  certDer: Buffer;
}

const generateKeyPair = promisify(crypto.generateKeyPair);

async function createCa(keySize: number): Promise<LoadedCa & { keyPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair("rsa", { modulusLength: keySize });
  const spkiDer = publicKey.export({ type: "spki", format: "der" });
  const name = distinguishedName({ commonName: "interloper", organization: "interloper" });
  const now = new Date();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const certDer = signCertificate(
    {
      serial: randomSerial(16),
      issuer: name,
      subject: name,
      notBefore: new Date(now.getTime() - CLOCK_SKEW),
      notAfter,
      subjectPublicKeyInfo: fromDerExact(spkiDer),
      extensions: [
        ext.basicConstraints(true),
        ext.keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
        ext.subjectKeyIdentifier(keyIdentifier(spkiDer)),
      ],
    },
    privateKey,
  );
  // PKCS#1, as mitmproxy writes it: the same file works with either tool.
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  return { key: privateKey, certDer, keyPem };
}

async function ensureConfdir(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw new CaError(`Cannot use the configuration directory ${dir}: ${reason(e)}.`);
  });
  if (stat) {
    if (!stat.isDirectory()) throw new CaError(`The configuration directory ${dir} exists but is not a directory.`);
    return;
  }
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700); // mkdir's mode is narrowed by the umask, never widened; make it exact
  } catch (e) {
    throw new CaError(`Cannot create the configuration directory ${dir}: ${reason(e)}.`);
  }
}

/** The CA in `file`, undefined if there is no such file; anything else wrong is a CaError. */
async function readCa(file: string, passphrase: string | undefined): Promise<LoadedCa | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "latin1");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CaError(`Cannot read the CA file ${file}: ${reason(e)}.`);
  }
  const fail = (problem: string): never => {
    throw new CaError(
      `Cannot use the CA in ${file}: ${oneLine(problem)}. Fix the file, or move it away to have a new CA created.`,
    );
  };

  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  const keyBlocks = blocks.filter((b) => b[1]!.endsWith("PRIVATE KEY"));
  const certBlock = blocks.find((b) => b[1] === "CERTIFICATE");
  if (keyBlocks.length === 0) fail("it holds no complete PEM private key (empty, truncated or not a CA file)");
  if (keyBlocks.length > 1) fail("it holds more than one private key");
  if (!certBlock) fail("it holds no complete PEM certificate (truncated, or a key without its certificate)");
  const keyBlock = keyBlocks[0]![0];
  const encrypted = keyBlocks[0]![1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,\s*ENCRYPTED/.test(keyBlock);
  if (encrypted && passphrase === undefined)
    fail("the private key is encrypted; give its passphrase with cert_passphrase");

  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(encrypted ? { key: keyBlock, passphrase } : keyBlock);
  } catch (e) {
    return fail(
      encrypted
        ? `the private key cannot be decrypted with cert_passphrase (${reason(e)})`
        : `the private key is unreadable (${reason(e)})`,
    );
  }
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certBlock![0]);
  } catch (e) {
    return fail(`the certificate is unreadable (${reason(e)})`);
  }
  if (key.asymmetricKeyType !== "rsa") fail(`the private key is ${key.asymmetricKeyType}, not RSA`);
  if (!cert.checkPrivateKey(key)) fail("the private key does not match the certificate");
  if (!cert.ca) fail("the certificate is not a CA certificate (basicConstraints CA:TRUE is missing)");
  let notAfter: Date;
  try {
    notAfter = issuerFields(cert.raw).notAfter;
  } catch (e) {
    return fail(`the certificate is not DER-encoded (${reason(e)})`);
  }
  if (notAfter.getTime() <= Date.now()) fail(`the CA certificate expired on ${notAfter.toISOString()}`);
  return { key, certDer: cert.raw };
}

/** The files devices install; (re)written when missing or when they no longer hold this CA. */
async function writeDerivedFiles(dir: string, certDer: Buffer): Promise<void> {
  const certPem = pem("CERTIFICATE", certDer);
  const read = (name: string) => fs.readFile(path.join(dir, name), "latin1").catch(() => undefined);
  const [pemText, cerText, p12Exists] = await Promise.all([
    read(CA_FILES.certPem),
    read(CA_FILES.certCer),
    fs.access(path.join(dir, CA_FILES.certP12), fsConstants.F_OK).then(
      () => true,
      () => false,
    ),
  ]);
  // A cert file of another CA means interloper-ca.pem was swapped: the .p12 is stale too.
  const stale = (pemText !== undefined && pemText !== certPem) || (cerText !== undefined && cerText !== certPem);
  const write = async (name: string, data: string | Buffer) => {
    try {
      await writeAtomic(path.join(dir, name), data, 0o644, false);
    } catch (e) {
      throw new CaError(`Cannot write ${path.join(dir, name)}: ${reason(e)}.`);
    }
  };
  if (stale || pemText === undefined) await write(CA_FILES.certPem, certPem);
  if (stale || cerText === undefined) await write(CA_FILES.certCer, certPem);
  if (stale || !p12Exists) await write(CA_FILES.certP12, await p12(certPem));
}

async function p12(certPem: string): Promise<Buffer> {
  // node-forge only here, loaded on demand: it costs the running proxy ~10 MB of memory, and a
  // .p12 is written once per confdir (or when the CA changed).
  const { default: forge } = await import("node-forge");
  const cert = forge.pki.certificateFromPem(certPem);
  // No key inside, so nothing to protect; an empty password (with its MAC) is
  // what OS and Android certificate installers accept without asking.
  const pfx = forge.pkcs12.toPkcs12Asn1(null, [cert], "", { friendlyName: "interloper", algorithm: "3des" });
  return Buffer.from(forge.asn1.toDer(pfx).getBytes(), "latin1");
}

/**
 * Writes through a temporary file so a crash leaves the old file or the new
 * one, never half of one. With `exclusive` an existing file is kept and the
 * result is false.
 */
async function writeAtomic(file: string, data: string | Buffer, mode: number, exclusive: boolean): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
  let published = true;
  try {
    const handle = await fs.open(tmp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!exclusive) {
      await fs.rename(tmp, file);
    } else {
      try {
        await fs.link(tmp, file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") published = false;
        else if (code === "EPERM" || code === "ENOTSUP" || code === "ENOSYS") {
          // No hard links on this file system: a plain rename, minus the race guard.
          if (
            await fs.access(file).then(
              () => true,
              () => false,
            )
          )
            published = false;
          else await fs.rename(tmp, file);
        } else throw e;
      }
    }
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError(`Cannot write ${file}: ${reason(e)}.`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  await syncDir(path.dirname(file));
  return published;
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable; not every platform can open a directory.
  const handle = await fs.open(dir, "r").catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // "EACCES: permission denied, open '/x'" -> "permission denied (EACCES)": the path is in the message already.
  const system = err?.code ? /^[A-Z]+: ([^,]+)/.exec(err.message) : null;
  if (system) return oneLine(`${system[1]} (${err.code})`);
  return oneLine(err instanceof Error ? err.message : String(e));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * The CA key is the one secret here: whoever reads it can intercept every
 * device that trusts the CA; whoever can write the confdir can swap the CA.
 * (POSIX modes only: on Windows these bits say nothing.)
 */
async function permissionWarnings(dir: string, keyFile: string): Promise<string[]> {
  if (process.platform === "win32") return [];
  const out: string[] = [];
  const key = await fs.stat(keyFile);
  if ((key.mode & 0o077) !== 0) {
    out.push(`the CA key ${keyFile} can be read by other users (mode ${octal(key.mode)}): run chmod 600 '${keyFile}'`);
  }
  const folder = await fs.stat(dir);
  // A sticky folder (like /tmp) lets others add files but not replace ours.
  if ((folder.mode & 0o022) !== 0 && (folder.mode & 0o1000) === 0) {
    out.push(
      `the confdir ${dir} can be written by other users (mode ${octal(folder.mode)}), who could replace the CA: run chmod go-w '${dir}'`,
    );
  }
  return out;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
