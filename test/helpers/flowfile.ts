// Flows of every kind for the flow-file suites, and a plain-data snapshot of a
// flow so that two flows compare field by field with assert.equal.
import {
  HTTPFlow,
  Headers,
  Request,
  Response,
  TCPFlow,
  WebSocketData,
  WebSocketMessage,
  type AnyFlow,
  type ClientConnection,
  type ServerConnection,
} from "@interloper/sdk";

let counter = 0;

/** A real certificate (mitmproxy parses the ones in a flow file): self-signed, example.com, P-256. */
export const CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBmDCCAT+gAwIBAgIUThB3pnNWitrWw8TBWfKjwx6BMVswCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZXhhbXBsZS5jb20wHhcNMjYxMjAyMTAzMTA0WhcNMzYxMTI5
MTAzMTA0WjAWMRQwEgYDVQQDDAtleGFtcGxlLmNvbTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABJeY3+l6LJ/bBS5Ex7bJ4YuIm9ZXjdFKUagx/1qD3aEt8hMeLUno
IQbj7NeaJELYs3GoeIbiinkyoSvPmPHp6bSjazBpMB0GA1UdDgQWBBQDJ0qAJbSH
PVrJfFyaZwNMD+LY8zAfBgNVHSMEGDAWgBQDJ0qAJbSHPVrJfFyaZwNMD+LY8zAP
BgNVHRMBAf8EBTADAQH/MBYGA1UdEQQPMA2CC2V4YW1wbGUuY29tMAoGCCqGSM49
BAMCA0cAMEQCIFygVZnyTuh8nQ20ARO9dsise7TYhMB4wu8hMiCM2fpCAiASrvKB
2zpND41RcKM3Y4rkh9/d+um+Dq9zl+FJ69PPXg==
-----END CERTIFICATE-----
`;

/** Distinct, fractional timestamps (microsecond-ish digits, as real captures have). */
function t(offset: number): number {
  return 1_700_000_000.123456 + offset + counter * 10;
}

export function client(tls: boolean): ClientConnection {
  counter++;
  const c: ClientConnection = {
    id: `client-${counter}`,
    peername: { host: "127.0.0.1", port: 40000 + counter },
    sockname: { host: "127.0.0.1", port: 8080 },
    mode: "regular",
    tlsEstablished: tls,
    timestampStart: t(0),
    timestampEnd: t(9.5),
  };
  if (tls) {
    c.sni = "example.com";
    c.alpn = "h2";
    c.alpnOffers = ["h2", "http/1.1"];
    c.tlsVersion = "TLSv1.3";
    c.cipher = "TLS_AES_128_GCM_SHA256";
    c.timestampTlsSetup = t(0.25);
  }
  return c;
}

export function server(tls: boolean, port = tls ? 443 : 80): ServerConnection {
  const s: ServerConnection = {
    id: `server-${counter}`,
    address: { host: "example.com", port },
    peername: { host: "93.184.215.14", port },
    sockname: { host: "10.0.0.2", port: 50000 + counter },
    tls,
    tlsEstablished: tls,
    timestampStart: t(0.5),
    timestampTcpSetup: t(0.75),
    timestampEnd: t(9),
  };
  if (tls) {
    s.sni = "example.com";
    s.alpn = "http/1.1";
    s.alpnOffers = ["http/1.1"];
    s.tlsVersion = "TLSv1.2";
    s.cipher = "ECDHE-RSA-AES128-GCM-SHA256";
    s.certificateList = [CERT_PEM];
    s.timestampTlsSetup = t(1);
  }
  return s;
}

function timed<T extends Request | Response>(m: T, start: number, end: number | undefined): T {
  m.timestampStart = start;
  m.timestampEnd = end;
  return m;
}

/** Plain HTTP/1.1 (absolute form), a response, a body with every byte value, a non-UTF-8 header byte. */
export function http1Flow(): HTTPFlow {
  const c = client(false);
  const req = new Request({
    method: "POST",
    host: "example.com",
    path: "/upload?q=a%20b&x=1",
    form: "absolute",
    headers: [
      ["Host", "example.com"],
      ["Content-Type", "application/octet-stream"],
      ["X-Latin", "caf\u00e9 \u00ff\u00fe"],
      ["x-dup", "1"],
      ["X-Dup", "2"],
    ],
    body: Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)),
  });
  const flow = new HTTPFlow(c, server(false), timed(req, t(1), t(1.5)));
  flow.response = timed(
    new Response({
      status: 201,
      reason: "Created",
      headers: [
        ["Content-Type", "text/plain; charset=utf-8"],
        ["Set-Cookie", "a=1; Path=/; HttpOnly"],
        ["Set-Cookie", "b=2; Secure; SameSite=Lax"],
      ],
      body: "gr\u00fc\u00dfe \u{1f600}\n",
    }),
    t(2),
    t(2.5),
  );
  flow.timestampCreated = t(1);
  flow.marked = ":default:";
  flow.comment = "looked at";
  flow.isReplay = "request";
  flow.metadata = { note: "x", count: 3, ratio: 0.5, nested: { list: [1, "two", null, true] } };
  return flow;
}

/** HTTP/2 over TLS: no response yet, an error, trailers; the Host field the core makes of :authority. */
export function http2ErrorFlow(): HTTPFlow {
  const req = new Request({
    method: "GET",
    scheme: "https",
    host: "example.com",
    port: 443,
    path: "/h2",
    form: "origin",
    headers: [
      ["host", "example.com"],
      ["accept", "*/*"],
    ],
    httpVersion: "HTTP/2.0",
  });
  req.trailers = new Headers([["grpc-status", "0"]]);
  const flow = new HTTPFlow(client(true), server(true), timed(req, t(1), t(1.1)));
  flow.error = { msg: "Connection killed.", timestamp: t(3) };
  flow.killed = true;
  flow.timestampCreated = t(1);
  flow.isReplay = "response";
  return flow;
}

/** HTTPS HTTP/1.1 (origin form) with a gzip response body and a streamed request (content not held). */
export function httpsStreamedFlow(gzipped: Buffer): HTTPFlow {
  const req = new Request({
    method: "PUT",
    scheme: "https",
    host: "example.com",
    port: 8443,
    path: "/stream",
    form: "origin",
    headers: [["Host", "example.com:8443"]],
  });
  req.stream = true;
  const flow = new HTTPFlow(client(true), server(true, 8443), timed(req, t(1), undefined));
  flow.response = timed(
    new Response({
      status: 200,
      headers: [
        ["Content-Encoding", "gzip"],
        ["Content-Type", "text/html"],
      ],
      body: gzipped,
      httpVersion: "HTTP/1.1",
    }),
    t(2),
    t(2.5),
  );
  flow.timestampCreated = t(1);
  return flow;
}

export function websocketFlow(): HTTPFlow {
  const req = new Request({
    method: "GET",
    host: "example.com",
    path: "/ws",
    form: "absolute",
    headers: [
      ["Host", "example.com"],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
    ],
  });
  const flow = new HTTPFlow(client(false), server(false), timed(req, t(1), t(1)));
  flow.response = timed(
    new Response({
      status: 101,
      headers: [
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
      ],
    }),
    t(1.2),
    t(1.2),
  );
  const ws = new WebSocketData();
  ws.messages.push(new WebSocketMessage(true, "text", Buffer.from("hello \u00e9"), false, t(2)));
  ws.messages.push(new WebSocketMessage(false, "binary", Buffer.from([0, 1, 254, 255]), false, t(2.1)));
  const dropped = new WebSocketMessage(true, "text", Buffer.from("dropped"), true, t(2.2));
  dropped.dropped = true;
  ws.messages.push(dropped);
  ws.closedByClient = true;
  ws.closeCode = 1000;
  ws.closeReason = "bye";
  ws.timestampEnd = t(3);
  flow.websocket = ws;
  flow.timestampCreated = t(1);
  return flow;
}

export function tcpFlow(): TCPFlow {
  const flow = new TCPFlow(client(true), server(true, 5222));
  flow.messages.push({ fromClient: true, content: Buffer.from("ping\r\n"), timestamp: t(1) });
  flow.messages.push({ fromClient: false, content: Buffer.from([0xff, 0x00, 0x80]), timestamp: t(1.5) });
  flow.error = { msg: "connection reset", timestamp: t(2) };
  flow.timestampCreated = t(1);
  flow.comment = "raw";
  return flow;
}

/** A flow as plain data: every field the sdk models, bodies as hex, for assert.equal. */
export function snapshot(flow: AnyFlow): Record<string, unknown> {
  const base = {
    type: flow.type,
    id: flow.id,
    client: { ...flow.client },
    server: { ...flow.server },
    error: flow.error ?? null,
    metadata: flow.metadata,
    marked: flow.marked,
    comment: flow.comment,
    isReplay: flow.isReplay ?? null,
    killed: flow.killed,
    timestampCreated: flow.timestampCreated,
  };
  if (flow.type === "tcp") {
    return { ...base, messages: flow.messages.map((m) => ({ ...m, content: m.content.toString("hex") })) };
  }
  return {
    ...base,
    request: message(flow.request),
    response: flow.response ? message(flow.response) : null,
    websocket: flow.websocket
      ? {
          messages: flow.websocket.messages.map((m) => ({
            fromClient: m.fromClient,
            type: m.type,
            content: m.content.toString("hex"),
            dropped: m.dropped,
            injected: m.injected,
            timestamp: m.timestamp,
          })),
          closedByClient: flow.websocket.closedByClient ?? null,
          closeCode: flow.websocket.closeCode ?? null,
          closeReason: flow.websocket.closeReason ?? null,
          timestampEnd: flow.websocket.timestampEnd ?? null,
        }
      : null,
  };
}

function message(m: Request | Response): Record<string, unknown> {
  const common = {
    headers: m.headers.fields,
    body: m.body.toString("hex"),
    trailers: m.trailers?.fields ?? null,
    httpVersion: m.httpVersion,
    stream: m.stream,
    timestampStart: m.timestampStart,
    timestampEnd: m.timestampEnd ?? null,
  };
  if (m instanceof Request) {
    const { method, scheme, host, port, path, form } = m;
    return { ...common, method, scheme, host, port, path, form };
  }
  return { ...common, status: m.status, reason: m.reason };
}
