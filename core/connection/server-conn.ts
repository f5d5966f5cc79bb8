import { randomUUID, type X509Certificate } from "node:crypto";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type {
  Address,
  ClientConnection,
  LogLevel,
  ServerConnection,
  ServerConnectionHookData,
  TlsData,
} from "@interloper/sdk";
import { formatAddress } from "@interloper/sdk";
import { describeNetError } from "./net-errors.ts";
import { handshake } from "../tls/handshake.ts";
import { pemChain, sessionCacheFor, sessionKey } from "../tls/session-cache.ts";
import type { ProxyContext } from "../engine/context.ts";
import { Http1Connection } from "../http/h1-client.ts";

/** How to speak TLS to the server. */
export interface ServerTlsSettings {
  sni: string | undefined;
  alpn: string[];
}

/** An upstream proxy (upstream mode). */
export interface UpstreamProxy {
  scheme: string;
  host: string;
  port: number;
  /** `user:pass` for Proxy-Authorization: Basic. */
  auth?: string;
}

/** What a server connection needs from the client connection it serves (a ClientSession). */
export interface ServerOwner {
  readonly client: ClientConnection;
  readonly context: ProxyContext;
  log(level: LogLevel, message: string): void;
  /** A socket still connecting dies with the client. */
  trackPending(socket: net.Socket): void;
  addServer(conn: ServerConn): void;
  removeServer(conn: ServerConn): void;
  /**
   * An HTTP/2 client's unread responses: resolves once it has read enough of
   * them; undefined when there is room (or the client is not HTTP/2).
   */
  untilClientReads?(): Promise<void> | undefined;
}

/** A failure to reach the server, with the text the log and the 502 page show. */
export class ServerConnectError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/**
 * One connection from the proxy to a server: TCP, then optionally TLS. It
 * fires the server hooks, writes the `server connect` / `server disconnect`
 * lines, and reconnects on demand when the server closed an idle connection.
 */
export class ServerConn {
  readonly data: ServerConnection;
  socket: net.Socket | undefined;
  /** The TCP socket under `socket` (the same object without TLS). */
  private tcp: net.Socket | undefined;
  private tlsSettings: ServerTlsSettings | undefined;
  /** The server's certificate (from the full handshake when the session was resumed). */
  private peer: X509Certificate | undefined;
  /** What the TLS socket reported, kept for an HTTP/1 client made after it (it would never hear of it). */
  private tlsError: Error | undefined;
  private h1: Http1Connection | undefined;
  private connecting: Promise<net.Socket> | undefined;
  closed = false;
  /** The last attempt to connect (or to start TLS) failed: requests in a tunnel get a 502 instead of retrying. */
  connectFailed = false;

  constructor(
    readonly session: ServerOwner,
    address: Address,
    useTls: boolean,
    /** Reach `address` through this upstream proxy (upstream mode): CONNECT, then the tunnel is the connection. */
    private readonly via?: UpstreamProxy,
  ) {
    this.data = { id: randomUUID(), address, tls: useTls, tlsEstablished: false };
  }

  get hookData(): ServerConnectionHookData {
    return { client: this.session.client, server: this.data };
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Opens the TCP connection (hooks `serverConnect`, `serverConnected`, or `serverConnectError`). */
  async connect(): Promise<net.Socket> {
    if (this.connected) return this.socket!;
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<net.Socket> {
    const proxy = this.session.context;
    const data = this.data;
    data.error = undefined;
    data.tlsEstablished = false;
    this.connectFailed = false;
    await proxy.host.trigger("serverConnect", this.hookData);
    if (data.error) throw new ServerConnectError(data.error);
    data.timestampStart = Date.now() / 1000;
    const via = this.via;
    const dial = via ? { host: via.host, port: via.port } : data.address;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: dial.host, port: dial.port, allowHalfOpen: true, noDelay: true });
      const onError = (err: Error) => {
        s.destroy();
        reject(err);
      };
      s.once("error", onError);
      // The kernel gives up on an unanswered SYN only after about two minutes.
      const limit = proxy.settings.idleTimeoutMs;
      if (limit > 0)
        s.setTimeout(limit, () => onError(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" })));
      s.once("connect", () => {
        s.setTimeout(0);
        s.off("error", onError);
        resolve(s);
      });
      this.session.trackPending(s);
    }).catch(async (err: unknown) => {
      this.connectFailed = true;
      data.error = describeNetError(err);
      this.session.log("warn", `error establishing server connection: ${data.error}`);
      await proxy.host.trigger("serverConnectError", this.hookData);
      throw new ServerConnectError(`error establishing server connection: ${data.error}`, err);
    });
    data.timestampTcpSetup = Date.now() / 1000;
    data.sockname = { host: socket.localAddress!, port: socket.localPort! };
    data.timestampEnd = undefined;
    this.socket = socket;
    this.tcp = socket;
    if (via) {
      // Upstream mode: the address we reached is the upstream proxy's, not the server's.
      data.peername = undefined;
      try {
        this.socket = await openTunnel(
          socket,
          via,
          data.address,
          this.session.context.upstreamTlsOptions(via.host),
          proxy.settings.idleTimeoutMs,
        );
      } catch (err) {
        socket.destroy();
        this.socket = undefined;
        this.tcp = undefined;
        data.error = (err as Error).message;
        this.connectFailed = true;
        this.session.log("warn", `error establishing server connection: ${data.error}`);
        await proxy.host.trigger("serverConnectError", this.hookData);
        throw new ServerConnectError(`error establishing server connection: ${data.error}`, err);
      }
    } else {
      data.peername = { host: socket.remoteAddress!, port: socket.remotePort! };
    }
    this.session.log("info", `server connect ${this.describe()}`);
    socket.on("error", (err) => {
      if (!data.error) data.error = describeNetError(err);
    });
    socket.once("close", () => this.onClose(socket));
    this.session.addServer(this);
    await proxy.host.trigger("serverConnected", this.hookData);
    if (this.tlsSettings) await this.startTls(this.tlsSettings);
    return this.socket;
  }

  /** `host:port (ip:port)`, the parenthesis only when the name differs from the address. */
  describe(): string {
    const addr = formatAddress(this.data.address);
    const peer = this.data.peername ? formatAddress(this.data.peername) : undefined;
    return peer && peer !== addr ? `${addr} (${peer})` : addr;
  }

  /**
   * Starts TLS on the connected socket (hooks `tlsStartServer`, then
   * `tlsEstablishedServer` or `tlsFailedServer`). The settings are kept so a
   * reconnect speaks TLS again.
   */
  async startTls(settings: ServerTlsSettings): Promise<void> {
    this.tlsSettings = settings;
    this.data.tls = true;
    const raw = this.socket;
    if (!raw) return;
    const proxy = this.session.context;
    const data = this.data;
    data.sni = settings.sni;
    data.alpnOffers = settings.alpn;
    this.peer = undefined;
    this.tlsError = undefined;
    const hook: TlsData = { client: this.session.client, server: data, side: "server" };
    await proxy.host.trigger("tlsStartServer", hook);
    let tlsOptions: tls.ConnectionOptions;
    try {
      // The client certificate (client_certs) is chosen by the name the server is known by.
      tlsOptions = proxy.upstreamTlsOptions(settings.sni ?? data.address.host);
    } catch (err) {
      raw.destroy();
      return this.failTls(hook, (err as Error).message);
    }
    const sessions = sessionCacheFor(tlsOptions.secureContext!);
    const key = sessionKey({
      host: data.address.host,
      port: data.address.port,
      sni: settings.sni,
      alpn: settings.alpn,
      verify: tlsOptions.rejectUnauthorized !== false,
      via: this.via ? formatAddress(this.via) : undefined,
    });
    const cached = sessions.get(key);
    const tlsSocket = tls.connect({
      socket: raw,
      servername: settings.sni,
      ALPNProtocols: settings.alpn.length > 0 ? settings.alpn : undefined,
      session: cached?.session,
      ...tlsOptions,
    });
    tlsSocket.on("error", (err: Error) => {
      // A TLS 1.3 server refuses a client certificate (or its absence) after the handshake: whoever reads
      // this error next (the request's 502, the log) gets OpenSSL's reason, not its source file and line.
      err.message = opensslReason(err.message);
      this.tlsError = err;
      if (!data.error && data.tlsEstablished) data.error = describeNetError(err);
    });
    // Kept once the handshake is done and the server verified (TLS 1.2 hands the session over before
    // that, TLS 1.3 sends tickets after it: each new one replaces the last).
    let established = false;
    let early: Buffer | undefined;
    let peer: X509Certificate | undefined;
    const keep = (session: Buffer) => {
      if (tlsOptions.rejectUnauthorized !== false && !tlsSocket.authorized) return;
      sessions.set(key, { session, peer });
    };
    tlsSocket.on("session", (session: Buffer) => {
      if (established) keep(session);
      else early = session;
    });
    try {
      await handshake(tlsSocket, "secureConnect", proxy.settings.idleTimeoutMs);
    } catch (err) {
      if (cached) sessions.delete(key);
      tlsSocket.destroy();
      return this.failTls(hook, tlsErrorText(err));
    }
    tlsSocket.once("close", () => this.onClose(raw));
    data.tlsEstablished = true;
    data.timestampTlsSetup = Date.now() / 1000;
    data.alpn = tlsSocket.alpnProtocol || undefined;
    data.tlsVersion = tlsSocket.getProtocol() ?? undefined;
    data.cipher = tlsSocket.getCipher()?.name;
    const resumed = tlsSocket.isSessionReused();
    // A resumed session shows no certificate: the one the server proved itself with at the full handshake stands in.
    // (Node hands the peer certificate out once: after getPeerX509Certificate, getPeerCertificate returns {}.
    // The X509Certificate decodes fields on demand and carries the chain the server sent.)
    peer = resumed ? cached?.peer : tlsSocket.getPeerX509Certificate();
    this.peer = peer;
    established = true;
    if (early) keep(early);
    // X509Certificate keeps its PEM: this costs well under a microsecond (a getter here would make
    // the data object a slow dictionary-mode object on every connection).
    data.certificateList = pemChain(this.peer);
    this.socket = tlsSocket;
    this.session.log(
      "debug",
      `server TLS established: ${data.tlsVersion} ${data.cipher}${data.alpn ? ` alpn=${data.alpn}` : ""}${resumed ? " (resumed)" : ""}`,
    );
    await proxy.host.trigger("tlsEstablishedServer", hook);
  }

  /** Records a failed server handshake (the log line, `tlsFailedServer`) and throws what the client's 502 says. */
  private async failTls(hook: TlsData, reason: string): Promise<never> {
    const data = this.data;
    data.error = `TLS handshake with ${formatAddress(data.address)} failed: ${reason}`;
    this.connectFailed = true;
    hook.error = data.error;
    this.session.log("warn", `server TLS handshake failed: ${reason}`);
    await this.session.context.host.trigger("tlsFailedServer", hook);
    throw new ServerConnectError(data.error);
  }

  /** The server's leaf certificate names (CN and SANs), once TLS is up. */
  peerCertificateNames(): string[] {
    const cert = this.peer;
    if (!cert || !this.data.tlsEstablished) return [];
    const names: string[] = [];
    const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    if (cn) names.push(cn);
    for (const part of (cert.subjectAltName ?? "").split(",")) {
      const m = /^\s*(DNS|IP Address):(.+)$/.exec(part);
      if (m) names.push(m[2]!.trim());
    }
    return names;
  }

  private h2: http2.ClientHttp2Session | undefined;

  /**
   * The HTTP/2 session over this connection (the server chose h2 by ALPN).
   * After the server closed it (GOAWAY, idle), a new connection is opened.
   */
  async http2Session(): Promise<http2.ClientHttp2Session> {
    await this.holdForClient();
    if (this.h2 && !this.h2.closed && !this.h2.destroyed && this.connected) return this.h2;
    if (this.h2 || !this.connected) {
      this.h2?.destroy();
      this.h2 = undefined;
      if (this.connected && this.handedToH2) this.socket!.destroy();
      await this.connect();
    }
    const socket = this.socket!;
    this.handedToH2 = true;
    const { host, port } = this.data.address;
    const session = http2.connect(`https://${host.includes(":") ? `[${host}]` : host}:${port}`, {
      createConnection: () => socket,
      // Many streams in flight from many clients' requests: let the server's SETTINGS decide.
      maxSessionMemory: 64,
    });
    session.on("error", (err: Error) =>
      this.session.log("debug", `HTTP/2 session with ${this.describe()} failed: ${err.message}`),
    );
    session.once("close", () => {
      if (this.h2 === session) this.h2 = undefined;
    });
    this.h2 = session;
    return session;
  }
  private handedToH2 = false;

  /**
   * The HTTP/1 client over this connection (requests go one at a time, in
   * order). Call `readyForHttp1()` first: it reconnects when the server
   * closed an idle connection.
   */
  http1(): Http1Connection {
    const socket = this.socket;
    if (!socket || socket.destroyed || (this.h1?.socket === socket && this.h1.released)) {
      // Only when the connection died between readyForHttp1 and the request: the request fails with this.
      throw new ServerConnectError(`server connection to ${this.describe()} closed`);
    }
    if (this.h1?.socket !== socket) {
      const maxHead = this.session.context.host.options.get<number>("maxHeaderSize");
      this.h1 = new Http1Connection(
        socket,
        maxHead,
        (m) => this.session.log("warn", `server ${this.describe()}: ${m}`),
        this.tlsError,
      );
    }
    return this.h1;
  }

  /** Connects (or reconnects after the server closed an idle connection) so that `http1()` has a socket. */
  readyForHttp1(): void | Promise<void> {
    // Nothing to wait for on a kept-alive connection (every request): no promise then.
    const room = this.session.untilClientReads?.();
    if (room) return room.then(() => this.readyForHttp1());
    if (!this.connected) return this.connect().then(() => undefined);
  }

  /**
   * No new request goes to the server for a client that does not read its
   * responses (an HTTP/2 client with SEND_BUDGET unread): the proxy would
   * read and hold every answer it asked for. Its streams then wait in turn.
   */
  private async holdForClient(): Promise<void> {
    const room = this.session.untilClientReads?.();
    if (room) await room;
  }

  /** Runs once per TCP connection, whichever of the TCP or TLS socket reports the close first. */
  private onClose(tcp: net.Socket): void {
    if (this.tcp !== tcp) return;
    this.tcp = undefined;
    this.data.timestampEnd = Date.now() / 1000;
    this.session.log("info", `server disconnect ${this.describe()}`);
    this.socket = undefined;
    const hooked = this.session.context.host.trigger("serverDisconnect", this.hookData);
    if (hooked) void hooked.then(() => this.session.removeServer(this));
    else this.session.removeServer(this);
  }

  close(): void {
    this.closed = true;
    this.h2?.destroy();
    this.socket?.destroy();
  }
}

/** Connects `conn` unless it is (lazy strategy: only when first needed). False when that failed: the client was closed. */
export async function connectOrDrop(client: net.Socket, conn: ServerConn): Promise<boolean> {
  if (conn.connected) return true;
  try {
    await conn.connect();
    return true;
  } catch {
    client.destroy();
    return false;
  }
}

/** Eager strategy: connect before reading from the client (the resolved address is then a candidate). */
export function connectIfEager(client: net.Socket, conn: ServerConn): Promise<boolean> | true {
  return conn.session.context.settings.connectionStrategy !== "eager" || connectOrDrop(client, conn);
}

function tlsErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e) return "unknown error";
  const certCodes = new Set([
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "UNABLE_TO_GET_ISSUER_CERT",
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "CERT_UNTRUSTED",
    "CERT_REVOKED",
    "CERT_SIGNATURE_FAILURE",
  ]);
  if (e.code && certCodes.has(e.code)) return `certificate verify failed: ${e.message}`;
  return opensslReason(describeNetError(err));
}

/**
 * "80DC…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:…/rec_layer_s3.c:1601:SSL
 * alert number 116" → "tlsv13 alert certificate required (SSL alert number 116)"; other texts stay as they are.
 */
export function opensslReason(message: string): string {
  const m = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):[^\n]*?(SSL alert number \d+)?\s*$/.exec(message);
  if (!m) return message;
  return m[2] ? `${m[1]} (${m[2]})` : m[1]!;
}

/**
 * Opens a tunnel through an upstream proxy: TLS to the proxy for `https://`
 * proxies, then `CONNECT host:port`. Resolves with the socket to speak to the
 * server through once the proxy answered 2xx.
 */
async function openTunnel(
  socket: net.Socket,
  via: UpstreamProxy,
  target: Address,
  tlsOptions: tls.ConnectionOptions,
  timeoutMs: number,
): Promise<net.Socket> {
  let s: net.Socket = socket;
  if (via.scheme === "https") {
    const t = tls.connect({
      socket,
      servername: net.isIP(via.host) ? undefined : via.host,
      ALPNProtocols: ["http/1.1"],
      ...tlsOptions,
    });
    t.on("error", () => {});
    try {
      await handshake(t, "secureConnect", timeoutMs);
    } catch (err) {
      throw new Error(`TLS handshake with upstream proxy ${formatAddress(via)} failed: ${tlsErrorText(err)}`, {
        cause: err,
      });
    }
    s = t;
  }
  const authority = formatAddress(target);
  const auth = via.auth ? `Proxy-Authorization: Basic ${Buffer.from(via.auth).toString("base64")}\r\n` : "";
  s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
  const head = await new Promise<{ status: number; line: string; rest: Buffer }>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              done(
                new Error(`upstream proxy ${formatAddress(via)} did not answer CONNECT within ${timeoutMs / 1000} s`),
              ),
            timeoutMs,
          )
        : undefined;
    const done = (err?: Error, value?: { status: number; line: string; rest: Buffer }) => {
      if (timer) clearTimeout(timer);
      s.off("data", onData);
      s.off("close", onClose);
      s.off("error", onError);
      s.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) {
        if (buf.length > 65536) done(new Error("upstream proxy sent an oversized response to CONNECT"));
        return;
      }
      const line = buf.toString("latin1", 0, buf.indexOf("\r\n"));
      const m = /^HTTP\/\d\.\d (\d{3})/.exec(line);
      if (!m)
        return done(
          new Error(`upstream proxy sent a malformed response to CONNECT: ${JSON.stringify(line.slice(0, 80))}`),
        );
      done(undefined, { status: Number(m[1]), line, rest: buf.subarray(end + 4) });
    };
    const onClose = () => done(new Error(`upstream proxy ${formatAddress(via)} closed the connection during CONNECT`));
    const onError = (err: Error) => done(new Error(`upstream proxy ${formatAddress(via)}: ${describeNetError(err)}`));
    s.on("data", onData);
    s.once("close", onClose);
    s.once("error", onError);
  });
  if (head.status < 200 || head.status > 299) {
    throw new Error(`upstream proxy refused CONNECT ${authority}: ${head.line.replace(/^HTTP\/\d\.\d /, "")}`);
  }
  if (head.rest.length > 0) s.unshift(head.rest);
  return s;
}
