import { expiryOf, type SetCookie } from "./set-cookie.ts";

/**
 * The sticky cookie jar: cookies by (domain, port, path), as mitmproxy keys
 * them. Pure: the caller passes the request's host, port, path and the time.
 */
export class CookieJar {
  /** `domain \n port \n path` → cookie name → value and expiry. Map order is age order (oldest first). */
  private readonly origins = new Map<string, Map<string, StoredCookie>>();
  private count = 0;

  constructor(private readonly limit = 10_000) {}

  /** How many cookies the jar holds. */
  get size(): number {
    return this.count;
  }

  /**
   * Takes the cookies a response from `host:port` set. A cookie whose Domain
   * the host does not domain-match is left out (a server cannot set cookies
   * for another site); an expired one (`Max-Age=0`, an `Expires` in the
   * past) removes the cookie of that name.
   */
  store(host: string, port: number, cookies: readonly SetCookie[], nowMs: number): void {
    for (const cookie of cookies) {
      const domain = (nonEmpty(cookie.attributes.get("domain")) ?? host).toLowerCase();
      if (!domainMatch(host, domain)) continue;
      const path = cookie.attributes.get("path")?.startsWith("/") ? cookie.attributes.get("path")! : "/";
      const key = `${domain}\n${port}\n${path}`;
      const expires = expiryOf(cookie, nowMs);
      if ((expires !== undefined && expires <= nowMs) || cookie.name.length + cookie.value.length > MAX_COOKIE_BYTES) {
        this.remove(key, cookie.name);
        continue;
      }
      let names = this.origins.get(key);
      if (!names) this.origins.set(key, (names = new Map<string, StoredCookie>()));
      // A cookie set again keeps its place: Map.set on a present name changes only its value.
      if (!names.has(cookie.name)) this.count++;
      names.set(cookie.name, { value: cookie.value, expires });
      if (this.count > this.limit) this.dropOldest();
    }
  }

  /** `name=value` pairs for a request to `host:port` + `path` (query ignored); expired ones are dropped. */
  cookiesFor(host: string, port: number, path: string, nowMs: number): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const requestPath = path.split(/[?#]/, 1)[0] || "/";
    for (const [key, names] of this.origins) {
      const [domain, keyPort, cookiePath] = key.split("\n") as [string, string, string];
      if (Number(keyPort) !== port || !domainMatch(host, domain) || !pathMatch(requestPath, cookiePath)) continue;
      for (const [name, cookie] of names) {
        if (cookie.expires !== undefined && cookie.expires <= nowMs) this.remove(key, name);
        else out.push([name, cookie.value]);
      }
    }
    return out;
  }

  private remove(key: string, name: string): void {
    const names = this.origins.get(key);
    if (!names?.delete(name)) return;
    this.count--;
    if (names.size === 0) this.origins.delete(key);
  }

  private dropOldest(): void {
    const [key, names] = this.origins.entries().next().value!;
    this.remove(key, names.keys().next().value!);
  }
}

interface StoredCookie {
  value: string;
  /** Milliseconds since the epoch; undefined for a session cookie (kept while the proxy runs). */
  expires: number | undefined;
}

/** RFC 6265 §6.1: browsers keep cookies of at least 4096 bytes; larger ones are not kept here. */
const MAX_COOKIE_BYTES = 4096;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * mitmproxy's domain match: `host` domain-matches `domain` when they are
 * equal (ignoring case and a leading dot of `domain`), or `domain` starts
 * with a dot and `host` ends with it (`www.example.com` and `.example.com`).
 * A Domain without a leading dot therefore names that host alone, as in
 * mitmproxy. (Python's cookiejar, which mitmproxy calls, also takes
 * `a.example.com.evil.net` for `.example.com`: the suffix is checked here.)
 */
export function domainMatch(host: string, domain: string): boolean {
  return rfc2965Match(host, domain) || rfc2965Match(host, domain.replace(/^\.+|\.+$/g, ""));
}

function rfc2965Match(a: string, b: string): boolean {
  const host = a.toLowerCase();
  const domain = b.toLowerCase();
  if (host === domain) return true;
  if (!isHostDomainName(host) || !domain.startsWith(".")) return false;
  return host.endsWith(domain) && host.length > domain.length && isHostDomainName(domain.slice(1));
}

/** A host domain name (RFC 2965): not empty, no dot at either end, not ending like an IPv4 address. */
function isHostDomainName(text: string): boolean {
  return text !== "" && !/\.\d+$/.test(text) && !text.startsWith(".") && !text.endsWith(".");
}

/**
 * RFC 6265 §5.1.4 path match: `/docs` matches `/docs`, `/docs/` and
 * `/docs/x`, not `/docsearch`. (mitmproxy compares the start of the path
 * only, so `/docs` also took `/docsearch`.)
 */
export function pathMatch(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
