import { isIP } from "node:net";
import type { Request } from "../flow.ts";
import { fieldValue } from "./header-fields.ts";

/**
 * The host and URL that `~d` and `~u` search, as mitmproxy's `pretty_host`
 * and `pretty_url` make them: the Host header's host (and its port, else the
 * scheme's default) in place of the address the request goes to.
 *
 * Unlike the sdk's `prettyUrl`, which keeps the connection's port, mitmproxy
 * takes the port from the Host header; the filter follows mitmproxy. One
 * deliberate difference: an IPv6 host is written in brackets (`http://[::1]:8080/`),
 * where mitmproxy leaves them out.
 */
export function prettyHost(request: Request): string {
  const header = fieldValue(request.headers, "host");
  return header ? parsedAuthority(header).host : request.host;
}

export function prettyUrl(request: Request): string {
  if (request.method === "CONNECT") return hostPort(request.host, request.port, 0);
  const { scheme } = request;
  const def = scheme === "https" ? 443 : 80;
  const path = request.path === "*" ? "" : request.path;
  const header = fieldValue(request.headers, "host");
  if (!header) return `${scheme}://${hostPort(request.host, request.port, def)}${path}`;
  const authority = parsedAuthority(header);
  return `${scheme}://${hostPort(authority.host, authority.port ?? def, def)}${path}`;
}

function hostPort(host: string, port: number, defaultPort: number): string {
  const shown = host.includes(":") && isIP(host) === 6 ? `[${host}]` : host;
  return port === defaultPort ? shown : `${shown}:${port}`;
}

/** Host headers seen lately and their parse: the same few hosts come again and again. */
const PARSED = new Map<string, { host: string; port?: number }>();
const PARSED_MAX = 1024;

function parsedAuthority(header: string): { host: string; port?: number } {
  let parsed = PARSED.get(header);
  if (parsed === undefined) {
    parsed = parseAuthority(header);
    if (PARSED.size >= PARSED_MAX) PARSED.clear();
    PARSED.set(header, parsed);
  }
  return parsed;
}

const AUTHORITY = /^([^:]+|\[.+\])(?::(\d+))?$/;
const LABEL = /^[A-Za-z0-9\-_]{1,63}$/;
const INTERNATIONAL_LABEL = /^[\p{L}\p{M}\p{N}\-_]{1,63}$/u;

/**
 * mitmproxy's `parse_authority(…, check=False)`: host and port of a Host
 * header, or the whole value as the host when it is not a valid authority.
 */
export function parseAuthority(authority: string): { host: string; port?: number } {
  const m = AUTHORITY.exec(authority);
  if (!m) return { host: authority };
  let host = m[1]!;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (!isValidHost(host)) return { host: authority };
  if (m[2] === undefined) return { host };
  const port = Number(m[2]);
  return port <= 65535 ? { host, port } : { host: authority };
}

/** A DNS name (labels of letters, digits, `-`, `_`; international ones allowed) or an IP address. */
function isValidHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (Buffer.byteLength(name) > 255) return false;
  return name.split(".").every((label) => LABEL.test(label) || INTERNATIONAL_LABEL.test(label));
}
