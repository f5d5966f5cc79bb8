import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** One downloadable form of the CA certificate (never the private key). */
export interface CaFormat {
  /** The path segment: `/cert/pem`. */
  id: "pem" | "cer" | "p12";
  /** mitmproxy's onboarding app's content types, which iOS and Android act on. */
  contentType: string;
  /** What the format is for, on the page. */
  label: string;
}

export const CA_FORMATS: readonly CaFormat[] = [
  { id: "pem", contentType: "application/x-x509-ca-cert", label: "PEM" },
  { id: "cer", contentType: "application/x-x509-ca-cert", label: "CER (the PEM with the extension Android expects)" },
  { id: "p12", contentType: "application/x-pkcs12", label: "PKCS#12" },
];

/**
 * The CA the proxy uses, as the certificate files the core writes into the confdir for it:
 * `interloper-ca-cert.{pem,cer,p12}`, kept up to date with whichever CA is in use, interloper's
 * own (`interloper-ca.pem`) or a mitmproxy CA taken over (`mitmproxy-ca.pem`, which comes without
 * certificate files of its own unless mitmproxy ran there). Read from disk on each request, never
 * generated here. With a mitmproxy CA the downloads are named as mitmproxy names them.
 */
export class CaFiles {
  constructor(private readonly confdir: string) {}

  /** `interloper-ca-cert`, or `mitmproxy-ca-cert` when a mitmproxy CA is in use: the downloads' name. */
  baseName(): string {
    const own = existsSync(join(this.confdir, "interloper-ca.pem"));
    const mitmproxy = !own && existsSync(join(this.confdir, "mitmproxy-ca.pem"));
    return mitmproxy ? "mitmproxy-ca-cert" : "interloper-ca-cert";
  }

  /** The download's file name. */
  fileName(format: CaFormat): string {
    return `${this.baseName()}.${format.id}`;
  }

  /** The file's bytes, or undefined when the confdir does not hold this format. */
  async read(format: CaFormat): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(format));
    } catch {
      return undefined;
    }
  }

  /** The formats the confdir holds. */
  available(): CaFormat[] {
    return CA_FORMATS.filter((f) => existsSync(this.path(f)));
  }

  /** Where the core keeps this format, whichever CA is in use. */
  private path(format: CaFormat): string {
    return join(this.confdir, `interloper-ca-cert.${format.id}`);
  }

  /** The certificate's SHA-256 fingerprint (`AB:CD:…`), for comparing on the device; undefined if unreadable. */
  async fingerprint(): Promise<string | undefined> {
    const pem = await this.read(CA_FORMATS[0]!);
    if (!pem) return undefined;
    try {
      return new X509Certificate(pem).fingerprint256;
    } catch {
      return undefined;
    }
  }
}
