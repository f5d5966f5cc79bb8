import type { ClientConnection, ClientHello, NextLayerData, ServerConnection } from "@interloper/sdk";
import { decideLayer, type Trigger } from "@interloper/sdk/host";
import { detect } from "./detect.ts";

/** Beyond this many unclassified bytes, decide with what is there. */
const MAX_PEEK = 64 * 1024;

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type Decision =
  | { kind: "ignore" }
  | { kind: "tls"; hello: ClientHello; tcp: boolean }
  | { kind: "http" }
  | { kind: "http2" }
  | { kind: "tcp" }
  | { kind: "close"; reason: string };

/** The first bytes of a connection as the decision reads them (FirstBytes in the proxy; a fake in tests). */
export interface PeekSource {
  readonly clientData: Buffer;
  readonly serverData: Buffer;
  readonly clientEnded: boolean;
  /** Resolves when more bytes came from either side, or the client ended. */
  next(): Promise<void>;
}

/** What the decision needs from the proxy: the hook payload's connections, the hook chain, one setting. */
export interface DecisionContext {
  client: ClientConnection;
  server: ServerConnection;
  trigger: Trigger;
  http2: boolean;
}

/**
 * Reads first bytes until the addons (sdk's decideLayer: `nextLayer`, then
 * `tlsClienthello`) and the bytes say what the connection carries. `reverse`:
 * reverse mode's scheme, which says what the client speaks on the outer layer.
 */
export async function decide(
  ctx: DecisionContext,
  first: PeekSource,
  stage: "outer" | "inner",
  forceTcp: boolean,
  reverse: string | undefined,
): Promise<Decision> {
  // reverse:http and reverse:tcp: the scheme says what the client speaks; no TLS on the outer layer.
  const plainReverse = reverse !== undefined && stage === "outer" && reverse !== "https" && reverse !== "tls";
  for (;;) {
    if (first.clientData.length === 0 && first.serverData.length === 0 && !first.clientEnded) {
      await first.next();
      continue;
    }
    const detected = detect(first.clientData);
    const data: NextLayerData = {
      client: ctx.client,
      server: ctx.server,
      stage,
      clientData: first.clientData,
      serverData: first.serverData,
      clientHello: detected.clientHello,
      hostHeader: detected.hostHeader,
      final: first.clientEnded || first.clientData.length >= MAX_PEEK,
    };
    if (forceTcp) data.tcp = true;
    const verdict = await decideLayer(ctx.trigger, data, { tls: !plainReverse });
    if (verdict.kind === "wait") {
      await first.next();
      continue;
    }
    if (verdict.kind === "ignore" || verdict.kind === "tls") return verdict;
    if (plainReverse) return reverse === "tcp" || verdict.tcp ? { kind: "tcp" } : { kind: "http" };
    if (reverse !== undefined && stage === "outer") {
      return {
        kind: "close",
        reason: `reverse:${reverse} expects TLS from the client, but its first bytes are not a TLS ClientHello`,
      };
    }
    if (verdict.tcp) return { kind: "tcp" };
    const http = byBytes(first.clientData, data.final, ctx.http2, detected.hostHeader !== undefined);
    if (http === "wait") {
      await first.next();
      continue;
    }
    return http;
  }
}

/** HTTP/2 by its preface (h2c with prior knowledge, or h2 by ALPN), HTTP/1 by a Host header, else raw TCP. */
function byBytes(clientData: Buffer, final: boolean, http2: boolean, hasHost: boolean): Decision | "wait" {
  const preface = clientData.subarray(0, H2_PREFACE.length);
  if (http2 && preface.length > 0 && H2_PREFACE.subarray(0, preface.length).equals(preface)) {
    if (preface.length === H2_PREFACE.length) return { kind: "http2" };
    if (!final) return "wait";
  }
  return hasHost ? { kind: "http" } : { kind: "tcp" };
}
