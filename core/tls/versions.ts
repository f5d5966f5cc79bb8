// mitmproxy's TLS version names (tls_version_client_min … tls_version_server_max)
// mapped onto what Node's OpenSSL can be asked for. Node has no SSL 3.0 at all,
// so SSL3 is refused rather than quietly raised to TLS 1.0.
import type { SecureVersion } from "node:tls";

/** mitmproxy's names, lowest to highest (UNBOUNDED: no bound on that side). */
export const TLS_VERSION_NAMES = ["UNBOUNDED", "SSL3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"] as const;
export type TlsVersionName = (typeof TLS_VERSION_NAMES)[number];

/** mitmproxy's defaults: at least TLS 1.2, no upper bound. */
export const DEFAULT_MIN_VERSION: TlsVersionName = "TLS1_2";
export const DEFAULT_MAX_VERSION: TlsVersionName = "UNBOUNDED";

const NODE_VERSION: Partial<Record<TlsVersionName, SecureVersion>> = {
  TLS1: "TLSv1",
  TLS1_1: "TLSv1.1",
  TLS1_2: "TLSv1.2",
  TLS1_3: "TLSv1.3",
};
const ORDER: readonly SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/** The versions one side may use, as Node's `minVersion`/`maxVersion`. */
export interface VersionRange {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  /**
   * TLS 1.0 or 1.1 is allowed: OpenSSL 3 refuses them below security level 0
   * (their handshakes sign with SHA-1/MD5), so the cipher string needs
   * `@SECLEVEL=0` for them to work, as mitmproxy adds to its default list.
   */
  legacy: boolean;
}

/** A refused version setting; the message is one line naming the option. */
export class VersionError extends Error {
  override name = "VersionError";
}

/**
 * The version range for one side (`client`: the proxy's clients, `server`:
 * the servers it connects to) from mitmproxy's option values.
 */
export function versionRange(side: "client" | "server", min: string, max: string): VersionRange {
  const minVersion = nodeVersion(`tls_version_${side}_min`, min) ?? "TLSv1";
  const maxVersion = nodeVersion(`tls_version_${side}_max`, max) ?? "TLSv1.3";
  if (ORDER.indexOf(minVersion) > ORDER.indexOf(maxVersion)) {
    throw new VersionError(
      `invalid TLS versions for the ${side} side: tls_version_${side}_min ${min} is above tls_version_${side}_max ${max}`,
    );
  }
  return { minVersion, maxVersion, legacy: ORDER.indexOf(minVersion) < ORDER.indexOf("TLSv1.2") };
}

/** Node's name for a mitmproxy version name; undefined for UNBOUNDED. */
function nodeVersion(option: string, name: string): SecureVersion | undefined {
  if (!(TLS_VERSION_NAMES as readonly string[]).includes(name)) {
    throw new VersionError(
      `invalid value for ${option}: ${JSON.stringify(name)} (expected one of ${TLS_VERSION_NAMES.join(", ")})`,
    );
  }
  if (name === "UNBOUNDED") return undefined;
  const version = NODE_VERSION[name as TlsVersionName];
  if (!version) {
    throw new VersionError(
      `invalid value for ${option}: '${name}' (SSL 3.0 is not available in Node's OpenSSL; the lowest is TLS1)`,
    );
  }
  return version;
}
