import type * as net from "node:net";
import * as tls from "node:tls";
import type { ClientSession } from "../connection/client-session.ts";
import { FirstBytes } from "../layers/first-bytes.ts";
import type { LayerRoutes } from "../layers/run-layers.ts";
import { looksLikeTlsStart, parseClientHello } from "../tls/clienthello.ts";
import { handshake } from "../tls/handshake.ts";
import { unmapped } from "./addresses.ts";

/**
 * Regular and upstream mode: an HTTP proxy client. A client that starts with
 * TLS speaks to the proxy itself over TLS (a "secure web proxy"): that TLS is
 * terminated first, then requests and CONNECTs are read as usual.
 */
export async function acceptExplicit(routes: LayerRoutes, session: ClientSession, socket: net.Socket): Promise<void> {
  const proxy = session.context;
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
    routes.http(socket, { session });
    socket.resume();
    return;
  }
  while (parseClientHello(first.clientData).status === "incomplete" && !first.clientEnded) await first.next();
  const hello = parseClientHello(first.clientData);
  first.release();
  const sni = hello.status === "complete" ? hello.hello.sni : undefined;
  const names = [sni ?? unmapped(socket.localAddress ?? "127.0.0.1")];
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: proxy.tls.clientContext(names, names),
    ALPNProtocols: ["http/1.1"],
  });
  tlsSocket.on("error", () => {});
  try {
    await handshake(tlsSocket, "secure");
  } catch (err) {
    session.log("warn", `client TLS handshake with the proxy failed: ${(err as Error).message}`);
    socket.destroy();
    return;
  }
  session.log("debug", `client speaks TLS to the proxy (secure web proxy): ${tlsSocket.getProtocol()}`);
  routes.http(tlsSocket, { session });
}
