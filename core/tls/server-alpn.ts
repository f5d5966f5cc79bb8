// Which application protocols the proxy offers a server in its ClientHello.
// Pure: no sockets.

export const HTTP1_ALPN: readonly string[] = ["http/1.1", "http/1.0"];

/**
 * What the client offered the proxy (minus h2 when HTTP/2 is off, and never
 * h2c, which is no TLS protocol); the client then gets the server's choice.
 * An HTTP/1.1 client is offered h2 besides: it can still reach an
 * HTTP/2-only server, as the proxy translates. A client that spoke no TLS to
 * the proxy (`undefined`: plain HTTP/1, or h2c) is offered http/1.1 alone,
 * as absolute-form requests always were.
 */
export function serverAlpnOffers(clientOffers: readonly string[] | undefined, http2: boolean): string[] {
  if (clientOffers === undefined) return ["http/1.1"];
  const offers = clientOffers.filter((p) => p !== "h2c" && (http2 || p !== "h2"));
  if (http2 && !offers.includes("h2") && offers.some((p) => HTTP1_ALPN.includes(p))) offers.push("h2");
  return offers;
}
