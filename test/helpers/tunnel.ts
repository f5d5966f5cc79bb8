// Raw building blocks for the host-ignoring end-to-end suites: a CONNECT
// tunnel opened by hand (so the test controls the first bytes, the SNI and the
// Host header), TLS over it, small HTTP/1 exchanges, and raw TCP origins that
// record every byte they receive. Everything talks to 127.0.0.1 only.
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { WAIT_MS } from "./harness.ts";

/** Every client socket these helpers opened, so a failed test leaves nothing open (see `destroyClients`). */
const clients = new Set<net.Socket>();
function track<S extends net.Socket>(s: S): S {
  clients.add(s);
  s.once("close", () => clients.delete(s));
  return s;
}

/** Destroys every client socket still open (call it in `test.after`). */
export function destroyClients(): void {
  for (const s of clients) s.destroy();
  clients.clear();
}

/** Safety net for every read: a stuck connection fails the test instead of hanging it. */
const READ_LIMIT_MS = WAIT_MS;

/**
 * Reads from `socket` until `done(bytesSoFar)` says so; resolves with all bytes read.
 * Rejects on end/close before that, or after `timeoutMs` (a hang guard, not a measurement).
 * Bytes beyond what `done` needed are NOT given back: use it for whole exchanges.
 */
export function readUntil(
  socket: net.Socket,
  done: (buf: Buffer) => boolean,
  what: string,
  timeoutMs = READ_LIMIT_MS,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (done(buf)) {
        cleanup();
        resolve(buf);
      }
    };
    const onEnd = () => {
      cleanup();
      if (done(buf)) resolve(buf);
      else
        reject(new Error(`connection ended while waiting for ${what}; got ${JSON.stringify(buf.toString("latin1"))}`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(
        new Error(`error while waiting for ${what}: ${err.message}; got ${JSON.stringify(buf.toString("latin1"))}`),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(buf.toString("latin1"))}`));
    }, timeoutMs);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
    socket.once("error", onError);
    socket.resume();
    if (done(buf)) {
      cleanup();
      resolve(buf);
    }
  });
}

/** Reads everything until the peer ends the connection. */
export function readToEnd(
  socket: net.Socket,
  what = "the end of the connection",
  timeoutMs = READ_LIMIT_MS,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`timed out waiting for ${what}; got ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))}`),
      );
    }, timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", () => {});
    // A half-open socket (allowHalfOpen) stays open after the peer's end: close our side too.
    socket.once("end", () => {
      if (!socket.writableEnded) socket.end();
    });
    socket.resume();
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

export interface Tunnel {
  /** The client socket to the proxy, positioned after the CONNECT response (any bytes after it are unshifted back). */
  socket: net.Socket;
  /** The CONNECT response's status code. */
  status: number;
  /** The CONNECT response head. */
  head: string;
  /** The local port: the proxy's log prefixes this connection's lines with `127.0.0.1:<localPort>:`. */
  localPort: number;
}

/** A plain connection to the proxy (for absolute-form requests by hand). */
export async function openRawProxyConnection(proxyPort: number): Promise<{ socket: net.Socket; localPort: number }> {
  const socket = track(net.connect({ host: "127.0.0.1", port: proxyPort }));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, localPort: socket.localPort! };
}

/** Opens a CONNECT tunnel to `authority` (e.g. `127.0.0.1:443`, `localhost:8443`) through the proxy at 127.0.0.1:`proxyPort`. */
export async function openTunnel(proxyPort: number, authority: string, hostHeader = authority): Promise<Tunnel> {
  const socket = track(net.connect({ host: "127.0.0.1", port: proxyPort, allowHalfOpen: true }));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const localPort = socket.localPort!;
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`);
  // Read the response head byte-exactly: whatever follows it belongs to the tunnel.
  const head = await new Promise<{ head: string; rest: Buffer }>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error("timed out waiting for the CONNECT response")), READ_LIMIT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", fail);
    };
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onClose = () =>
      fail(new Error(`proxy closed the connection during CONNECT; got ${JSON.stringify(buf.toString("latin1"))}`));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      cleanup();
      socket.pause();
      resolve({ head: buf.toString("latin1", 0, end), rest: buf.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", fail);
  });
  if (head.rest.length > 0) socket.unshift(head.rest);
  const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head.head)?.[1] ?? 0);
  return { socket, status, head: head.head, localPort };
}

export interface TlsResult {
  tunnel: Tunnel;
  socket: tls.TLSSocket;
  /** Whether the server's chain verified against the `ca` given (and its name against the servername / `localhost`). */
  authorized: boolean;
  authorizationError: string | undefined;
  /** SHA-256 fingerprint of the server's leaf certificate. */
  fingerprint: string;
  /** SHA-256 fingerprint of the certificate that issued it (the root, for our one-level CAs). */
  issuerFingerprint: string | undefined;
  issuer: Record<string, string>;
}

/**
 * TLS over a fresh CONNECT tunnel. `servername` is sent as SNI (omit it for a
 * ClientHello without SNI). The chain is checked against `ca` but never
 * refused: the test looks at `authorized` and the fingerprints itself.
 */
export async function tlsThroughTunnel(
  proxyPort: number,
  authority: string,
  opts: { servername?: string; ca: string[]; alpn?: string[] },
): Promise<TlsResult> {
  const tunnel = await openTunnel(proxyPort, authority);
  if (tunnel.status !== 200) {
    tunnel.socket.destroy();
    throw new Error(`CONNECT ${authority} answered ${tunnel.head}`);
  }
  const socket = await tlsOver(tunnel.socket, opts);
  return { tunnel, socket, ...certInfo(socket) };
}

/** TLS directly to an origin on 127.0.0.1 (to learn its own certificate). */
export async function tlsDirect(
  port: number,
  opts: { servername?: string; ca: string[] },
): Promise<ReturnType<typeof certInfo> & { socket: tls.TLSSocket }> {
  const raw = track(net.connect({ host: "127.0.0.1", port }));
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve);
    raw.once("error", reject);
  });
  const socket = await tlsOver(raw, opts);
  return { socket, ...certInfo(socket) };
}

function tlsOver(
  raw: net.Socket,
  opts: { servername?: string; ca: string[]; alpn?: string[] },
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = {
      socket: raw,
      ca: opts.ca,
      rejectUnauthorized: false,
      ALPNProtocols: opts.alpn,
    };
    if (opts.servername !== undefined) options.servername = opts.servername;
    const s = track(tls.connect(options));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("timed out in the TLS handshake"));
    }, READ_LIMIT_MS);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function certInfo(socket: tls.TLSSocket) {
  const peer = socket.getPeerCertificate(true);
  const issuerCert = peer.issuerCertificate && peer.issuerCertificate !== peer ? peer.issuerCertificate : undefined;
  return {
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    fingerprint: peer.fingerprint256,
    issuerFingerprint: issuerCert?.fingerprint256,
    issuer: { ...(peer.issuer as unknown as Record<string, string>) },
  };
}

export interface HttpResponse {
  status: number;
  head: string;
  body: Buffer;
}

/** Parses one HTTP/1 response with Content-Length (or chunked), or `undefined` while incomplete. */
export function parseResponse(buf: Buffer): HttpResponse | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const head = buf.toString("latin1", 0, end);
  const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0);
  const rest = buf.subarray(end + 4);
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (len) {
    const n = Number(len[1]);
    return rest.length >= n ? { status, head, body: rest.subarray(0, n) } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const parts: Buffer[] = [];
    let i = 0;
    for (let guard = 0; guard < 100_000; guard++) {
      const lineEnd = rest.indexOf("\r\n", i);
      if (lineEnd === -1) return undefined;
      const size = parseInt(rest.toString("latin1", i, lineEnd), 16);
      if (Number.isNaN(size)) return undefined;
      if (size === 0)
        return rest.indexOf("\r\n", lineEnd + 2) === -1 ? undefined : { status, head, body: Buffer.concat(parts) };
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      i = lineEnd + 2 + size + 2;
    }
    throw new Error("too many chunks");
  }
  return status === 204 || status === 304 ? { status, head, body: Buffer.alloc(0) } : undefined;
}

/** Sends `request` (raw bytes) on `socket` and reads one response. */
export async function exchange(socket: net.Socket, request: string | Buffer): Promise<HttpResponse> {
  socket.write(request);
  const buf = await readUntil(socket, (b) => parseResponse(b) !== undefined, "an HTTP response");
  return parseResponse(buf)!;
}

/** `GET path` with `Host: host` and `Connection: close`, as raw HTTP/1.1. */
export function getRequest(host: string, path = "/"): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
}

export interface RawOrigin {
  port: number;
  /** Bytes received, per accepted connection, in order. */
  received: Buffer[][];
  /** All bytes of connection `i` so far. */
  bytes(i: number): Buffer;
  connections(): number;
  close(): Promise<void>;
}

/**
 * A raw TCP server on `host` (127.0.0.1 or ::1) that records every byte. `onConnection` is
 * called for each client with a function giving the bytes received so far.
 */
export async function startRawOrigin(
  onConnection: (socket: net.Socket, received: () => Buffer) => void,
  host = "127.0.0.1",
): Promise<RawOrigin> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on("data", (c: Buffer) => chunks.push(c));
    onConnection(socket, () => Buffer.concat(chunks));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return rawHandle(server, sockets, received);
}

/** Like `startRawOrigin`, but TLS with a certificate from the test's origin CA. */
export async function startTlsRawOrigin(
  key: string,
  cert: string,
  onConnection: (socket: tls.TLSSocket, received: () => Buffer) => void,
): Promise<RawOrigin> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on("data", (c: Buffer) => chunks.push(c));
    onConnection(socket, () => Buffer.concat(chunks));
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return rawHandle(server, sockets, received);
}

function rawHandle(server: net.Server, sockets: Set<net.Socket>, received: Buffer[][]): RawOrigin {
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    bytes: (i) => Buffer.concat(received[i] ?? []),
    connections: () => received.length,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The PEM text of a CA file. */
export function pem(file: string): string {
  return readFileSync(file, "utf8");
}

/** Escapes a string for use inside a regular expression. */
export function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
