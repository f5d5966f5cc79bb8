// The client's side of one exchange. The exchange says what to answer; a
// responder knows how on its protocol: HTTP/1 keeps the reason phrase and
// the fields' spelling and closes the connection when it must, HTTP/2 drops
// the fields it forbids and ends only its own stream.
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import type { Writable } from "node:stream";
import type { Headers, Response } from "@interloper/sdk";
import { SLICE_BYTES, writeSliced } from "../body.ts";
import { CONNECTION_SPECIFIC } from "../upstream.ts";
import { bodyLength, chunkedFraming, withTrueLength } from "./response-head.ts";

export interface ClientResponder {
  /** The method the client sent (whether a body may follow is its question). */
  readonly method: string;
  /** HTTP/1: requests of one connection keep their order under this key. HTTP/2 streams have none. */
  readonly orderKey: object | undefined;
  /** HTTP/2: many streams may share one HTTP/1 server connection, taking turns on it. */
  readonly multiplexed: boolean;
  readonly headersSent: boolean;
  /** The client is gone (or the exchange was aborted). */
  readonly destroyed: boolean;
  /** The whole answer was handed to the connection. */
  readonly finished: boolean;
  /** Where a streamed body is written. */
  readonly body: Writable;
  /** `length`: the body that will follow, when known (a Content-Length that disagrees is corrected). */
  writeHead(response: Response, length?: number): void;
  addTrailers(trailers: Headers): void;
  /** A whole answer whose body is known; resolves once it was written (or could not be). */
  sendBuffered(response: Response, method: string): Promise<void>;
  /** A plain-text error page (the body says why); `close`: HTTP/1 ends the connection after it. */
  sendError(status: number, message: string, close: boolean): void;
  /** Ends the exchange at once: HTTP/1 the connection, HTTP/2 the stream (INTERNAL_ERROR). */
  abort(): void;
  /** What a killed flow does to its client: HTTP/1 the connection, HTTP/2 the stream (CANCEL). */
  kill(): void;
  /** `listener` runs once the whole answer is out. */
  onAnswered(listener: () => void): void;
  /** `listener` runs when the client's side closes, answered or not. */
  onClose(listener: () => void): void;
  /** After this answer no other request can use the connection: HTTP/1 closes it, HTTP/2 its stream. */
  closeAfterAnswer(): void;
  /** A plain TCP socket the body may be spliced to (HTTP/1 without TLS), once `flushHead` wrote the head. */
  spliceTarget(): { socket: net.Socket; flushHead(): void } | undefined;
  end(): void;
}

/** The responder for Node's response object of either protocol. */
export function responderFor(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): ClientResponder {
  const method = req.method ?? "GET";
  return res instanceof http2.Http2ServerResponse
    ? new H2Responder(res, method)
    : new H1Responder(req as http.IncomingMessage, res, method);
}

abstract class NodeResponder<R extends http.ServerResponse | http2.Http2ServerResponse> {
  constructor(
    protected readonly res: R,
    readonly method: string,
  ) {
    res.sendDate = false;
  }
  abstract writeHead(response: Response, length?: number): void;
  abstract abort(): void;

  get headersSent(): boolean {
    return this.res.headersSent;
  }
  get destroyed(): boolean {
    return this.res.destroyed;
  }
  get finished(): boolean {
    return this.res.writableFinished;
  }
  get body(): Writable {
    return this.res;
  }

  addTrailers(trailers: Headers): void {
    const obj: Record<string, string> = {};
    for (const [k, v] of trailers.fields) obj[k] = obj[k] === undefined ? v : `${obj[k]}, ${v}`;
    this.res.addTrailers(obj);
  }

  async sendBuffered(response: Response, method: string): Promise<void> {
    if (this.res.destroyed) return;
    this.writeHead(response, bodyLength(response, method));
    if (response.trailers && response.trailers.size > 0) this.addTrailers(response.trailers);
    const body = response.body;
    if (body.length <= SLICE_BYTES) return void this.res.end(body);
    // A failure on the way shows as the connection's close, which the exchange already watches.
    await writeSliced(this.body, body, true).catch(() => {});
  }

  onClose(listener: () => void): void {
    this.res.once("close", listener);
  }
  end(): void {
    this.res.end();
  }
}

class H1Responder extends NodeResponder<http.ServerResponse> implements ClientResponder {
  readonly multiplexed = false;
  readonly orderKey: object;

  constructor(
    private readonly req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
  ) {
    super(res, method);
    this.orderKey = req.socket;
  }

  writeHead(response: Response, length?: number): void {
    // Node would add `Connection: keep-alive` and `Keep-Alive: timeout=…`: the client gets the server's fields only.
    if (!response.headers.has("connection")) this.res.removeHeader("connection");
    const fields = chunkedFraming(withTrueLength(response.headers.fields, length));
    const raw = fields === response.headers.fields ? response.headers.toRaw() : fields.flat();
    this.res.writeHead(response.status, response.reason, raw);
  }

  sendError(status: number, message: string, close: boolean): void {
    if (this.res.headersSent || this.res.destroyed) return this.abort();
    const body = `${message}\n`;
    const headers = ["Content-Type", "text/plain; charset=utf-8", "Content-Length", String(Buffer.byteLength(body))];
    if (close) headers.push("Connection", "close");
    this.res.writeHead(status, http.STATUS_CODES[status] ?? "Error", headers);
    this.res.end(body);
  }

  abort(): void {
    this.res.destroy();
  }
  kill(): void {
    this.res.destroy();
    this.req.socket.destroy();
  }
  onAnswered(listener: () => void): void {
    this.res.once("finish", listener);
  }
  closeAfterAnswer(): void {
    this.res.socket?.destroySoon?.();
  }
  spliceTarget(): { socket: net.Socket; flushHead(): void } | undefined {
    const socket = this.res.socket;
    if (!socket || socket instanceof tls.TLSSocket) return undefined;
    return { socket, flushHead: () => this.res.flushHeaders() };
  }
}

class H2Responder extends NodeResponder<http2.Http2ServerResponse> implements ClientResponder {
  readonly multiplexed = true;
  readonly orderKey = undefined;

  /** Http2ServerResponse has no `destroyed` of its own: its stream says whether the client is gone. */
  override get destroyed(): boolean {
    return this.res.stream.destroyed || this.res.stream.closed;
  }

  writeHead(response: Response, length?: number): void {
    const raw: string[] = [];
    for (const [name, value] of withTrueLength(response.headers.fields, length)) {
      if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) raw.push(name.toLowerCase(), value);
    }
    this.res.writeHead(response.status, raw as unknown as http2.OutgoingHttpHeaders);
  }

  sendError(status: number, message: string): void {
    if (this.res.headersSent || this.res.destroyed) return this.abort();
    const body = `${message}\n`;
    this.res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(Buffer.byteLength(body)),
    });
    this.res.end(body);
  }

  abort(): void {
    this.res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
  kill(): void {
    this.res.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
  /** The stream's writable side: the response object itself finishes only when the stream closes,
   *  which a client's unfinished upload holds up. */
  onAnswered(listener: () => void): void {
    this.res.stream.once("finish", listener);
  }
  closeAfterAnswer(): void {
    if (!this.res.stream.closed) this.res.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }
  spliceTarget(): undefined {
    return undefined;
  }
}
