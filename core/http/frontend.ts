import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import type { ClientSession } from "../connection/client-session.ts";
import { Http2ClientGuard } from "../connection/h2-client-guard.ts";
import type { ServerConn } from "../connection/server-conn.ts";
import { startHeadersTimeoutCheck } from "../platform/node-internals.ts";
import { textResponse } from "./raw.ts";

/** Where the HTTP requests read from one socket go. */
export interface HttpContext {
  session: ClientSession;
  /**
   * Set inside a tunnel (CONNECT, or a mode with a fixed destination): every
   * request goes to this server. Unset for an explicit proxy connection, where
   * each request names its destination (absolute form).
   */
  tunnel?: { server: ServerConn; scheme: "http" | "https" };
}

export type RequestHandler = (
  ctx: HttpContext,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;
export type ConnectHandler = (ctx: HttpContext, req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void;
export type UpgradeHandler = ConnectHandler;

/**
 * Node's HTTP/1 server (llhttp) reads the client side: keep-alive, pipelining,
 * chunked bodies, limits. It never listens itself: the proxy hands it sockets
 * (plain, TLS-terminated, or tunnels) with `accept`.
 */
export class HttpFrontend {
  private readonly server: http.Server;
  private readonly contexts = new WeakMap<net.Socket, HttpContext>();
  /** Node's HTTP/2 server (nghttp2) for clients that negotiated h2 or sent the h2c preface. */
  private readonly h2server: http2.Http2Server;
  private readonly h2contexts = new WeakMap<http2.Http2Session, HttpContext>();
  private pendingH2: { ctx: HttpContext; socket: net.Socket } | undefined;
  private idleTimeoutMs: number;

  constructor(
    opts: { maxHeaderSize: number; idleTimeoutMs: number },
    onRequest: RequestHandler,
    onConnect: ConnectHandler,
    onUpgrade: UpgradeHandler,
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.server = http.createServer({
      maxHeaderSize: opts.maxHeaderSize,
      // Bodies may stream for as long as they need; idle sockets are limited instead.
      requestTimeout: 0,
      headersTimeout: headTimeout(opts.idleTimeoutMs),
      connectionsCheckingInterval: 1000,
      keepAliveTimeout: opts.idleTimeoutMs,
      noDelay: true,
    });
    this.server.timeout = 0;
    // Every field is forwarded (Node would drop those past the 2,000th silently); max_header_size bounds the head.
    this.server.maxHeadersCount = 0;
    // Node checks headersTimeout only on servers that listen: the check starts on 'listening'. This
    // server never listens (sockets are handed to it), so without this a client trickling its request
    // head (slowloris) would hold its connection forever.
    startHeadersTimeoutCheck(this.server);
    this.h2server = http2.createServer({ maxSessionMemory: 64, settings: { maxConcurrentStreams: 250 } });
    this.h2server.setTimeout(0);
    // The session is made synchronously inside 'connection': that is when we know its context.
    this.h2server.on("session", (session: http2.ServerHttp2Session) => {
      session.on("error", () => {});
      const pending = this.pendingH2;
      if (!pending) return;
      this.h2contexts.set(session, pending.ctx);
      const { session: client } = pending.ctx;
      client.http2 = new Http2ClientGuard(session, pending.socket, this.idleTimeoutMs, (level, msg) =>
        client.log(level, msg),
      );
    });
    this.h2server.on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      const ctx = this.h2contexts.get(req.stream.session as http2.Http2Session);
      if (!ctx) {
        req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      void dispatchHttp2(req.stream, () => onRequest(ctx, req, res));
    });
    this.h2server.on("sessionError", () => {});
    this.server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const ctx = this.contexts.get(req.socket);
      if (!ctx) {
        res.destroy();
        return;
      }
      onRequest(ctx, req, res);
    });
    this.server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const ctx = this.contexts.get(socket);
      if (!ctx) {
        socket.destroy();
        return;
      }
      onConnect(ctx, req, socket, head);
    });
    this.server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const ctx = this.contexts.get(socket);
      if (!ctx) {
        socket.destroy();
        return;
      }
      onUpgrade(ctx, req, socket, head);
    });
    this.server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
      const ctx = this.contexts.get(socket);
      if (err.code === "ECONNRESET" || err.code === "EPIPE" || !socket.writable) {
        socket.destroy();
        return;
      }
      const [status, reason] =
        err.code === "HPE_HEADER_OVERFLOW"
          ? [431, "Request Header Fields Too Large"]
          : err.code === "ERR_HTTP_REQUEST_TIMEOUT" || err.code === "ERR_HTTP_HEADERS_TIMEOUT"
            ? [408, "Request Timeout"]
            : [400, "Bad Request"];
      const why = `${err.code ?? "error"}: ${err.message.replace(/^Parse Error: /, "")}`;
      ctx?.session.log("warn", `malformed HTTP request (${why}): ${status} ${reason}`);
      socket.end(textResponse(status, reason, `${status} ${reason}: ${why}`));
      socket.destroySoon?.();
    });
  }

  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    this.server.keepAliveTimeout = ms;
    this.server.headersTimeout = headTimeout(ms);
  }

  /** Reads HTTP requests from `socket` (bytes already read may be `unshift`ed back first). */
  accept(socket: net.Socket, ctx: HttpContext): void {
    // From here on the HTTP server's own timeouts apply (request head, keep-alive).
    ctx.session.setupDone();
    this.contexts.set(socket, ctx);
    this.server.emit("connection", socket);
  }

  /** Reads HTTP/2 from `socket` (after ALPN h2, or the h2c connection preface). */
  acceptHttp2(socket: net.Socket, ctx: HttpContext): void {
    ctx.session.setupDone();
    this.pendingH2 = { ctx, socket };
    try {
      this.h2server.emit("connection", socket);
    } finally {
      this.pendingH2 = undefined;
    }
    // nghttp2 takes the bytes from the socket's handle; reading must be started — after the session
    // has taken the bytes already buffered (the h2c preface we peeked), which it does on the next tick.
    setImmediate(() => socket.resume());
  }

  close(): void {
    this.server.closeAllConnections?.();
    // Stops the headers-timeout check (the server itself never listened: the callback gets that error).
    this.server.close(() => {});
  }
}

/**
 * Hands an HTTP/2 stream to the exchange once the frames read with its
 * HEADERS have been processed: a stream the client reset in the same read
 * (rapid reset: HEADERS then RST_STREAM, over and over) never becomes a
 * request to a server. A client that does not read what it asked for already
 * gets no new work done for it until it does.
 */
async function dispatchHttp2(stream: http2.ServerHttp2Stream, run: () => void): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  const guard = Http2ClientGuard.of(stream);
  if (stream.destroyed || stream.closed || !guard || guard.closing) return;
  await guard.untilClientReads(stream);
  if (stream.destroyed || stream.closed) return;
  run();
}

/** How long a request head may take to arrive once it has begun: the idle timeout, at most a minute (Node's default). */
function headTimeout(idleTimeoutMs: number): number {
  return idleTimeoutMs > 0 ? Math.min(idleTimeoutMs, 60_000) : 0;
}
