// Where one request goes and how it gets there: the tunnel's server, or for
// an absolute-form request a connection per authority (in upstream mode the
// upstream proxy for plain HTTP, a CONNECT tunnel through it for https). A
// request the hooks pointed elsewhere (reroute.ts) gets the route to its new
// destination, on a connection of the client's pool.
import type { Address, Headers, Request, ServerConnection } from "@interloper/sdk";
import type { ServerConn, UpstreamProxy } from "../../connection/server-conn.ts";
import { ServerConnectError } from "../../connection/server-conn.ts";
import { describeNetError } from "../../connection/net-errors.ts";
import type { HttpContext } from "../frontend.ts";
import { Turns } from "../turns.ts";
import { sendHttp1, sendHttp2, type UpstreamExchange } from "../upstream.ts";
import { destinationOf, reroute, type Destination } from "./reroute.ts";

/** What the exchange needs of the way to the server (a fake one in tests). */
export interface UpstreamRoute {
  /** The server connection the flow shows as `flow.server`. */
  readonly server: ServerConnection;
  /**
   * The route for the request as the hooks left it: this one while it names
   * the same destination, else the route to the new one; a string says why
   * the destination an addon set cannot be reached.
   */
  forRequest(request: Request): UpstreamRoute | string;
  /** Why nothing can be sent, when the tunnel's server never came up (or its TLS failed). */
  failure(): string | undefined;
  /** Connects (and speaks TLS) where the request needs it and nothing has yet; nothing when nothing is to do. */
  prepare(): void | Promise<void>;
  /**
   * Sends the head (and leaves the body to the caller); a promise only when it must wait (a connect).
   * The response fails with NoAnswer when the server sends no head within `answerWithinMs` (0: no bound)
   * of the request, or of the last of its bytes the server took.
   */
  send(request: Request, headers: Headers, answerWithinMs: number): UpstreamExchange | Promise<UpstreamExchange>;
  /** Runs `step` when the server connection is this request's to use (shared HTTP/1 connections take turns). */
  inTurn<T>(step: () => Promise<T>): Promise<T>;
}

/** Where routes get server connections: the client connection's pool (a ClientSession, or client replay's owner). */
export interface ServerSource {
  /** The server connection for this destination, shared by the client's requests to it. */
  serverFor(address: Address, tls: boolean, via?: UpstreamProxy): ServerConn;
  /** The upstream proxy in upstream mode. */
  upstreamProxy(): UpstreamProxy | undefined;
  /** The ALPN protocols to offer a server the route speaks TLS to itself (not a tunnel's). */
  serverAlpn(): string[];
}

/** HTTP/2 clients' requests that share one HTTP/1 server connection (one request at a time on it). */
const sharedHttp1 = new Turns<ServerConn>();
/** TLS being set up on a connection of the pool. */
const preparing = new WeakMap<ServerConn, Promise<void>>();

export class ServerRoute implements UpstreamRoute {
  constructor(
    readonly conn: ServerConn,
    private readonly isTunnel: boolean,
    /** Upstream mode, plain HTTP: the request goes to this proxy in absolute form. */
    readonly viaProxy: UpstreamProxy | undefined,
    /** The client multiplexes streams (HTTP/2). */
    private readonly multiplexed: boolean,
    /** Where the request pointed when this route was chosen, and where a route elsewhere gets its connection. */
    private readonly chosen?: { for: Destination; servers: ServerSource },
  ) {}

  /** The route of a request as it arrives: the tunnel's server, or its own destination's. */
  static for(
    ctx: { session: ServerSource; tunnel?: HttpContext["tunnel"] },
    request: Request,
    multiplexed: boolean,
  ): ServerRoute {
    const destination = destinationOf(request);
    if (!ctx.tunnel) return ServerRoute.to(ctx.session, destination, multiplexed);
    return new ServerRoute(ctx.tunnel.server, true, undefined, multiplexed, { for: destination, servers: ctx.session });
  }

  /** The route to `destination` on a connection from `servers` (upstream mode: through the upstream proxy). */
  static to(servers: ServerSource, destination: Destination, multiplexed: boolean): ServerRoute {
    const chosen = { for: destination, servers };
    const upstream = servers.upstreamProxy();
    if (upstream && destination.scheme === "http") {
      const conn = servers.serverFor({ host: upstream.host, port: upstream.port }, upstream.scheme === "https");
      return new ServerRoute(conn, false, upstream, multiplexed, chosen);
    }
    const { host, port } = destination;
    const conn = servers.serverFor({ host, port }, destination.scheme === "https", upstream);
    return new ServerRoute(conn, false, undefined, multiplexed, chosen);
  }

  get server(): ServerConnection {
    return this.conn.data;
  }

  forRequest(request: Request): ServerRoute | string {
    const chosen = this.chosen;
    if (!chosen) return this;
    const change = reroute(chosen.for, request);
    if (change.kind === "same") return this;
    if (change.kind === "invalid") return change.reason;
    return ServerRoute.to(chosen.servers, change.to, this.multiplexed);
  }

  failure(): string | undefined {
    const { conn } = this;
    return this.isTunnel && conn.connectFailed && !conn.connected ? conn.data.error : undefined;
  }

  /** Requests for https on a route of their own (and https upstream proxies) are spoken over TLS. */
  prepare(): void | Promise<void> {
    const { conn } = this;
    if (this.isTunnel || !conn.data.tls || conn.data.tlsEstablished) return;
    // Streams of an HTTP/2 client may share the connection: one handshake for all.
    let ready = preparing.get(conn);
    if (!ready) {
      ready = this.connectTls().finally(() => preparing.delete(conn));
      preparing.set(conn, ready);
    }
    return ready;
  }

  private async connectTls(): Promise<void> {
    const { conn } = this;
    await conn.connect();
    if (conn.data.tlsEstablished) return;
    // An upstream proxy is spoken HTTP/1 to; a server is offered what the client's protocols allow.
    const alpn = this.viaProxy ? ["http/1.1"] : (this.chosen?.servers.serverAlpn() ?? ["http/1.1"]);
    await conn.startTls({ sni: sniFor(conn.data.address.host), alpn });
  }

  // Not async: a kept-alive HTTP/1 connection is ready, and the request goes out in this tick.
  send(request: Request, headers: Headers, answerWithinMs: number): UpstreamExchange | Promise<UpstreamExchange> {
    this.addProxyAuth(headers);
    if (this.conn.data.alpn === "h2" && !this.viaProxy) return sendHttp2(this.conn, request, headers, answerWithinMs);
    // An HTTP/2 client's request to an HTTP/1 server needs a Host header.
    if (!headers.has("host")) headers.fields.unshift(["Host", request.authority]);
    const ready = this.conn.readyForHttp1();
    if (ready) return ready.then(() => sendHttp1(this.conn, request, headers, this.viaProxy, answerWithinMs));
    return sendHttp1(this.conn, request, headers, this.viaProxy, answerWithinMs);
  }

  addProxyAuth(headers: Headers): void {
    const auth = this.viaProxy?.auth;
    if (auth) headers.set("Proxy-Authorization", `Basic ${Buffer.from(auth).toString("base64")}`);
  }

  /**
   * Streams of an HTTP/2 client take turns on an HTTP/1 server connection: each then finds it ready
   * (reconnected if the response before said `Connection: close`) instead of queued behind a close.
   */
  inTurn<T>(step: () => Promise<T>): Promise<T> {
    if (!this.multiplexed || this.conn.data.alpn === "h2") return step();
    return this.takingTurns(step);
  }

  private async takingTurns<T>(step: () => Promise<T>): Promise<T> {
    const wait = sharedHttp1.take(this.conn);
    if (wait) await wait;
    try {
      return await step();
    } finally {
      sharedHttp1.release(this.conn);
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
