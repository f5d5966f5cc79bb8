import * as net from "node:net";
import * as tls from "node:tls";
import { logText, type ClientHello, type TlsData } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import type { LayerOptions } from "../layers/run-layers.ts";
import type { ServerConn } from "../connection/server-conn.ts";
import type { FirstBytes } from "../layers/first-bytes.ts";
import { finishServerTlsHandshake } from "../platform/node-internals.ts";
import { handshake } from "./handshake.ts";
import { isPlausibleHostName } from "./names.ts";

/** Application protocols the core can serve inside TLS. */
const HTTP1 = ["http/1.1", "http/1.0"];

/**
 * Terminates the client's TLS: first the server's TLS (eager strategy: so the
 * server's certificate names and ALPN choice are known), then the client's
 * handshake with a leaf certificate from our CA, then the inner decision on
 * the decrypted bytes.
 */
export async function interceptTls(
  session: ClientSession,
  socket: net.Socket,
  conn: ServerConn,
  first: FirstBytes,
  hello: ClientHello,
  tcp: boolean,
  opts: { serverSni?: string } = {},
  /** The inner layer's decision (runLayers, wired by the ProxyServer). */
  next: (socket: net.Socket, conn: ServerConn, opts: LayerOptions) => Promise<void>,
): Promise<void> {
  const proxy = session.context;
  const client = session.client;
  client.sni = hello.sni;
  client.alpnOffers = hello.alpnProtocols;
  const destination = conn.data.address.host;
  const h2 = proxy.settings.http2;
  // Offer the server what the client offered (minus h2 when HTTP/2 is off); the client then gets the server's choice.
  const offers = hello.alpnProtocols.filter((p) => p !== "h2c" && (h2 || p !== "h2"));
  // An HTTP/1.1 client can still reach an HTTP/2-only server: we translate.
  if (h2 && !offers.includes("h2") && offers.some((p) => HTTP1.includes(p))) offers.push("h2");
  const sni = "serverSni" in opts ? opts.serverSni : (hello.sni ?? (net.isIP(destination) ? undefined : destination));
  const settings = { sni, alpn: offers };

  // Eager: a failure is recorded on the connection; the client still gets its handshake, then a 502
  // saying why. Lazy: this only remembers how to speak TLS when the first request needs the server.
  const serverSide = conn.connected ? conn.startTls(settings).catch(() => {}) : conn.startTls(settings);
  // The client's bytes are not read meanwhile, so only this watch notices a client that leaves.
  const outcome = await first.during(serverSide);
  if (!outcome.done || socket.destroyed) {
    first.stop();
    session.log("debug", "client left during the server's TLS handshake");
    conn.close();
    socket.destroy();
    return;
  }
  first.release();

  const names: string[] = [];
  if (hello.sni) names.push(hello.sni);
  if (isPlausibleHostName(destination)) names.push(destination);
  const upstreamNames = proxy.settings.upstreamCert ? conn.peerCertificateNames() : [];
  names.push(...upstreamNames);
  const unique = [...new Set(names.map((n) => n.toLowerCase()))];
  if (unique.length === 0) {
    session.log(
      "warn",
      `no host name to issue a certificate for ('${logText(destination)}' is not one, and the client sent no SNI); closing the connection`,
    );
    conn.close();
    socket.destroy();
    return;
  }

  let alpn: string[] | undefined;
  if (conn.data.alpn && hello.alpnProtocols.includes(conn.data.alpn)) alpn = [conn.data.alpn];
  else {
    // No server choice (lazy strategy, or a server without ALPN): HTTP/1.1 if the client offers it, else h2.
    const http1 = hello.alpnProtocols.find((p) => HTTP1.includes(p));
    if (http1) alpn = [http1];
    else if (h2 && hello.alpnProtocols.includes("h2")) alpn = ["h2"];
  }

  const hook: TlsData = { client, server: conn.data, side: "client" };
  await proxy.host.trigger("tlsStartClient", hook);
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    // The user's own certificate (certs) is looked up in mitmproxy's order: the server's names, then the SNI.
    secureContext: proxy.tls.clientContext([...upstreamNames, hello.sni ?? destination], unique),
    ALPNProtocols: alpn,
  });
  tlsSocket.on("error", () => {});
  try {
    await handshake(tlsSocket, "secure");
  } catch (err) {
    const reason = handshakeReason(err);
    const untrusted =
      /unknown ca|bad certificate|certificate unknown|certificate_unknown|bad_certificate|unknown_ca/i.test(reason);
    hook.error = untrusted
      ? `the client does not trust the proxy's certificate for ${hello.sni ?? destination} (${reason})`
      : reason;
    hook.failure = untrusted
      ? "untrusted-certificate"
      : /closed|ECONNRESET|socket hang up/i.test(reason)
        ? "closed"
        : "protocol";
    session.log("warn", `client TLS handshake failed: ${hook.error}`);
    await proxy.host.trigger("tlsFailedClient", hook);
    tlsSocket.destroy();
    socket.destroy();
    return;
  }
  // Node leaves `secureConnecting` set on server-side TLS sockets; HTTP/2 sessions would wait for a 'secureConnect' that never comes.
  finishServerTlsHandshake(tlsSocket);
  client.tlsEstablished = true;
  // Flow files of mitmproxy 10 and later say TLS was set up by this time alone.
  client.timestampTlsSetup = Date.now() / 1000;
  client.alpn = tlsSocket.alpnProtocol || undefined;
  client.tlsVersion = tlsSocket.getProtocol() ?? undefined;
  client.cipher = tlsSocket.getCipher()?.name;
  session.log(
    "debug",
    `client TLS established: ${client.tlsVersion} ${client.cipher}${client.alpn ? ` alpn=${client.alpn}` : ""}`,
  );
  await proxy.host.trigger("tlsEstablishedClient", hook);
  // HTTP/2 negotiated: nghttp2 reads the connection from its first byte, so nothing is peeked.
  await next(tlsSocket, conn, { stage: "inner", forceTcp: tcp, noPeek: client.alpn === "h2" && !tcp });
}

function handshakeReason(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const alert = /(?:tlsv1|sslv3|tlsv13) alert [a-z ]+/i.exec(message);
  return alert ? alert[0].trim() : message;
}
