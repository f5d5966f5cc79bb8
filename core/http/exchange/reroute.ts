// Whether a request, as the request hooks left it, still goes to the server
// its route was chosen for. As in mitmproxy, what counts is the request's
// scheme, host and port (an addon that changed `url`, `host`, `port` or
// `scheme`); a changed Host header alone does not send it elsewhere.
// Pure: no sockets.
import { isIP } from "node:net";
import { domainToASCII } from "node:url";

/** Where a request goes: the scheme says whether TLS is spoken to the server. */
export interface Destination {
  scheme: "http" | "https";
  host: string;
  port: number;
}

export type Reroute =
  | { kind: "same" }
  | { kind: "other"; to: Destination }
  /** What an addon set cannot be reached (the flow fails with this text). */
  | { kind: "invalid"; reason: string };

/** Every request that is not rerouted gets this one (no object per request). */
const SAME: Reroute = Object.freeze({ kind: "same" });

/** The destination a request names, as it names it when its route is chosen. */
export function destinationOf(request: Destination): Destination {
  return { scheme: request.scheme, host: request.host, port: request.port };
}

/**
 * Compares `now` (the request after the hooks; typed loosely, since a script
 * may put anything there) with `chosen` (what the route was chosen for).
 */
export function reroute(chosen: Destination, now: { scheme: unknown; host: unknown; port: unknown }): Reroute {
  if (now.scheme === chosen.scheme && now.host === chosen.host && now.port === chosen.port) return SAME;
  const scheme = typeof now.scheme === "string" ? now.scheme.toLowerCase() : now.scheme;
  if (scheme !== "http" && scheme !== "https") {
    return { kind: "invalid", reason: `request.scheme ${show(now.scheme)} is neither http nor https` };
  }
  const host = hostProblem(now.host);
  if (typeof host !== "string") return { kind: "invalid", reason: host.problem };
  const port = now.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { kind: "invalid", reason: `request.port ${show(port)} is not a port number (1 to 65535)` };
  }
  const to: Destination = { scheme, host, port };
  return sameDestination(chosen, to) ? SAME : { kind: "other", to };
}

/** Host names compare without regard to case; an IPv6 address may be written with brackets. */
function sameDestination(a: Destination, b: Destination): boolean {
  return a.scheme === b.scheme && a.port === b.port && bare(a.host).toLowerCase() === b.host.toLowerCase();
}

/** The host without IPv6 brackets, or what is wrong with it. */
function hostProblem(value: unknown): string | { problem: string } {
  if (typeof value !== "string") return { problem: `request.host ${show(value)} is not a string` };
  if (value === "") return { problem: "request.host is empty" };
  let host = bare(value);
  if (host.includes(":")) {
    if (isIP(host) === 6) return host;
    return { problem: `request.host ${show(value)} is not a host name or address (the port goes in request.port)` };
  }
  // A name in another script is looked up in its ASCII (punycode) form, as mitmproxy's IDNA encoding does.
  if (/[^\x00-\x7f]/.test(host)) host = domainToASCII(host) || host;
  // Letters, digits, '-', '_' and dots: what DNS names and IPv4 addresses are written with.
  if (host.length > 253 || !/^[A-Za-z0-9_.-]+$/.test(host)) {
    return { problem: `request.host ${show(value)} is not a host name or address` };
  }
  return host;
}

function bare(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** A value an addon set, quoted and cut short for a one-line message. */
function show(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(cut);
}
