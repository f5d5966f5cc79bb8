// Who may use the web UI: the token (or web_password) once in the query, then a cookie made
// from it, or a Bearer header; the Host header must name the UI itself (no DNS rebinding);
// a WebSocket's, or a changing request's, Origin must be the UI's own. Pure functions over
// header values, so every rule is tested without sockets.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

export const COOKIE_NAME = "interloper_web";

/** What a request is checked against. */
export interface AccessRules {
  /** The token or password. */
  secret: string;
  /** The names the Host header may give (lowercase; IPv6 in brackets), without port. */
  hostNames: ReadonlySet<string>;
  port: number;
}

/** How a request proved itself, or undefined when it did not. */
export type Credential = "query" | "cookie" | "bearer";

/** Whether `host` is a loopback address or `localhost` (nothing else can reach it). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1") return true;
  if (h.startsWith("::ffff:")) return isLoopback(h.slice(7));
  return isIP(h) === 4 && h.startsWith("127.");
}

/** A Host-header spelling of an address: IPv6 in brackets, lowercase. */
export function hostSpelling(address: string): string {
  const a = address.toLowerCase();
  return isIP(a) === 6 ? `[${a}]` : a;
}

/**
 * The names the UI answers to when it listens on `webHost`: the name given, `localhost` and the
 * loopback addresses for a loopback or all-interfaces address, and every local address for the
 * latter (`interfaceAddresses`).
 */
export function listeningNames(webHost: string, interfaceAddresses: readonly string[]): Set<string> {
  const names = new Set<string>();
  const given = webHost.trim();
  const all = given === "" || given === "0.0.0.0" || given === "::";
  if (!all) names.add(hostSpelling(given));
  if (all || isLoopback(given)) for (const n of ["localhost", "127.0.0.1", "[::1]"]) names.add(n);
  if (all) for (const a of interfaceAddresses) names.add(hostSpelling(a.replace(/%.*$/, "")));
  return names;
}

/** Whether the Host header names the UI (`name:port`; the port may be left out only when it is 80). */
export function hostAllowed(hostHeader: string | undefined, rules: AccessRules): boolean {
  if (hostHeader === undefined) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostHeader.trim());
  if (!m) return false;
  const port = m[2] === undefined ? 80 : Number(m[2]);
  return port === rules.port && rules.hostNames.has(m[1]!.toLowerCase());
}

/** Whether an Origin header is the UI's own page (`http://` + the Host the request came with). */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined || hostHeader === undefined) return false;
  return origin.toLowerCase() === `http://${hostHeader.trim().toLowerCase()}`;
}

/** The cookie's value: derived from the secret, so the cookie store never holds the password itself. */
export function cookieValue(secret: string): string {
  return createHmac("sha256", secret).update("interloper web cookie").digest("base64url");
}

/** `name=value; …` of a Cookie header as a map (the first of a name wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? "" : part.slice(0, eq).trim();
    if (name !== "" && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** Compares secrets without telling their difference by timing. */
export function sameSecret(given: string, secret: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(secret).digest();
  return timingSafeEqual(a, b);
}

/** How the request proves it may use the UI, if it does. */
export function credentialOf(
  query: URLSearchParams,
  headers: { cookie?: string; authorization?: string },
  secret: string,
): Credential | undefined {
  const token = query.get("token");
  if (token !== null && sameSecret(token, secret)) return "query";
  const cookie = parseCookies(headers.cookie).get(COOKIE_NAME);
  if (cookie !== undefined && sameSecret(cookie, cookieValue(secret))) return "cookie";
  const auth = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  if (auth && sameSecret(auth[1]!, secret)) return "bearer";
  return undefined;
}

/** The Set-Cookie header given after a token in the query. */
export function setCookieHeader(secret: string): string {
  return `${COOKIE_NAME}=${cookieValue(secret)}; HttpOnly; SameSite=Strict; Path=/`;
}
