/**
 * What the exports read of a flow: the narrow shape of the sdk's `Request` and
 * `Response` (which satisfy it), so the exports are pure functions testable
 * without a proxy.
 */
export interface ExportFields {
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

export interface ExportRequest {
  readonly method: string;
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** `HTTP/1.1`, `HTTP/2.0`, ... */
  readonly httpVersion: string;
  readonly headers: ExportFields;
  /** The body as sent (content-encoded). */
  readonly body: Uint8Array;
}

export interface ExportResponse {
  readonly status: number;
  readonly reason: string;
  readonly httpVersion: string;
  readonly headers: ExportFields;
  readonly body: Uint8Array;
}

/** Thrown for a flow an export cannot be made of (one line, shown to the user). */
export class ExportError extends Error {
  override readonly name = "ExportError";
}

/** The URL a request went to: brackets around IPv6, default ports left out. */
export function requestUrl(req: ExportRequest): string {
  if (req.method === "CONNECT") throw new ExportError("a CONNECT request has no URL to export");
  return `${req.scheme}://${authority(req)}${req.path.startsWith("/") ? req.path : `/${req.path}`}`;
}

/** `host[:port]` as a URL and a Host header write it. */
export function authority(req: Pick<ExportRequest, "scheme" | "host" | "port">): string {
  const host = req.host.includes(":") ? `[${req.host}]` : req.host;
  return req.port === (req.scheme === "https" ? 443 : 80) ? host : `${host}:${req.port}`;
}

export function isNamed(name: string, lower: string): boolean {
  return name.length === lower.length && name.toLowerCase() === lower;
}

/** The fields a command-line client adds or computes itself, or that HTTP/2 carries as pseudo-headers. */
export function commandFields(req: ExportRequest): Array<readonly [string, string]> {
  const own = authority(req);
  return req.headers.fields.filter(([name, value]) => {
    if (name.startsWith(":")) return false;
    if (isNamed(name, "content-length") || isNamed(name, "transfer-encoding")) return false;
    // Said to the proxy, not to the server (curl sends it through a proxy on its own).
    if (isNamed(name, "proxy-connection")) return false;
    // A Host naming where the request goes is what the client sends anyway; another one (a virtual host) is kept.
    if (isNamed(name, "host") && value.toLowerCase() === own.toLowerCase()) return false;
    return true;
  });
}
