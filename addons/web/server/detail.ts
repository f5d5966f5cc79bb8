// A flow in full for the detail view (API.md, FlowDetail): both heads, the timings of each
// phase, the connections with their TLS facts and the server's certificate chain, the
// WebSocket or TCP messages, the error. Bodies are fetched apart (content.ts).
import { X509Certificate } from "node:crypto";
import type {
  AnyFlow,
  ClientConnection,
  HTTPFlow,
  Request,
  Response,
  ServerConnection,
  TCPMessage,
  WebSocketMessage,
} from "@interloper/sdk";
import type {
  Certificate,
  ClientFacts,
  FlowDetail,
  FlowSummary,
  RequestHead,
  ResponseHead,
  ServerFacts,
  Timings,
  WireMessage,
} from "../api-types.ts";

/** The first bytes of a message shown in the detail; the rest is left out (`truncated`). */
const MESSAGE_PREVIEW = 64 * 1024;

export function flowDetail(flow: AnyFlow, summary: FlowSummary): FlowDetail {
  const http = flow.type === "http" ? flow : undefined;
  return {
    summary,
    request: http ? requestHead(http.request, summary.requestSize) : null,
    response: http?.response ? responseHead(http.response, summary.responseSize) : null,
    timings: timings(flow),
    client: clientFacts(flow.client),
    server: flow.server ? serverFacts(flow.server) : null,
    websocket: http?.websocket
      ? {
          messages: http.websocket.messages.map(messageView),
          closedByClient: http.websocket.closedByClient ?? null,
          closeCode: http.websocket.closeCode ?? null,
          closeReason: http.websocket.closeReason ?? null,
          timestampEnd: http.websocket.timestampEnd ?? null,
        }
      : null,
    tcpMessages: flow.type === "tcp" ? flow.messages.map(messageView) : null,
    error: flow.error ? { msg: flow.error.msg, timestamp: flow.error.timestamp } : null,
    metadata: jsonSafeFields(flow.metadata, 4),
  };
}

function requestHead(r: Request, size: number | null): RequestHead {
  return {
    method: r.method,
    scheme: r.scheme,
    host: r.host,
    port: r.port,
    path: r.path,
    url: r.prettyUrl,
    httpVersion: r.httpVersion,
    headers: r.headers.fields,
    trailers: r.trailers ? r.trailers.fields : null,
    timestampStart: r.timestampStart,
    timestampEnd: r.timestampEnd ?? null,
    size,
  };
}

function responseHead(r: Response, size: number | null): ResponseHead {
  return {
    status: r.status,
    reason: r.reason,
    httpVersion: r.httpVersion,
    headers: r.headers.fields,
    trailers: r.trailers ? r.trailers.fields : null,
    timestampStart: r.timestampStart,
    timestampEnd: r.timestampEnd ?? null,
    size,
  };
}

function timings(flow: AnyFlow): Timings {
  const http: HTTPFlow | undefined = flow.type === "http" ? flow : undefined;
  const { client, server } = flow;
  return {
    clientConnect: client.timestampStart,
    clientTlsSetup: client.timestampTlsSetup ?? null,
    serverConnect: server?.timestampStart ?? null,
    serverTcpSetup: server?.timestampTcpSetup ?? null,
    serverTlsSetup: server?.timestampTlsSetup ?? null,
    requestStart: http?.request.timestampStart ?? null,
    requestEnd: http?.request.timestampEnd ?? null,
    responseStart: http?.response?.timestampStart ?? null,
    responseEnd: http?.response?.timestampEnd ?? null,
    end: http?.websocket?.timestampEnd ?? server?.timestampEnd ?? client.timestampEnd ?? flow.error?.timestamp ?? null,
  };
}

function clientFacts(c: ClientConnection): ClientFacts {
  return {
    id: c.id,
    peername: c.peername,
    sockname: c.sockname,
    mode: c.mode,
    tlsEstablished: c.tlsEstablished,
    sni: c.sni ?? null,
    alpn: c.alpn ?? null,
    alpnOffers: c.alpnOffers ?? null,
    tlsVersion: c.tlsVersion ?? null,
    cipher: c.cipher ?? null,
    timestampStart: c.timestampStart,
    timestampTlsSetup: c.timestampTlsSetup ?? null,
    timestampEnd: c.timestampEnd ?? null,
  };
}

function serverFacts(s: ServerConnection): ServerFacts {
  return {
    id: s.id,
    address: s.address,
    peername: s.peername ?? null,
    sockname: s.sockname ?? null,
    tls: s.tls,
    tlsEstablished: s.tlsEstablished,
    sni: s.sni ?? null,
    alpn: s.alpn ?? null,
    alpnOffers: s.alpnOffers ?? null,
    tlsVersion: s.tlsVersion ?? null,
    cipher: s.cipher ?? null,
    timestampStart: s.timestampStart ?? null,
    timestampTcpSetup: s.timestampTcpSetup ?? null,
    timestampTlsSetup: s.timestampTlsSetup ?? null,
    timestampEnd: s.timestampEnd ?? null,
    error: s.error ?? null,
    certificates: (s.certificateList ?? []).map(certificateFacts),
  };
}

/** Parsed certificates by PEM: a server's chain repeats on every flow. */
const parsed = new Map<string, Certificate>();
const PARSED_MAX = 256;

export function certificateFacts(pem: string): Certificate {
  const known = parsed.get(pem);
  if (known) return known;
  let facts: Certificate;
  try {
    const cert = new X509Certificate(pem);
    facts = {
      subject: cert.subject,
      issuer: cert.issuer,
      validFrom: cert.validFrom,
      validTo: cert.validTo,
      subjectAltNames: cert.subjectAltName ? cert.subjectAltName.split(/,\s*/) : [],
      serialNumber: cert.serialNumber,
      fingerprint256: cert.fingerprint256,
      pem,
    };
  } catch (err) {
    const unreadable = `(unreadable: ${(err as Error).message})`;
    facts = {
      subject: unreadable,
      issuer: "",
      validFrom: "",
      validTo: "",
      subjectAltNames: [],
      serialNumber: "",
      fingerprint256: "",
      pem,
    };
  }
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(pem, facts);
  return facts;
}

function messageView(m: WebSocketMessage | TCPMessage): WireMessage {
  const isWs = "type" in m;
  const type = isWs ? m.type : "binary";
  const shown = m.content.subarray(0, MESSAGE_PREVIEW);
  const view: WireMessage = {
    fromClient: m.fromClient,
    type,
    timestamp: m.timestamp,
    size: m.content.length,
    injected: isWs ? m.injected : false,
    dropped: isWs ? m.dropped : m.content.length === 0,
    truncated: m.content.length > MESSAGE_PREVIEW,
  };
  if (type === "text") view.text = shown.toString("utf8");
  else view.base64 = shown.toString("base64");
  return view;
}

/** Addons' metadata as JSON can carry it: bytes as base64, depth and cycles cut, the unsayable named. */
export function jsonSafe(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return null;
  if (Buffer.isBuffer(value)) return { base64: value.subarray(0, MESSAGE_PREVIEW).toString("base64") };
  if (depth <= 0) return "…";
  if (Array.isArray(value)) return value.slice(0, 1000).map((v) => jsonSafe(v, depth - 1));
  return jsonSafeFields(value, depth);
}

/** An object's fields as `jsonSafe` gives them (`depth` above 0). */
function jsonSafeFields(value: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, 1000)) out[k] = jsonSafe(v, depth - 1);
  return out;
}
