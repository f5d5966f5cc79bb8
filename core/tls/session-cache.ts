import type { X509Certificate } from "node:crypto";
import type * as tls from "node:tls";

/** A TLS session the proxy may resume with a server, and the certificate the server proved itself with. */
export interface CachedSession {
  session: Buffer;
  /**
   * The server's certificate from the full handshake. A resumed session
   * carries no certificate (the server does not send one again), yet the
   * leaf names and `certificateList` still need it.
   */
  peer: X509Certificate | undefined;
}

/**
 * TLS sessions for connections to servers, so that a new connection to a
 * server we spoke to before resumes instead of doing a full handshake (no
 * certificate sent, signed and verified again): what every HTTP client does.
 *
 * Bounded, least recently used first out. A session is only ever resumed
 * under the same key: the server's address, the SNI, the ALPN offer, the
 * route (an upstream proxy) and whether certificates were verified — a
 * session made with `ssl_insecure` is never resumed once verification is
 * on again. One cache per upstream SecureContext: a new trust store (a
 * changed `ssl_verify_upstream_trusted_ca`) starts with no sessions.
 */
export class TlsSessionCache {
  private readonly entries = new Map<string, CachedSession>();

  constructor(readonly capacity = 1024) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedSession | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used goes last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, entry: CachedSession): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** A session that failed to resume (the server forgot it) is not offered again. */
  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** The key a session is stored under: everything that must match for a resumption to be safe. */
export function sessionKey(parts: {
  host: string;
  port: number;
  sni: string | undefined;
  alpn: readonly string[];
  verify: boolean;
  via?: string;
}): string {
  return [
    parts.verify ? "verify" : "insecure",
    parts.via ?? "",
    parts.host,
    parts.port,
    parts.sni ?? "",
    parts.alpn.join(","),
  ].join("|");
}

const caches = new WeakMap<tls.SecureContext, TlsSessionCache>();

/** The session cache that belongs to this upstream TLS context (made on first use). */
export function sessionCacheFor(context: tls.SecureContext): TlsSessionCache {
  let cache = caches.get(context);
  if (!cache) {
    cache = new TlsSessionCache();
    caches.set(context, cache);
  }
  return cache;
}

/** PEM certificates from a peer certificate and the issuers Node kept with it. */
export function pemChain(peer: X509Certificate | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let c = peer; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(c.toString());
  }
  return out;
}
