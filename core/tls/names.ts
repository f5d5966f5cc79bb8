// Turns the host names a certificate is asked for into subjectAltName entries
// with one canonical spelling each, so "Example.COM", "example.com." and
// "example.com" (or "::1" and "0:0::1") share one cached certificate.
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII } from "node:url";

export type SanEntry =
  | { readonly kind: "dns"; readonly name: string }
  | { readonly kind: "ip"; readonly name: string; readonly bytes: Buffer };

/** Throws a TypeError for a name no certificate can carry (empty, spaces, non-ASCII that is no IDN). */
export function sanEntry(input: string): SanEntry {
  let name = input.trim();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);

  const zoneless = name.replace(/%.*$/, "");
  if (isIPv4(name)) {
    const bytes = Buffer.from(name.split(".").map(Number));
    return { kind: "ip", name: [...bytes].join("."), bytes };
  }
  if (isIPv6(zoneless)) return ipv6Entry(zoneless);

  if (name.endsWith(".")) name = name.slice(0, -1);
  name = name.toLowerCase();
  // A dNSName is an IA5String: non-ASCII names only go in as their IDNA form.
  if (/[^\x00-\x7f]/.test(name)) {
    const wildcard = name.startsWith("*.");
    const ascii = domainToASCII(wildcard ? name.slice(2) : name);
    name = ascii === "" ? "" : (wildcard ? "*." : "") + ascii;
  }
  if (!/^[\x21-\x7e]+$/.test(name)) {
    throw new TypeError(`cannot issue a certificate for host name ${JSON.stringify(input)}`);
  }
  return { kind: "dns", name };
}

function ipv6Entry(address: string): SanEntry {
  // The WHATWG URL parser prints IPv6 in its RFC 5952 form, hex groups only
  // (no embedded IPv4), which is both the canonical name and easy to split.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return { kind: "ip", name: canonical, bytes };
}

/**
 * Whether a host name the client gave (a CONNECT target, a Host header) may
 * go into a certificate: an IP address, or dot-separated labels of
 * [A-Za-z0-9_-] (1 to 63 each, 253 in all), the rule the ClientHello's SNI
 * is held to. So `*`, `*.example.com` or `a..b` are never minted from what a
 * client typed (wildcards come only from the real server's certificate).
 */
export function isPlausibleHostName(name: string): boolean {
  if (name.startsWith("[") && name.endsWith("]")) return isIPv6(name.slice(1, -1).replace(/%.*$/, ""));
  if (isIPv4(name) || isIPv6(name.replace(/%.*$/, ""))) return true;
  const host = name.endsWith(".") ? name.slice(0, -1) : name;
  return host.length > 0 && host.length <= 253 && host.split(".").every((l) => /^[A-Za-z0-9_-]{1,63}$/.test(l));
}
