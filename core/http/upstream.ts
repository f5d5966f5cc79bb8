import * as http2 from "node:http2";
import type { Readable, Writable } from "node:stream";
import type { Headers, Request } from "@interloper/sdk";
import type { ServerConn, UpstreamProxy } from "../connection/server-conn.ts";
import type { H1Exchange, H1Result, TakenBody } from "./h1-client.ts";
import { NoAnswer } from "./no-answer.ts";

/**
 * A request on its way to the server: give the body with `end(body)` (known)
 * or write it into `stream()` (streamed), then await `response`. It fails with
 * NoAnswer when the server stays silent for the bound it was sent with.
 */
export interface UpstreamExchange {
  end(body: Buffer): void;
  stream(): Writable;
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
  /** The whole body when it was read with the head (then reading `body` is not needed). */
  complete?: Buffer;
  /** HTTP/1 with Content-Length: the rest of the body to move without the stream (see TakenBody). */
  takeBody?: () => TakenBody | undefined;
  /** Trailer fields once the body has ended, if the server sent any. */
  trailers(): string[] | undefined;
}

/** Fields HTTP/2 forbids (RFC 9113 §8.2.2); Node refuses to send them. */
export const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/**
 * Starts an HTTP/1 request on the server connection, with the fields in wire
 * order and spelling (nothing added but the framing a body needs). Throws for
 * a method, target or field that cannot go on the wire.
 */
export function startHttp1Request(
  conn: ServerConn,
  request: Request,
  headers: Headers,
  viaProxy: UpstreamProxy | undefined,
  answerWithinMs: number,
  upgrade = false,
): H1Exchange {
  return conn.http1().request({
    method: request.method,
    target: viaProxy ? request.url : request.path || "/",
    fields: headers.fields,
    upgrade,
    answerWithinMs,
  });
}

/** Sends the request over HTTP/1 (one request at a time per server connection). */
export function sendHttp1(
  conn: ServerConn,
  request: Request,
  headers: Headers,
  viaProxy: UpstreamProxy | undefined,
  answerWithinMs: number,
): UpstreamExchange {
  const x = startHttp1Request(conn, request, headers, viaProxy, answerWithinMs);
  const response = x.response.then((r): UpstreamResponse => {
    // Only an upgrade request can be upgraded; the parser refuses a 101 otherwise.
    if (r.kind !== "response") throw new Error("server switched protocols unasked");
    return new Http1Response(r);
  });
  response.catch(() => {});
  return { end: (body) => x.end(body), stream: () => x.stream(), response, destroy: () => x.destroy() };
}

/** An HTTP/1 response as the exchange reads it (the body stream only made when read). */
class Http1Response implements UpstreamResponse {
  readonly status: number;
  readonly reason: string;
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  readonly complete: Buffer | undefined;
  readonly trailers: () => string[] | undefined;
  readonly takeBody: (() => TakenBody | undefined) | undefined;
  constructor(private readonly r: Extract<H1Result, { kind: "response" }>) {
    this.takeBody = r.takeBody;
    this.status = r.head.status;
    this.reason = r.head.reason;
    this.rawHeaders = r.head.rawHeaders;
    this.httpVersion = r.head.httpVersion;
    this.complete = r.complete;
    this.trailers = r.trailers;
  }

  get body(): Readable {
    return this.r.body;
  }
}

/** Sends the request over the server connection's HTTP/2 session (one stream per request). */
export async function sendHttp2(
  conn: ServerConn,
  request: Request,
  headers: Headers,
  answerWithinMs: number,
): Promise<UpstreamExchange> {
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
    // The stream's own timer: frames either way (the server taking the body) restart it. While the
    // request is not all there and nothing waits for the server to take it, the client is the slow one.
    const silent = (): void => {
      if (answered) return;
      if (!stream.writableEnded && stream.writableLength === 0) return void stream.setTimeout(answerWithinMs, silent);
      reject(new NoAnswer(answerWithinMs));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    if (answerWithinMs > 0) stream.setTimeout(answerWithinMs, silent);
    stream.once(
      "response",
      (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, _flags: number, raw?: string[]) => {
        answered = true;
        if (answerWithinMs > 0) stream.setTimeout(0, silent);
        const rawHeaders: string[] = [];
        const list =
          raw ?? Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, String(v)]));
        for (let i = 0; i + 1 < list.length; i += 2)
          if (!list[i]!.startsWith(":")) rawHeaders.push(list[i]!, list[i + 1]!);
        resolve({
          status: Number(h[":status"] ?? 502),
          reason: undefined,
          rawHeaders,
          httpVersion: "HTTP/2.0",
          body: stream,
          trailers: () => trailers,
        });
      },
    );
    stream.once("error", reject);
    stream.once("close", () => {
      if (answered) return;
      const code = stream.rstCode;
      reject(
        new Error(
          code ? `server reset the stream (${http2ErrorName(code)})` : "server closed the stream without a response",
        ),
      );
    });
  });
  response.catch(() => {});
  return {
    end: (body) => void stream.end(body),
    stream: () => stream,
    response,
    destroy: () => stream.close(http2.constants.NGHTTP2_CANCEL),
  };
}

function http2ErrorName(code: number): string {
  for (const [k, v] of Object.entries(http2.constants))
    if (k.startsWith("NGHTTP2_") && v === code && !k.includes("_FLAG_") && !k.includes("SETTINGS")) return k.slice(8);
  return `code ${code}`;
}
