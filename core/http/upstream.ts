import * as http from "node:http";
import * as http2 from "node:http2";
import type { Readable, Writable } from "node:stream";
import type { Headers, Request } from "@interloper/sdk";
import type { ServerConn, UpstreamProxy } from "../server-conn.ts";

/** A request on its way to the server: write the body into `body`, await `response`. */
export interface UpstreamExchange {
  body: Writable;
  response: Promise<UpstreamResponse>;
  destroy(): void;
}

export interface UpstreamResponse {
  status: number;
  /** The reason phrase (HTTP/1 only; HTTP/2 has none). */
  reason: string | undefined;
  rawHeaders: string[];
  httpVersion: string;
  body: Readable;
  /** Trailer fields once the body has ended, if the server sent any. */
  trailers(): string[] | undefined;
}

/** Fields HTTP/2 forbids (RFC 9113 §8.2.2); Node refuses to send them. */
export const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

const ADDED_CONNECTION = "Connection: keep-alive\r\n\r\n";

/**
 * Starts an HTTP/1 request to the server (Node's client over the connection's
 * agent), with the fields in wire order and spelling and nothing added.
 */
export function startHttp1Request(conn: ServerConn, request: Request, headers: Headers, viaProxy: UpstreamProxy | undefined): http.ClientRequest {
  const r = http.request({
    agent: conn.agent,
    host: conn.data.address.host,
    port: conn.data.address.port,
    method: request.method,
    path: viaProxy ? request.url : request.path || "/",
    headers: headers.toRaw() as unknown as http.OutgoingHttpHeaders,
    setHost: false,
  });
  // With a raw field list Node writes the head at once and appends `Connection: keep-alive`
  // for its agent. The server gets the client's fields only: drop that line.
  if (!headers.has("connection")) {
    const internal = r as unknown as { _header?: string };
    if (typeof internal._header === "string" && internal._header.endsWith(ADDED_CONNECTION)) {
      internal._header = `${internal._header.slice(0, -ADDED_CONNECTION.length)}\r\n`;
    }
  }
  r.on("error", () => {});
  return r;
}

/** Sends the request over HTTP/1 (Node's client, one kept-alive connection per server connection). */
export function sendHttp1(conn: ServerConn, request: Request, headers: Headers, viaProxy: UpstreamProxy | undefined): UpstreamExchange {
  const r = startHttp1Request(conn, request, headers, viaProxy);
  const response = new Promise<UpstreamResponse>((resolve, reject) => {
    let answered = false;
    r.once("response", (res: http.IncomingMessage) => {
      answered = true;
      resolve({
        status: res.statusCode ?? 502,
        reason: res.statusMessage ?? "",
        rawHeaders: res.rawHeaders,
        httpVersion: `HTTP/${res.httpVersion}`,
        body: res,
        trailers: () => (res.rawTrailers.length > 0 ? res.rawTrailers : undefined),
      });
    });
    r.once("error", reject);
    // Every request closes; only one without an answer is an error (an Error's stack trace is not free).
    r.once("close", () => {
      if (!answered) reject(new Error("server closed the connection without a response"));
    });
  });
  return { body: r, response, destroy: () => r.destroy() };
}

/** Sends the request over the server connection's HTTP/2 session (one stream per request). */
export async function sendHttp2(conn: ServerConn, request: Request, headers: Headers): Promise<UpstreamExchange> {
  const session = await conn.http2Session();
  const h2headers: http2.OutgoingHttpHeaders = {
    ":method": request.method,
    ":scheme": request.scheme,
    ":path": request.path || "/",
    ":authority": headers.get("host") ?? request.authority,
  };
  for (const [name, value] of headers.fields) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower) || lower.startsWith(":")) continue;
    if (lower === "te" && value.toLowerCase() !== "trailers") continue;
    const prev = h2headers[lower];
    h2headers[lower] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  const stream = session.request(h2headers, { endStream: false });
  stream.on("error", () => {});
  let trailers: string[] | undefined;
  stream.once("trailers", (_h: unknown, _f: unknown, raw?: string[]) => {
    trailers = raw;
  });
  const response = new Promise<UpstreamResponse>((resolve, reject) => {
    let answered = false;
    stream.once("response", (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, _flags: number, raw?: string[]) => {
      answered = true;
      const rawHeaders: string[] = [];
      const list = raw ?? Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, String(v)]));
      for (let i = 0; i + 1 < list.length; i += 2) if (!list[i]!.startsWith(":")) rawHeaders.push(list[i]!, list[i + 1]!);
      resolve({ status: Number(h[":status"] ?? 502), reason: undefined, rawHeaders, httpVersion: "HTTP/2.0", body: stream, trailers: () => trailers });
    });
    stream.once("error", reject);
    stream.once("close", () => {
      if (answered) return;
      const code = stream.rstCode;
      reject(new Error(code ? `server reset the stream (${http2ErrorName(code)})` : "server closed the stream without a response"));
    });
  });
  return { body: stream, response, destroy: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
}

function http2ErrorName(code: number): string {
  for (const [k, v] of Object.entries(http2.constants)) if (k.startsWith("NGHTTP2_") && v === code && !k.includes("_FLAG_") && !k.includes("SETTINGS")) return k.slice(8);
  return `code ${code}`;
}
