// What of the client's fields goes on to the server. Pure.
import { Headers } from "@interloper/sdk";

/** Hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1), besides those named in Connection. */
const HOP_BY_HOP = new Set(["proxy-connection", "proxy-authorization", "keep-alive", "te", "upgrade"]);

/** The request's fields minus hop-by-hop ones; the wire order and spelling of the rest stay. */
export function forwardHeaders(headers: Headers): Headers {
  const connectionTokens = new Set(
    headers.getAll("connection").flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase())),
  );
  const dropped = (lower: string) =>
    HOP_BY_HOP.has(lower) || (connectionTokens.has(lower) && lower !== "close" && lower !== "keep-alive");
  // The common case (nothing to drop) keeps the very same object: no copy per request.
  if (!headers.fields.some(([name]) => dropped(name.toLowerCase()))) return headers;
  const out = new Headers();
  for (const [name, value] of headers.fields) if (!dropped(name.toLowerCase())) out.fields.push([name, value]);
  return out;
}
