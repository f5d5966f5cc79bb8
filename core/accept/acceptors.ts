import * as net from "node:net";
import * as tls from "node:tls";
import { formatAddress, logText, type Socks5AuthData } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import { FirstBytes } from "../layers/first-bytes.ts";
import { runLayers } from "../layers/run-layers.ts";
import { originalDst } from "../platform/original-dst.ts";
import { ServerConnectError, type ServerConn } from "../connection/server-conn.ts";
import {
  METHOD_NO_AUTH, METHOD_NONE_ACCEPTABLE, METHOD_USER_PASS, parseGreeting, parseRequest, parseUserPass, reply, replyForError, REPLY, type Parse,
} from "./socks5-protocol.ts";
import { handshake } from "../tls/handshake.ts";
import { looksLikeTlsStart, parseClientHello } from "../tls/clienthello.ts";

/**
 * Regular and upstream mode: an HTTP proxy client. A client that starts with
 * TLS speaks to the proxy itself over TLS (a "secure web proxy"): that TLS is
 * terminated first, then requests and CONNECTs are read as usual.
 */
export async function acceptExplicit(session: ClientSession, socket: net.Socket): Promise<void> {
  const { proxy } = session;
  const first = new FirstBytes(socket, undefined);
  while (first.clientData.length === 0 && !first.clientEnded) await first.next();
  if (first.clientData.length === 0) {
    // Closed without a byte (a port scan, a health check): nothing will read this socket again.
    first.stop();
    socket.destroy();
    return;
  }
  if (!looksLikeTlsStart(first.clientData)) {
    first.release();
    proxy.frontend.accept(socket, { session });
    socket.resume();
    return;
  }
  while (parseClientHello(first.clientData).status === "incomplete" && !first.clientEnded) await first.next();
  const hello = parseClientHello(first.clientData);
  first.release();
  const sni = hello.status === "complete" ? hello.hello.sni : undefined;
  const names = [sni ?? unmapped(socket.localAddress ?? "127.0.0.1")];
  const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: proxy.ca.secureContext(names), ALPNProtocols: ["http/1.1"] });
  tlsSocket.on("error", () => {});
  try {
    await handshake(tlsSocket, "secure");
  } catch (err) {
    session.log("warn", `client TLS handshake with the proxy failed: ${(err as Error).message}`);
    socket.destroy();
    return;
  }
  session.log("debug", `client speaks TLS to the proxy (secure web proxy): ${tlsSocket.getProtocol()}`);
  proxy.frontend.accept(tlsSocket, { session });
}

/** SOCKS5 (RFC 1928, RFC 1929): learn the target, connect, reply, then the tunnel's first bytes decide. */
export async function acceptSocks5(session: ClientSession, socket: net.Socket): Promise<void> {
  const { proxy } = session;
  const first = new FirstBytes(socket, undefined);
  const read = async <T>(parse: (b: Buffer) => Parse<T>): Promise<(T & { length: number }) | undefined> => {
    for (;;) {
      const r = parse(first.clientData);
      if (r.status === "ok") {
        first.clientData = first.clientData.subarray(r.length);
        return r;
      }
      if (r.status === "error") {
        session.log("warn", `SOCKS5 error: ${r.reason}`);
        if (r.reply !== undefined && socket.writable) socket.end(reply(r.reply));
        else socket.destroy();
        first.stop();
        return undefined;
      }
      if (first.clientEnded) {
        first.stop();
        socket.destroy();
        return undefined;
      }
      await first.next();
    }
  };

  const greeting = await read(parseGreeting);
  if (!greeting) return;
  const needAuth = proxy.host.hasHandlers("socks5Auth");
  const method = needAuth ? METHOD_USER_PASS : METHOD_NO_AUTH;
  if (!greeting.methods.includes(method)) {
    session.log("warn", `SOCKS5 client offers no acceptable authentication method (${needAuth ? "username/password required" : "no-auth required"})`);
    socket.end(Buffer.from([5, METHOD_NONE_ACCEPTABLE]));
    first.stop();
    return;
  }
  socket.write(Buffer.from([5, method]));
  if (needAuth) {
    const creds = await read(parseUserPass);
    if (!creds) return;
    const data: Socks5AuthData = { client: session.client, username: creds.username, password: creds.password, valid: false };
    await proxy.host.trigger("socks5Auth", data);
    if (!data.valid) {
      session.log("warn", `SOCKS5 authentication failed for user '${logText(creds.username)}'`);
      socket.end(Buffer.from([1, 1]));
      first.stop();
      return;
    }
    socket.write(Buffer.from([1, 0]));
  }
  const request = await read(parseRequest);
  if (!request) return;
  const rest = first.clientData;
  first.stop();
  const conn = session.newServer(request.target);
  try {
    // SOCKS5 replies after connecting: the client learns whether the target is reachable.
    await conn.connect();
  } catch (err) {
    const code = replyForError(err instanceof ServerConnectError ? err.cause : err);
    if (socket.writable) socket.end(reply(code));
    return;
  }
  socket.write(reply(REPLY.succeeded));
  await runLayers(session, socket, conn, { stage: "outer", head: rest });
}

/** Reverse mode: every connection goes to the fixed target; the scheme says what the client speaks. */
export async function acceptReverse(session: ClientSession, socket: net.Socket): Promise<void> {
  const target = session.mode.target!;
  const conn = session.newServer({ host: target.host, port: target.port });
  if (!(await connectIfEager(socket, conn))) return;
  if (target.scheme === "https" || target.scheme === "http") {
    // The HTTP layer needs to know the scheme of the server side.
    conn.data.tls = target.scheme === "https";
  }
  await runLayers(session, socket, conn, { stage: "outer", reverse: target.scheme });
}

/**
 * Transparent mode: the destination is the socket's original destination
 * (after an iptables/nftables REDIRECT). A connection that was not
 * redirected would loop back into the proxy: it is refused.
 */
export async function acceptTransparent(session: ClientSession, socket: net.Socket): Promise<void> {
  const dst = originalDst(socket);
  if (!dst) {
    session.log("warn", "transparent mode: no original destination for this connection (was it redirected with iptables/nftables?); closing it");
    socket.destroy();
    return;
  }
  const local = { host: unmapped(socket.localAddress ?? ""), port: socket.localPort ?? 0 };
  if (unmapped(dst.host) === local.host && dst.port === local.port) {
    session.log("warn", `transparent mode: connection to ${formatAddress(dst)} was not redirected (its destination is the proxy itself); refusing it to avoid a loop`);
    socket.destroy();
    return;
  }
  const conn = session.newServer(dst);
  if (!(await connectIfEager(socket, conn))) return;
  await runLayers(session, socket, conn, { stage: "outer" });
}

/** Eager strategy: connect before reading from the client (the resolved address is then a candidate). False when it failed and the client was closed. */
async function connectIfEager(socket: net.Socket, conn: ServerConn): Promise<boolean> {
  if (conn.session.proxy.settings.connectionStrategy !== "eager") return true;
  try {
    await conn.connect();
    return true;
  } catch {
    socket.destroy();
    return false;
  }
}

function unmapped(host: string): string {
  return host.toLowerCase().startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
