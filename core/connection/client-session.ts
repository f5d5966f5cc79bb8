import { randomUUID } from "node:crypto";
import type * as net from "node:net";
import type { Address, ClientConnection, LogLevel } from "@interloper/sdk";
import { formatAddress } from "@interloper/sdk";
import type { ModeSpec } from "../engine/modes.ts";
import type { ProxyContext } from "../engine/context.ts";
import { serverAlpnOffers } from "../tls/server-alpn.ts";
import type { Http2ClientGuard } from "./h2-client-guard.ts";
import { ServerConn, type UpstreamProxy } from "./server-conn.ts";

/**
 * Everything that belongs to one client connection: its hook payload, the
 * server connections opened for it, and the orderly end (`client disconnect`,
 * the servers' disconnects, then the `clientDisconnect` hook).
 */
export class ClientSession {
  readonly client: ClientConnection;
  /** Prefix of this connection's log lines, e.g. `127.0.0.1:57089`. */
  readonly prefix: string;
  private readonly servers = new Set<ServerConn>();
  /** Server connections for absolute-form and rerouted requests, by `host:port:scheme`. */
  private readonly byAuthority = new Map<string, ServerConn>();
  private readonly pending = new Set<net.Socket>();
  private ended = false;
  private setupTimer: NodeJS.Timeout | undefined;
  /** Set when the client speaks HTTP/2 on this connection. */
  http2: Http2ClientGuard | undefined;

  constructor(
    readonly context: ProxyContext,
    readonly socket: net.Socket,
    readonly mode: ModeSpec,
    /** Told once, when the session ended (the server forgets it). */
    private readonly onEnd?: () => void,
  ) {
    const peername: Address = { host: socket.remoteAddress ?? "?", port: socket.remotePort ?? 0 };
    const sockname: Address = { host: socket.localAddress ?? "?", port: socket.localPort ?? 0 };
    this.client = {
      id: randomUUID(),
      peername,
      sockname,
      mode: mode.spec,
      tlsEstablished: false,
      timestampStart: Date.now() / 1000,
    };
    this.prefix = formatAddress(peername);
    // Every socket needs an error listener; the close that follows ends the session.
    socket.on("error", () => {});
    socket.once("close", () => void this.end());
  }

  log(level: LogLevel, message: string): void {
    this.context.host.log(level, `${this.prefix}: ${message}`);
  }

  /** The server connection for absolute-form or rerouted requests to this authority (one per authority and client). */
  serverFor(address: Address, tls: boolean, via?: UpstreamProxy): ServerConn {
    const key = `${address.host}:${address.port}:${tls ? "s" : ""}`;
    let conn = this.byAuthority.get(key);
    if (!conn || conn.closed) {
      conn = new ServerConn(this, address, tls, via);
      this.byAuthority.set(key, conn);
    }
    return conn;
  }

  /** What a server connection of the pool offers by ALPN when it speaks TLS (what the client offered the proxy). */
  serverAlpn(): string[] {
    return serverAlpnOffers(this.client.alpnOffers, this.context.settings.http2);
  }

  /** A server connection for a tunnel or another single destination (through the upstream proxy in upstream mode). */
  newServer(address: Address, tls = false): ServerConn {
    return new ServerConn(this, address, tls, this.upstreamProxy());
  }

  /** The upstream proxy of this connection's mode, if it is upstream mode. */
  upstreamProxy(): UpstreamProxy | undefined {
    const t = this.mode.name === "upstream" ? this.mode.target : undefined;
    if (!t) return undefined;
    const auth = this.context.host.options.get<string | undefined>("upstreamAuth");
    // Not `{ ...t, auth }`: a spread then a property is a slow path on Node 20 (asked per request).
    const proxy: UpstreamProxy = Object.assign({}, t);
    if (auth) proxy.auth = auth;
    return proxy;
  }

  addServer(conn: ServerConn): void {
    this.servers.add(conn);
    if (this.ended) conn.close();
  }

  removeServer(conn: ServerConn): void {
    this.servers.delete(conn);
    if (this.ended && this.servers.size === 0) this.serversGone?.();
  }

  /** What an HTTP/2 client has not read yet holds new requests for it back (see ServerOwner). */
  untilClientReads(): Promise<void> | undefined {
    return this.http2?.untilClientReads();
  }

  /** Connecting sockets die with the client. */
  trackPending(socket: net.Socket): void {
    this.pending.add(socket);
    const settled = () => {
      this.pending.delete(socket);
      socket.off("connect", settled);
      socket.off("close", settled);
    };
    socket.once("connect", settled);
    socket.once("close", settled);
    if (this.ended) socket.destroy();
  }

  private serversGone: (() => void) | undefined;

  /** Closes the client connection (and so the whole session). */
  close(): void {
    this.socket.destroy();
  }

  /**
   * The connection enters a set-up phase (first bytes, a handshake, a
   * tunnel's destination) that must finish within `idle_timeout` in all,
   * however slowly its bytes trickle in: a client that opens connections and
   * never finishes them must not hold sockets forever. The layer that takes
   * over (HTTP, a relay, a TCP flow) calls `setupDone`; it has timeouts of its own.
   */
  expectSetup(what: string): void {
    this.setupDone();
    const ms = this.context.settings.idleTimeoutMs;
    if (ms <= 0 || this.ended) return;
    this.setupTimer = setTimeout(() => {
      this.log("info", `${what} not finished within idle_timeout (${ms / 1000} s): closing the connection`);
      this.close();
    }, ms);
  }

  setupDone(): void {
    if (this.setupTimer) clearTimeout(this.setupTimer);
    this.setupTimer = undefined;
  }

  private async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.setupDone();
    this.client.timestampEnd = Date.now() / 1000;
    this.log("info", "client disconnect");
    for (const s of this.pending) s.destroy();
    if (this.servers.size > 0) {
      const gone = new Promise<void>((resolve) => (this.serversGone = resolve));
      for (const conn of [...this.servers]) conn.close();
      await gone;
    }
    for (const conn of this.byAuthority.values()) conn.close();
    this.onEnd?.();
    await this.context.host.trigger("clientDisconnect", this.client);
  }
}
