// Flows for the filter-expression tests, described once and built two ways:
// as interloper's HTTPFlow / TCPFlow, and as the JSON that
// test/fixtures/filter/mitmproxy_filter.py turns into mitmproxy's flows.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import {
  HTTPFlow,
  Request,
  Response,
  TCPFlow,
  WebSocketData,
  WebSocketMessage,
  type AnyFlow,
  type TCPMessage,
} from "@interloper/sdk";
import { testClient, testServer } from "@interloper/sdk/testing";

type Bytes = string | Buffer;
type Fields = [string, string][];

export interface RequestSpec {
  method?: string;
  scheme?: "http" | "https";
  host?: string;
  port?: number;
  path?: string;
  headers?: Fields;
  /** The body as sent (already content-encoded). */
  body?: Bytes;
}

export interface ResponseSpec {
  status?: number;
  reason?: string;
  headers?: Fields;
  body?: Bytes;
}

export interface FlowSpec {
  kind?: "http" | "tcp";
  client?: [string, number];
  server?: [string, number] | null;
  request?: RequestSpec;
  response?: ResponseSpec;
  /** WebSocket messages: [from client, type, content]. */
  websocket?: [boolean, "text" | "binary", Bytes][];
  /** TCP messages: [from client, content]. */
  messages?: [boolean, Bytes][];
  error?: string;
  marked?: string;
  comment?: string;
  isReplay?: "request" | "response";
  metadata?: Record<string, unknown>;
}

export const gzip = (text: string): Buffer => gzipSync(Buffer.from(text));
export const deflate = (text: string): Buffer => deflateSync(Buffer.from(text));
export const br = (text: string): Buffer => brotliCompressSync(Buffer.from(text));

const bytes = (b: Bytes | undefined): Buffer => (typeof b === "string" ? Buffer.from(b) : (b ?? Buffer.alloc(0)));

function request(spec: RequestSpec = {}): Required<RequestSpec> {
  const scheme = spec.scheme ?? "https";
  const host = spec.host ?? "example.com";
  const port = spec.port ?? (scheme === "https" ? 443 : 80);
  const authority = port === (scheme === "https" ? 443 : 80) ? host : `${host}:${port}`;
  return {
    method: spec.method ?? "GET",
    scheme,
    host,
    port,
    path: spec.path ?? "/",
    headers: spec.headers ?? [["Host", authority]],
    body: bytes(spec.body),
  };
}

/** interloper's flow for `spec`. */
export function buildFlow(spec: FlowSpec): AnyFlow {
  const [clientHost, clientPort] = spec.client ?? ["127.0.0.1", 50000];
  const client = testClient({ peername: { host: clientHost, port: clientPort } });
  const [serverHost, serverPort] = spec.server === null ? ["", 0] : (spec.server ?? ["example.com", 443]);
  const server = testServer({ host: serverHost, port: serverPort });
  if (spec.server === null) (server as { address: unknown }).address = undefined;
  const flow = spec.kind === "tcp" ? new TCPFlow(client, server) : httpFlow(spec, client, server);
  if (flow instanceof TCPFlow) {
    for (const [fromClient, content] of spec.messages ?? []) {
      const message: TCPMessage = { fromClient, content: bytes(content), timestamp: 0 };
      flow.messages.push(message);
    }
  }
  if (spec.error !== undefined) flow.error = { msg: spec.error, timestamp: 0 };
  flow.marked = spec.marked ?? "";
  flow.comment = spec.comment ?? "";
  flow.isReplay = spec.isReplay;
  flow.metadata = { ...spec.metadata };
  return flow;
}

function httpFlow(spec: FlowSpec, client: HTTPFlow["client"], server: HTTPFlow["server"]): HTTPFlow {
  const r = request(spec.request);
  const form = r.method === "CONNECT" ? "authority" : "origin";
  const flow = new HTTPFlow(client, server, new Request({ ...r, form }));
  if (spec.response) {
    const s = spec.response;
    flow.response = new Response({
      status: s.status ?? 200,
      reason: s.reason,
      headers: s.headers ?? [],
      body: bytes(s.body),
    });
  }
  if (spec.websocket) {
    flow.websocket = new WebSocketData();
    for (const [fromClient, type, content] of spec.websocket)
      flow.websocket.messages.push(new WebSocketMessage(fromClient, type, bytes(content)));
  }
  return flow;
}

const b64 = (b: Bytes | undefined): string => bytes(b).toString("base64");

/** The JSON that mitmproxy_filter.py builds the same flow from. */
export function pythonFlow(spec: FlowSpec): unknown {
  const common = {
    kind: spec.kind ?? "http",
    client: spec.client ?? ["127.0.0.1", 50000],
    server: spec.server === undefined ? ["example.com", 443] : spec.server,
    error: spec.error ?? null,
    marked: spec.marked ?? "",
    comment: spec.comment ?? "",
    is_replay: spec.isReplay ?? null,
    metadata: spec.metadata ?? {},
  };
  if (spec.kind === "tcp") return { ...common, messages: (spec.messages ?? []).map(([c, m]) => [c, b64(m)]) };
  const r = request(spec.request);
  const s = spec.response;
  return {
    ...common,
    request: {
      ...r,
      authority: r.method === "CONNECT" ? `${r.host}:${r.port}` : "",
      http_version: "HTTP/1.1",
      body: b64(r.body),
    },
    response: s
      ? {
          status: s.status ?? 200,
          reason: s.reason ?? "OK",
          http_version: "HTTP/1.1",
          headers: s.headers ?? [],
          body: b64(s.body),
        }
      : null,
    websocket: spec.websocket ? spec.websocket.map(([c, t, m]) => [c, t, b64(m)]) : null,
  };
}
