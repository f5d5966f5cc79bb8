import type { ClientHello } from "@interloper/sdk";
import { looksLikeTlsStart, parseClientHello } from "../tls/clienthello.ts";

/** What the first bytes of a connection are, as far as they tell. */
export interface Detected {
  clientHello: ClientHello | "incomplete" | undefined;
  /** Bytes the complete ClientHello occupies. */
  helloLength: number;
  hostHeader: string | null | "incomplete" | undefined;
}

const MAX_HEAD = 64 * 1024;

/** Classifies a connection's first client bytes: a TLS ClientHello, an HTTP/1 request head, or neither. */
export function detect(data: Buffer): Detected {
  if (data.length === 0) return { clientHello: undefined, helloLength: 0, hostHeader: undefined };
  if (looksLikeTlsStart(data)) {
    const parsed = parseClientHello(data);
    if (parsed.status === "complete")
      return { clientHello: parsed.hello, helloLength: parsed.length, hostHeader: undefined };
    if (parsed.status === "incomplete") return { clientHello: "incomplete", helloLength: 0, hostHeader: undefined };
    return { clientHello: undefined, helloLength: 0, hostHeader: undefined };
  }
  return { clientHello: undefined, helloLength: 0, hostHeader: httpHost(data) };
}

/**
 * The Host header of a clear-text HTTP/1 request head: the value, `null`
 * when the head has none, `"incomplete"` while the head may still be
 * arriving, `undefined` when this is not an HTTP/1 request.
 */
export function httpHost(data: Buffer): string | null | "incomplete" | undefined {
  // The request line: METHOD SP target SP HTTP/x.y
  let i = 0;
  while (i < data.length && i < 24 && data[i]! >= 0x41 && data[i]! <= 0x5a) i++;
  if (i === data.length) return i > 0 ? "incomplete" : undefined;
  if (i < 3 || data[i] !== 0x20) return undefined;
  const lineEnd = data.indexOf(0x0a);
  if (lineEnd === -1) {
    if (data.length > MAX_HEAD) return undefined;
    return "incomplete";
  }
  const line = data.toString("latin1", 0, lineEnd);
  if (!/ HTTP\/\d(\.\d)?\r?$/.test(line)) return undefined;
  // The head ends at the first empty line, CRLF or bare LF, whichever comes first.
  const crlf = data.indexOf("\r\n\r\n", lineEnd - 1);
  const lf = data.indexOf("\n\n", lineEnd);
  const headEnd = crlf !== -1 && (lf === -1 || crlf + 2 < lf + 1) ? crlf + 2 : lf !== -1 ? lf + 1 : -1;
  if (headEnd === -1) return data.length > MAX_HEAD ? null : "incomplete";
  const head = data.toString("latin1", lineEnd + 1, headEnd);
  for (const raw of head.split("\n")) {
    // A line starting with white space continues the previous field (obsolete folding): not a name.
    if (raw.startsWith(" ") || raw.startsWith("\t")) continue;
    const colon = raw.indexOf(":");
    if (colon <= 0) continue;
    if (raw.slice(0, colon).trim().toLowerCase() === "host") return raw.slice(colon + 1).trim();
  }
  return null;
}
