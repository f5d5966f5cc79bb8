import type * as net from "node:net";
import type { NextLayerData } from "@interloper/sdk";
import { decideLayer } from "@interloper/sdk/host";
import type { ClientSession } from "../connection/client-session.ts";
import { decide, type Decision } from "./decide.ts";
import { FirstBytes } from "./first-bytes.ts";
import { armIdleTimeout } from "../connection/idle-timeout.ts";
import { relay } from "./passthrough.ts";
import { connectOrDrop, type ServerConn } from "../connection/server-conn.ts";
import { runTcpFlow } from "./tcp-flow.ts";
import type { ClientHello } from "@interloper/sdk";
import type { HttpContext } from "../http/frontend.ts";

export interface LayerOptions {
  stage: "outer" | "inner";
  head?: Buffer;
  forceTcp?: boolean;
  /** Reverse mode: the protocol is the target URL's scheme, not what the bytes look like. */
  reverse?: string;
  /** Decide without reading (h2 negotiated by ALPN: the HTTP/2 layer must see every byte itself). */
  noPeek?: boolean;
}

/**
 * Where a decided connection goes: the parts runLayers hands sockets to. The
 * ProxyServer wires them (the HTTP front end, TLS interception with runLayers
 * itself as the next layer), so no part here imports another in a circle.
 */
export interface LayerRoutes {
  /** HTTP/1 requests on this socket go to the HTTP front end. */
  http(socket: net.Socket, ctx: HttpContext): void;
  /** HTTP/2 on this socket goes to the HTTP front end. */
  http2(socket: net.Socket, ctx: HttpContext): void;
  /** Terminate the client's TLS (the peeked bytes are still in `first`), then decide the inner layer. */
  tls(
    session: ClientSession,
    socket: net.Socket,
    conn: ServerConn,
    first: FirstBytes,
    hello: ClientHello,
    tcp: boolean,
    opts?: { serverSni?: string },
  ): Promise<void>;
}

/**
 * A connection with a known destination: read its first bytes, ask the
 * addons (`nextLayer`, `tlsClienthello`) and go on as passthrough, TLS
 * interception, HTTP or raw TCP. `stage` is `inner` after the client's TLS
 * was terminated on this connection.
 */
export async function runLayers(
  routes: LayerRoutes,
  session: ClientSession,
  socket: net.Socket,
  conn: ServerConn,
  opts: LayerOptions,
): Promise<void> {
  if (opts.noPeek) {
    const data: NextLayerData = {
      client: session.client,
      server: conn.data,
      stage: opts.stage,
      clientData: Buffer.alloc(0),
      serverData: Buffer.alloc(0),
      clientHello: undefined,
      hostHeader: undefined,
      final: true,
    };
    // The same sequence as every decision (sdk's decideLayer), with no bytes to look at.
    const { host } = session.context;
    const verdict = await decideLayer(host.trigger.bind(host), data, { tls: false });
    if (verdict.kind === "ignore") {
      session.log("debug", `passing through ${conn.describe()} (ignored)`);
      if (!(await connectOrDrop(socket, conn))) return;
      session.setupDone();
      await relay(socket, conn.socket!, Buffer.alloc(0), Buffer.alloc(0));
      return;
    }
    if (verdict.kind === "other" && verdict.tcp) {
      if (!(await connectOrDrop(socket, conn))) return;
      session.setupDone();
      await runTcpFlow(session, socket, conn, Buffer.alloc(0), Buffer.alloc(0));
      return;
    }
    routes.http2(socket, { session, tunnel: { server: conn, scheme: "https" } });
    return;
  }
  // Inside TLS with HTTP negotiated by ALPN, the client speaks first by definition: bytes the server
  // sends early (an HTTP/2 server's SETTINGS) must not make the connection look like raw TCP.
  const alpn = session.client.alpn;
  const httpByAlpn = opts.stage === "inner" && (alpn === "http/1.1" || alpn === "http/1.0");
  const first = new FirstBytes(socket, conn.connected && !httpByAlpn ? conn.socket : undefined, opts.head);
  const disarm = armIdleTimeout(socket, session.context.settings.idleTimeoutMs);
  let decision: Decision;
  try {
    const { host, settings } = session.context;
    const ctx = { client: session.client, server: conn.data, trigger: host.trigger.bind(host), http2: settings.http2 };
    decision = await decide(ctx, first, opts.stage, opts.forceTcp ?? false, opts.reverse);
  } finally {
    disarm();
  }
  if (socket.destroyed) {
    first.stop();
    return;
  }
  if (first.clientEnded && first.clientData.length === 0) {
    // The client left without sending a byte: there is nothing to intercept or relay.
    first.stop();
    session.log("debug", "client closed the connection before sending anything");
    socket.destroy();
    return;
  }
  switch (decision.kind) {
    case "ignore": {
      first.stop();
      session.log("debug", `passing through ${conn.describe()} (ignored)`);
      if (!(await connectOrDrop(socket, conn))) return;
      session.setupDone();
      // Collect anything the server sent before we started relaying.
      await relay(socket, conn.socket!, first.clientData, first.serverData);
      return;
    }
    case "tls": {
      // interceptTls releases the bytes once the server side is ready; until then it watches for the client leaving.
      await routes.tls(
        session,
        socket,
        conn,
        first,
        decision.hello,
        decision.tcp,
        opts.reverse ? { serverSni: reverseSni(conn) } : undefined,
      );
      return;
    }
    case "http2": {
      first.release();
      routes.http2(socket, { session, tunnel: { server: conn, scheme: opts.stage === "inner" ? "https" : "http" } });
      return;
    }
    case "http": {
      first.release();
      routes.http(socket, { session, tunnel: { server: conn, scheme: opts.stage === "inner" ? "https" : "http" } });
      // Peeking read in paused mode; the HTTP parser reads once the socket flows.
      socket.resume();
      return;
    }
    case "close": {
      first.stop();
      session.log("warn", decision.reason);
      socket.destroy();
      return;
    }
    case "tcp": {
      first.stop();
      if (!(await connectOrDrop(socket, conn))) return;
      session.setupDone();
      await runTcpFlow(session, socket, conn, first.clientData, first.serverData);
      return;
    }
  }
}

/** The server name for TLS to a reverse target: its host, unless that is an IP address. */
function reverseSni(conn: ServerConn): string | undefined {
  const host = conn.data.address.host;
  return /^[\d.]+$/.test(host) || host.includes(":") ? undefined : host;
}
