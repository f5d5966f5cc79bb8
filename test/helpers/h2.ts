// HTTP/2 pieces for the end-to-end suites: h2 (TLS) and h2c origins, and a
// Node http2 client session through the proxy (CONNECT, then TLS with ALPN
// on the tunnel socket). Everything listens on and talks to 127.0.0.1 only;
// every wait is bounded.
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import { openTunnel } from "./clients.ts";
import { WAIT_MS, originCa } from "./harness.ts";

export interface H2Origin {
  port: number;
  server: http2.Http2SecureServer | http2.Http2Server;
  /** Every request seen: method, path, HTTP version ("2.0" or "1.1"), headers, body. */
  requests: Array<{
    method: string;
    path: string;
    httpVersion: string;
    headers: http2.IncomingHttpHeaders;
    body: Buffer;
  }>;
  close(): Promise<void>;
}

export type H2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, body: Buffer) => void;

/**
 * An HTTP/2 origin on 127.0.0.1: over TLS (certificate for localhost and
 * 127.0.0.1 from the test's origin CA, ALPN h2 and, with `allowHTTP1`,
 * http/1.1) or clear text (h2c, prior knowledge only). The handler gets the
 * compatibility API objects once the request body is complete, unless
 * `raw` is set: then it is called at once (the body argument is empty).
 */
export async function startH2Origin(
  handler: H2Handler,
  opts: { tls?: boolean; allowHTTP1?: boolean; raw?: boolean } = {},
): Promise<H2Origin> {
  const requests: H2Origin["requests"] = [];
  const onRequest = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (opts.raw) {
      requests.push({
        method: req.method,
        path: req.url,
        httpVersion: req.httpVersion,
        headers: req.headers,
        body: Buffer.alloc(0),
      });
      handler(req, res, Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, path: req.url, httpVersion: req.httpVersion, headers: req.headers, body });
      handler(req, res, body);
    });
  };
  let server: http2.Http2SecureServer | http2.Http2Server;
  if (opts.tls !== false) {
    const ca = await originCa();
    server = http2.createSecureServer(
      { key: ca.keyPem, cert: ca.certFor(["localhost", "127.0.0.1"]), allowHTTP1: opts.allowHTTP1 ?? false },
      onRequest,
    );
  } else {
    server = http2.createServer({}, onRequest);
  }
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("error", () => {});
    s.on("close", () => sessions.delete(s));
  });
  server.on("sessionError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    server,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * An HTTP/2 client session through the proxy: `CONNECT authority`, TLS on the
 * tunnel socket offering `alpn` (default h2 only) and trusting `ca`, then
 * Node's http2 client over that socket. Resolves once the session is
 * connected; `alpn` is what was negotiated with the proxy.
 */
export async function h2ViaProxy(
  proxyPort: number,
  authority: string,
  ca: string,
  opts: { alpn?: string[]; servername?: string } = {},
): Promise<{ session: http2.ClientHttp2Session; alpn: string | false | null; tlsSocket: tls.TLSSocket }> {
  const tunnel = await openTunnel(proxyPort, authority);
  if (tunnel.status !== 200) {
    tunnel.socket.destroy();
    throw new Error(`CONNECT ${authority} answered: ${tunnel.head}`);
  }
  const servername = opts.servername ?? authority.replace(/:\d+$/, "");
  const t = tls.connect({ socket: tunnel.socket, servername, ca, ALPNProtocols: opts.alpn ?? ["h2"] });
  t.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error("TLS handshake through the tunnel timed out"));
    }, WAIT_MS);
    t.once("secureConnect", () => {
      clearTimeout(timer);
      resolve();
    });
    t.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const session = http2.connect(`https://${authority}`, { createConnection: () => t });
  session.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("HTTP/2 session through the proxy did not connect")), WAIT_MS);
    session.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    session.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    session.once("close", () => {
      clearTimeout(timer);
      reject(new Error("HTTP/2 session closed before it connected"));
    });
  });
  return { session, alpn: t.alpnProtocol, tlsSocket: t };
}

export interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

export type H2Outcome =
  { kind: "response"; res: H2Result } | { kind: "reset"; rstCode: number; error: string; status: number | undefined };

/**
 * One request on a session. Resolves with the whole response, or with
 * `reset` when the stream was closed with RST_STREAM / errored before its end
 * (never rejects, bounded by `timeoutMs`).
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
  timeoutMs = WAIT_MS,
): Promise<H2Outcome> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status: number | undefined;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let error = "";
    let done = false;
    const finish = (o: H2Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      finish({ kind: "reset", rstCode: -1, error: `timed out after ${timeoutMs} ms`, status });
    }, timeoutMs);
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      resHeaders = h;
    });
    stream.on("trailers", (h: http2.IncomingHttpHeaders) => (trailers = h));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (e: Error) => (error = e.message));
    stream.on("end", () => {
      // 'close' follows; a reset after the data would show there.
    });
    stream.on("close", () => {
      if (
        stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR ||
        error ||
        status === undefined ||
        !stream.readableEnded
      ) {
        finish({ kind: "reset", rstCode: stream.rstCode ?? -1, error, status });
      } else {
        finish({ kind: "response", res: { status, headers: resHeaders, body: Buffer.concat(chunks), trailers } });
      }
    });
    if (body !== undefined) stream.end(body);
  });
}

/** `h2Request` that must end with a complete response. */
export async function h2Get(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<H2Result> {
  const o = await h2Request(session, headers, body);
  if (o.kind !== "response")
    throw new Error(`stream ${headers[":path"]} was reset (code ${o.rstCode}, status ${o.status}): ${o.error}`);
  return o.res;
}

/** Closes a client session and waits (bounded) for it to be gone. */
export async function closeSession(session: http2.ClientHttp2Session): Promise<void> {
  if (session.destroyed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      session.destroy();
      resolve();
    }, 2000);
    session.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface H1Origin {
  port: number;
  requests: Array<{ method: string; url: string; httpVersion: string; rawHeaders: string[]; body: Buffer }>;
  close(): Promise<void>;
}

/**
 * An HTTPS origin that speaks HTTP/1.1 only and does no ALPN at all (Node's
 * https server would answer `http/1.1`; this one sends no ALPN extension, as
 * many older servers): TLS from `tls.createServer`, HTTP from Node's parser.
 */
export async function startH1NoAlpnOrigin(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
): Promise<H1Origin> {
  const ca = await originCa();
  const requests: H1Origin["requests"] = [];
  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method!,
        url: req.url!,
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body);
    });
  });
  // As startOrigin's: idle connections stay until the test closes them.
  httpServer.keepAliveTimeout = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: ca.keyPem, cert: ca.certFor(["localhost", "127.0.0.1"]) }, (s) =>
    httpServer.emit("connection", s),
  );
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
