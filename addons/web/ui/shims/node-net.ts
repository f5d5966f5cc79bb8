/**
 * `isIP` of `node:net` for the browser bundle: the sdk's filter compiler
 * (sdk/src/filter/request-url.ts) asks it whether a Host header names an IP
 * address. Same answers as Node's for the addresses Host headers carry.
 */

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIPv6(s: string): boolean {
  if (!s.includes(":") || /[^0-9A-Fa-f:.]/.test(s)) return false;
  try {
    // The URL parser validates IPv6 literals exactly (compressed forms, embedded IPv4).
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIP(s: string): number {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0;
}
