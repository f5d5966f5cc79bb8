// Where one request goes and how it gets there: the tunnel's server, or for
// an absolute-form request a connection per authority (in upstream mode the
// upstream proxy for plain HTTP, a CONNECT tunnel through it for https).
import type { Headers, Request } from "@interloper/sdk";
import type { ServerConn, UpstreamProxy } from "../../connection/server-conn.ts";
import { ServerConnectError } from "../../connection/server-conn.ts";
import { describeNetError } from "../../connection/net-errors.ts";
import type { HttpContext } from "../frontend.ts";
import { Turns } from "../turns.ts";
import { sendHttp1, sendHttp2, type UpstreamExchange } from "../upstream.ts";

/** What the exchange needs of the way to the server (a fake one in tests). */
export interface UpstreamRoute {
  /** Why nothing can be sent, when the tunnel's server never came up (or its TLS failed). */
  failure(): string | undefined;
  /** Connects (and speaks TLS) where the request needs it and nothing has yet. */
  prepare(): Promise<void>;
  /** Sends the head (and leaves the body to the caller). */
  send(request: Request, headers: Headers): Promise<UpstreamExchange>;
  /** Runs `step` when the server connection is this request's to use (shared HTTP/1 connections take turns). */
  inTurn<T>(step: () => Promise<T>): Promise<T>;
}

/** HTTP/2 clients' requests that share one HTTP/1 server connection (one request at a time on it). */
const sharedHttp1 = new Turns<ServerConn>();

export class ServerRoute implements UpstreamRoute {
  constructor(
    readonly conn: ServerConn,
    private readonly isTunnel: boolean,
    /** Upstream mode, plain HTTP: the request goes to this proxy in absolute form. */
    readonly viaProxy: UpstreamProxy | undefined,
    /** The client multiplexes streams (HTTP/2). */
    private readonly multiplexed: boolean,
  ) {}

  static for(ctx: HttpContext, request: Request, multiplexed: boolean): ServerRoute {
    if (ctx.tunnel) return new ServerRoute(ctx.tunnel.server, true, undefined, multiplexed);
    const { session } = ctx;
    const upstream = session.upstreamProxy();
    if (upstream && request.scheme === "http") {
      const conn = session.serverFor({ host: upstream.host, port: upstream.port }, upstream.scheme === "https");
      return new ServerRoute(conn, false, upstream, multiplexed);
    }
    const conn = session.serverFor({ host: request.host, port: request.port }, request.scheme === "https", upstream);
    return new ServerRoute(conn, false, undefined, multiplexed);
  }

  failure(): string | undefined {
    const { conn } = this;
    return this.isTunnel && conn.connectFailed && !conn.connected ? conn.data.error : undefined;
  }

  /** Absolute-form requests for https (and https upstream proxies) are spoken over TLS. */
  async prepare(): Promise<void> {
    const { conn } = this;
    if (this.isTunnel || !conn.data.tls || conn.data.tlsEstablished) return;
    await conn.connect();
    if (!conn.data.tlsEstablished) await conn.startTls({ sni: sniFor(conn.data.address.host), alpn: ["http/1.1"] });
  }

  async send(request: Request, headers: Headers): Promise<UpstreamExchange> {
    this.addProxyAuth(headers);
    if (this.conn.data.alpn === "h2" && !this.viaProxy) return sendHttp2(this.conn, request, headers);
    // An HTTP/2 client's request to an HTTP/1 server needs a Host header.
    if (!headers.has("host")) headers.fields.unshift(["Host", request.authority]);
    await this.conn.readyForHttp1();
    return sendHttp1(this.conn, request, headers, this.viaProxy);
  }

  addProxyAuth(headers: Headers): void {
    const auth = this.viaProxy?.auth;
    if (auth) headers.set("Proxy-Authorization", `Basic ${Buffer.from(auth).toString("base64")}`);
  }

  /**
   * Streams of an HTTP/2 client take turns on an HTTP/1 server connection: each then finds it ready
   * (reconnected if the response before said `Connection: close`) instead of queued behind a close.
   */
  async inTurn<T>(step: () => Promise<T>): Promise<T> {
    if (!this.multiplexed || this.conn.data.alpn === "h2") return step();
    const turn = sharedHttp1.take(this.conn);
    if (turn.wait) await turn.wait;
    try {
      return await step();
    } finally {
      turn.release();
    }
  }
}

/** What the user reads about a failure on the way to the server. */
export function errorText(err: unknown): string {
  if (err instanceof ServerConnectError) return err.message;
  return describeNetError(err);
}

export function sniFor(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(":") ? undefined : host;
}
