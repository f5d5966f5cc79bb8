// Helpers for the proxy-mode suites (socks5, reverse, upstream, multi-mode):
// every listener of a proxy, raw sockets with bounded reads, a SOCKS5 client,
// echo servers and a small recording upstream HTTP proxy.
// Everything listens on and connects to 127.0.0.1 or ::1; every wait is bounded.
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { WAIT_MS, originCa, waitFor, type ProxyProcess } from "./harness.ts";

export { WAIT_MS };

/** One `… listening at scheme://host:port` line. */
export interface Listener {
  title: string;
  scheme: string;
  host: string;
  port: number;
}

/** Every listening line printed so far, in order. */
export function listeners(stdout: string): Listener[] {
  const out: Listener[] = [];
  for (const m of stdout.matchAll(/^(.*) listening at ([a-z0-9]+):\/\/(\[[^\]]+\]|[^\s:]+):(\d+)$/gm)) {
    out.push({ title: m[1]!, scheme: m[2]!, host: m[3]!, port: Number(m[4]) });
  }
  return out;
}

/** Waits for `n` listening lines (startProxy returns after the first). */
export function waitListeners(proxy: ProxyProcess, n: number): Promise<Listener[]> {
  return waitFor(
    () => {
      const l = listeners(proxy.stdout());
      return l.length >= n ? l : undefined;
    },
    `${n} listening lines; got:\n${proxy.stdout()}\n${proxy.stderr()}`,
    WAIT_MS,
  );
}

/** Waits until the proxy's log matches `re` (bounded). */
export function waitLog(proxy: ProxyProcess, re: RegExp, timeoutMs = WAIT_MS): Promise<RegExpMatchArray> {
  return proxy.waitForOutput(re, timeoutMs);
}

/** A socket whose incoming bytes are collected; reads and the close are awaited with a bound. */
export class Raw {
  buf = Buffer.alloc(0);
  ended = false;
  closed = false;
  private waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` holds, rejects after `timeoutMs` naming `what`. */
  until(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(this.buf.toString("latin1"))} (ended=${this.ended}, closed=${this.closed})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Takes exactly `n` bytes off the front (waits for them; fails if the peer closes first). */
  async read(n: number, what = `${n} bytes`): Promise<Buffer> {
    await this.until(() => this.buf.length >= n || this.ended || this.closed, what);
    if (this.buf.length < n) throw new Error(`connection ended before ${what}; got ${this.buf.toString("hex")}`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  /** Waits until the peer ended or closed the connection; returns what arrived that was not read. */
  async closedByPeer(what = "the proxy to close the connection"): Promise<Buffer> {
    await this.until(() => this.ended || this.closed, what);
    return this.buf;
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A TCP connection to `host:port`. */
export function connectRaw(port: number, host = "127.0.0.1"): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timed out connecting to ${host}:${port}`));
    }, WAIT_MS);
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.once("connect", () => {
      clearTimeout(timer);
      resolve(new Raw(s));
    });
  });
}

// ---------------------------------------------------------------- SOCKS5 client

export type Socks5Target = { host: string; port: number; type?: "domain" | "ipv4" | "ipv6" };

/** The SOCKS5 request bytes (CMD 1 = CONNECT unless told). */
export function socks5Request(target: Socks5Target, command = 1): Buffer {
  const p = [target.port >> 8, target.port & 0xff];
  const type = target.type ?? (net.isIPv4(target.host) ? "ipv4" : net.isIPv6(target.host) ? "ipv6" : "domain");
  if (type === "ipv4") return Buffer.from([5, command, 0, 1, ...target.host.split(".").map(Number), ...p]);
  if (type === "ipv6") {
    const groups = expandIPv6(target.host);
    const addr: number[] = [];
    for (const g of groups) addr.push(g >> 8, g & 0xff);
    return Buffer.from([5, command, 0, 4, ...addr, ...p]);
  }
  const name = Buffer.from(target.host, "latin1");
  return Buffer.concat([Buffer.from([5, command, 0, 3, name.length]), name, Buffer.from(p)]);
}

function expandIPv6(host: string): number[] {
  const [head, tail] = host.split("::") as [string, string | undefined];
  const h = head ? head.split(":").map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(":").map((x) => parseInt(x, 16)) : [];
  if (tail === undefined) return h;
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

export function userPassMessage(user: string, pass: string): Buffer {
  const u = Buffer.from(user);
  const p = Buffer.from(pass);
  return Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]);
}

/**
 * Greets (no-auth, or user/pass when `auth` is given), sends CONNECT and
 * reads the 10-byte reply. On success the socket is the tunnel.
 */
export async function socks5Connect(
  proxyPort: number,
  target: Socks5Target,
  auth?: { user: string; pass: string },
): Promise<{ raw: Raw; reply: Buffer }> {
  const raw = await connectRaw(proxyPort);
  try {
    raw.write(Buffer.from([5, 1, auth ? 2 : 0]));
    const method = await raw.read(2, "the method selection");
    if (method[0] !== 5 || method[1] !== (auth ? 2 : 0))
      throw new Error(`unexpected method selection ${method.toString("hex")}`);
    if (auth) {
      raw.write(userPassMessage(auth.user, auth.pass));
      const status = await raw.read(2, "the username/password status");
      if (status[1] !== 0) throw new Error(`authentication refused: ${status.toString("hex")}`);
    }
    raw.write(socks5Request(target));
    const reply = await raw.read(10, "the SOCKS5 reply");
    return { raw, reply };
  } catch (err) {
    raw.destroy();
    throw err;
  }
}

// ---------------------------------------------------------------- servers

export interface EchoServer {
  port: number;
  /** Every byte each connection received, in order of connection. */
  received: Buffer[];
  /** The SNI each TLS connection sent (TLS echo only). */
  snis: Array<string | false>;
  close(): Promise<void>;
}

function trackSockets(server: net.Server): () => void {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return () => {
    for (const s of sockets) s.destroy();
  };
}

/** A raw TCP echo server, or (with `tls`) a TLS echo server with a certificate from the origin CA. */
export async function startEcho(opts: { tls?: boolean; host?: string } = {}): Promise<EchoServer> {
  const received: Buffer[] = [];
  const snis: Array<string | false> = [];
  const onConn = (s: net.Socket) => {
    const i = received.push(Buffer.alloc(0)) - 1;
    if (s instanceof tls.TLSSocket)
      snis.push((s as tls.TLSSocket & { servername?: string | false }).servername ?? false);
    s.on("data", (d: Buffer) => {
      received[i] = Buffer.concat([received[i]!, d]);
      s.write(d);
    });
    s.on("end", () => s.end());
    s.on("error", () => {});
  };
  let server: net.Server;
  if (opts.tls) {
    const ca = await originCa();
    server = tls.createServer(
      { key: ca.keyPem, cert: ca.certFor(["localhost", "127.0.0.1"]), allowHalfOpen: true },
      onConn,
    );
  } else {
    server = net.createServer({ allowHalfOpen: true }, onConn);
  }
  const destroyAll = trackSockets(server);
  await new Promise<void>((r) => server.listen(0, opts.host ?? "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    snis,
    close: () =>
      new Promise<void>((r) => {
        destroyAll();
        server.close(() => r());
      }),
  };
}

/** What the test upstream proxy saw. */
export interface UpstreamRecord {
  kind: "connect" | "request";
  method: string;
  /** The request target as sent: `host:port` for CONNECT, the absolute URL otherwise. */
  target: string;
  headers: http.IncomingHttpHeaders;
}

export interface UpstreamProxy {
  port: number;
  records: UpstreamRecord[];
  close(): Promise<void>;
}

/**
 * A small HTTP proxy that records what it receives: absolute-form requests
 * (forwarded to their origin) and CONNECTs (tunnelled). With `requireAuth`,
 * anything without that `Proxy-Authorization` value gets 407.
 */
export async function startUpstreamProxy(opts: { requireAuth?: string } = {}): Promise<UpstreamProxy> {
  const records: UpstreamRecord[] = [];
  const authorized = (h: http.IncomingHttpHeaders) =>
    opts.requireAuth === undefined || h["proxy-authorization"] === opts.requireAuth;
  const server = http.createServer((req, res) => {
    records.push({ kind: "request", method: req.method!, target: req.url!, headers: req.headers });
    if (!authorized(req.headers)) {
      res.writeHead(407, {
        "Proxy-Authenticate": 'Basic realm="test"',
        "Content-Type": "text/plain",
        "Content-Length": "16",
      });
      res.end("auth required!!\n");
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url!);
    } catch {
      res.writeHead(400, { "Content-Length": "0" });
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const up = http.request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 80),
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502, { "Content-Length": "0" });
      res.end();
    });
    req.pipe(up);
  });
  server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    records.push({ kind: "connect", method: "CONNECT", target: req.url!, headers: req.headers });
    socket.on("error", () => {});
    if (!authorized(req.headers)) {
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(req.url ?? "");
    if (!m) {
      socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const up = net.connect({ host: (m[1] ?? m[2])!, port: Number(m[3]) });
    up.on("error", () => {
      if (socket.writable) socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    });
    up.once("connect", () => {
      socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    socket.on("close", () => up.destroy());
    up.on("close", () => socket.destroy());
  });
  const destroyAll = trackSockets(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    records,
    close: () =>
      new Promise<void>((r) => {
        destroyAll();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------- TLS clients

/** TLS over an existing socket, or to `port` on 127.0.0.1; bounded. */
export function tlsConnect(opts: {
  socket?: net.Socket;
  port?: number;
  servername?: string;
  caFile: string;
}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({
      ...(opts.socket ? { socket: opts.socket } : { host: "127.0.0.1", port: opts.port }),
      servername: opts.servername,
      ca: readFileSync(opts.caFile, "utf8"),
    });
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error("timed out in the TLS handshake"));
    }, WAIT_MS);
    t.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(t);
    });
    t.once("error", (e) => {
      clearTimeout(timer);
      t.destroy();
      reject(e);
    });
  });
}

/** The issuer CN of the certificate a TLS socket was shown. */
export function issuerCN(t: tls.TLSSocket): string | undefined {
  const issuer = t.getPeerCertificate()?.issuer as Record<string, string | string[]> | undefined;
  const cn = issuer?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** `127\.0\.0\.1:\d+`: the prefix of per-connection log lines. */
export const PEER = String.raw`127\.0\.0\.1:\d+`;

/** Is ::1 usable on this machine? */
export async function ipv6Loopback(): Promise<boolean> {
  const s = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(0, "::1", () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}
