// Reading a PEM file that holds a certificate chain and its private key: what
// `certs` serves to clients and `client_certs` presents to servers. Every way
// it can be unusable is said in one line, so a bad file is refused when the
// option is set, not at the first connection.
import * as crypto from "node:crypto";
import { readFileSync, statSync } from "node:fs";

/** A file that cannot be used; the message says why in one line (without the option's name). */
export class CertFileError extends Error {
  override name = "CertFileError";
}

export interface CertFile {
  /** The certificates as they stand in the file, the leaf first. */
  chainPem: string[];
  /** The leaf's private key, decrypted (PKCS#8 PEM). */
  keyPem: string;
  leaf: crypto.X509Certificate;
  /** The leaf's common name and subjectAltNames (DNS names and IP addresses). */
  names: string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Reads `file`; `passphrase` decrypts an encrypted key (cert_passphrase). */
export function readCertFile(file: string, passphrase?: string): CertFile {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new CertFileError(`'${file}' is a folder, not a PEM file`);
    text = readFileSync(file, "latin1");
  } catch (err) {
    if (err instanceof CertFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertFileError(
      code === "ENOENT" ? `'${file}' does not exist` : `cannot read '${file}' (${code ?? (err as Error).message})`,
    );
  }
  return parseCertPem(text, file, passphrase);
}

/** The same from the file's text (`where` names it in messages). */
export function parseCertPem(text: string, where: string, passphrase?: string): CertFile {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const certBlocks = blocks.filter((b) => b[1] === "CERTIFICATE").map((b) => b[0]);
  const keyBlocks = blocks.filter((b) => b[1]!.endsWith("PRIVATE KEY"));
  if (certBlocks.length === 0) throw new CertFileError(`'${where}' holds no PEM certificate`);
  if (keyBlocks.length === 0) {
    throw new CertFileError(`'${where}' holds no private key (the PEM must hold the certificate chain and its key)`);
  }
  if (keyBlocks.length > 1) throw new CertFileError(`'${where}' holds more than one private key`);

  const chain: crypto.X509Certificate[] = [];
  for (const [i, block] of certBlocks.entries()) {
    try {
      chain.push(new crypto.X509Certificate(block));
    } catch (err) {
      throw new CertFileError(`certificate ${i + 1} in '${where}' is unreadable (${oneLine(err)})`);
    }
  }
  const key = privateKey(keyBlocks[0]!, where, passphrase);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    throw new CertFileError(`the private key in '${where}' does not belong to its first certificate`);
  }
  return {
    chainPem: chain.map((c) => c.toString()),
    keyPem: key.export({ type: "pkcs8", format: "pem" }) as string,
    leaf,
    names: certificateNames(leaf),
  };
}

function privateKey(block: RegExpMatchArray, where: string, passphrase: string | undefined): crypto.KeyObject {
  const encrypted = block[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,\s*ENCRYPTED/.test(block[0]);
  if (encrypted && passphrase === undefined) {
    throw new CertFileError(`the private key in '${where}' is encrypted: give its passphrase with cert_passphrase`);
  }
  try {
    return crypto.createPrivateKey(encrypted ? { key: block[0], passphrase } : block[0]);
  } catch (err) {
    if (encrypted) {
      throw new CertFileError(
        `the private key in '${where}' cannot be decrypted with cert_passphrase (${oneLine(err)})`,
      );
    }
    throw new CertFileError(`the private key in '${where}' is unreadable (${oneLine(err)})`);
  }
}

/** A certificate's common name (if any) and its DNS and IP subjectAltNames, in that order. */
export function certificateNames(cert: crypto.X509Certificate): string[] {
  const names: string[] = [];
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  if (cn) names.push(cn);
  for (const part of (cert.subjectAltName ?? "").split(", ")) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (m) names.push(m[2]!.trim());
  }
  return names;
}

function oneLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).replace(/\s+/g, " ").trim();
}
