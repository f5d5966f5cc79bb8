// Client replay: a recorded request sent again, through the addon chain and
// the same HTTP exchange as a live one, with no client socket. As in
// mitmproxy, the flow is replayed in place (its response and error are
// replaced, `isReplay` is "request"), on a server connection of its own,
// and its log lines start with "[replay]".
import type * as net from "node:net";
import { Readable } from "node:stream";
import type { Address, ClientConnection, HTTPFlow, LogLevel } from "@interloper/sdk";
import type { ProxyContext } from "../engine/context.ts";
import { ServerConn, type ServerOwner, type UpstreamProxy } from "../connection/server-conn.ts";
import { HttpExchange, exchangeEnv } from "../http/exchange/exchange.ts";
import { destinationOf } from "../http/exchange/reroute.ts";
import { ServerRoute, type ServerSource } from "../http/exchange/server-route.ts";
import { ReplayResponder } from "./replay-responder.ts";

/** The stand-in for the client connection of one replayed request: it owns the server connections. */
class ReplayOwner implements ServerOwner, ServerSource {
  private readonly servers = new Set<ServerConn>();
  private readonly byAuthority = new Map<string, ServerConn>();
  private readonly pending = new Set<net.Socket>();
  private closed = false;
  private allGone: (() => void) | undefined;

  constructor(
    readonly context: ProxyContext,
    readonly client: ClientConnection,
    private readonly upstream: UpstreamProxy | undefined,
  ) {}

  /** The replay's own connection to each destination (a request hook may point the request elsewhere). */
  serverFor(address: Address, tls: boolean, via?: UpstreamProxy): ServerConn {
    const key = `${address.host}:${address.port}:${tls ? "s" : ""}`;
    let conn = this.byAuthority.get(key);
    if (!conn) {
      conn = new ServerConn(this, address, tls, via);
      this.byAuthority.set(key, conn);
    }
    return conn;
  }
  upstreamProxy(): UpstreamProxy | undefined {
    return this.upstream;
  }
  serverAlpn(): string[] {
    return ["http/1.1"];
  }

  log(level: LogLevel, message: string): void {
    this.context.host.log(level, `[replay] ${message}`);
  }
  trackPending(socket: net.Socket): void {
    this.pending.add(socket);
    socket.once("close", () => this.pending.delete(socket));
    if (this.closed) socket.destroy();
  }
  addServer(conn: ServerConn): void {
    this.servers.add(conn);
    if (this.closed) conn.close();
  }
  removeServer(conn: ServerConn): void {
    this.servers.delete(conn);
    if (this.closed && this.servers.size === 0) this.allGone?.();
  }

  /** Closes every server connection; resolves once their disconnect hooks ran. */
  close(): Promise<void> {
    this.closed = true;
    for (const s of this.pending) s.destroy();
    if (this.servers.size === 0) return Promise.resolve();
    const gone = new Promise<void>((resolve) => (this.allGone = resolve));
    for (const conn of this.servers) conn.close();
    return gone;
  }
}

/**
 * Sends `flow`'s request again and waits for its outcome: on return the flow
 * holds the new response, or an error. `upstream`: the upstream proxy in
 * upstream mode (plain HTTP goes to it in absolute form, https through a
 * CONNECT tunnel).
 */
export async function replayRequest(context: ProxyContext, flow: HTTPFlow, upstream?: UpstreamProxy): Promise<void> {
  const request = flow.request;
  flow.response = undefined;
  flow.error = undefined;
  flow.killed = false;
  flow.isReplay = "request";
  request.stream = false;
  request.timestampStart = Date.now() / 1000;
  const owner = new ReplayOwner(
    context,
    Object.assign({}, flow.client, { timestampStart: Date.now() / 1000 }),
    upstream,
  );
  const route = ServerRoute.to(owner, destinationOf(request), false);
  flow.server = route.server;
  const client = new ReplayResponder(request.method);
  const env = exchangeEnv(context, (level, message) => owner.log(level, message));
  // The recorded body is the upload: the exchange reads it as it reads a client's.
  const body = Readable.from(request.body.length > 0 ? [request.body] : []);
  const exchange = new HttpExchange(env, flow, body, client, route);
  flow.attachConnection(() => exchange.kill());
  try {
    await exchange.run();
  } finally {
    flow.detachConnection();
    await owner.close();
  }
}
