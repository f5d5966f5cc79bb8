// A lean HTTP/1.1 client for the load generators: raw sockets, one request in
// flight per connection, responses parsed just enough to find their end
// (Content-Length, chunked, or close-delimited). Node's http client costs
// several times more CPU per request, and on a 2-core machine the client
// shares the cores with the proxy it measures.
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";

export interface Resp {
  status: number;
  /** Bytes of the body (decoded from chunked framing). */
  bodyLength: number;
  /** The body, only when captured. */
  body?: Buffer;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const enum S {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** Incremental response parser: feed it bytes, it calls `onResponse` for each complete response. */
export class ResponseReader {
  private state = S.Head;
  private pending: Buffer | undefined;
  private line = "";
  private remaining = 0;
  private status = 0;
  private bodyLength = 0;
  private parts: Buffer[] | undefined;

  constructor(
    private readonly onResponse: (r: Resp) => void,
    public capture = false,
    /** Capture the body of responses whose status this accepts (an error page, say). */
    public captureIf?: (status: number) => boolean,
  ) {}

  /** True between responses (nothing partial buffered). */
  get idle(): boolean {
    return this.state === S.Head && this.pending === undefined;
  }

  feed(chunk: Buffer): void {
    let buf = chunk;
    let off = 0;
    while (off < buf.length) {
      switch (this.state) {
        case S.Head: {
          if (this.pending) {
            buf = Buffer.concat([this.pending, buf.subarray(off)]);
            off = 0;
            this.pending = undefined;
          }
          const end = buf.indexOf(CRLFCRLF, off);
          if (end < 0) {
            this.pending = Buffer.from(buf.subarray(off));
            if (this.pending.length > 65536) throw new Error("response head too large");
            return;
          }
          this.startResponse(buf.toString("latin1", off, end));
          off = end + 4;
          break;
        }
        case S.Length: {
          const n = Math.min(this.remaining, buf.length - off);
          this.body(buf, off, n);
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case S.ChunkSize:
        case S.Trailers: {
          const nl = buf.indexOf(10, off);
          if (nl < 0) {
            this.line += buf.toString("latin1", off);
            if (this.line.length > 8192) throw new Error("chunk line too long");
            return;
          }
          let line = this.line + buf.toString("latin1", off, nl);
          this.line = "";
          off = nl + 1;
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (this.state === S.Trailers) {
            if (line === "") this.finish();
            break;
          }
          const size = parseInt(line.split(";")[0]!.trim(), 16);
          if (!Number.isFinite(size) || size < 0) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
          if (size === 0) this.state = S.Trailers;
          else {
            this.remaining = size;
            this.state = S.ChunkData;
          }
          break;
        }
        case S.ChunkData: {
          const n = Math.min(this.remaining, buf.length - off);
          this.body(buf, off, n);
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.remaining = 2;
            this.state = S.ChunkEnd;
          }
          break;
        }
        case S.ChunkEnd: {
          const n = Math.min(this.remaining, buf.length - off);
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = S.ChunkSize;
          break;
        }
        case S.UntilClose: {
          this.body(buf, off, buf.length - off);
          off = buf.length;
          break;
        }
      }
    }
  }

  /** The connection ended: completes a close-delimited body; false if a response was cut short. */
  end(): boolean {
    if (this.state === S.UntilClose) {
      this.finish();
      return true;
    }
    return this.idle;
  }

  private startResponse(head: string): void {
    const sp = head.indexOf(" ");
    this.status = Number(head.slice(sp + 1, sp + 4));
    this.bodyLength = 0;
    this.parts = this.capture || this.captureIf?.(this.status) ? [] : undefined;
    if (this.status >= 100 && this.status < 200) return; // interim response: the real one follows
    if (this.status === 204 || this.status === 304) {
      this.finish();
      return;
    }
    const lower = head.toLowerCase();
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
      this.state = S.ChunkSize;
      return;
    }
    const m = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    if (m) {
      this.remaining = Number(m[1]);
      if (this.remaining === 0) this.finish();
      else this.state = S.Length;
      return;
    }
    this.state = S.UntilClose;
  }

  private body(buf: Buffer, off: number, n: number): void {
    this.bodyLength += n;
    if (this.parts && n > 0) this.parts.push(Buffer.from(buf.subarray(off, off + n)));
  }

  private finish(): void {
    const r: Resp = { status: this.status, bodyLength: this.bodyLength };
    if (this.parts) r.body = Buffer.concat(this.parts);
    this.parts = undefined;
    this.state = S.Head;
    this.onResponse(r);
  }
}

/** One HTTP/1.1 connection with at most one request in flight. */
export class Http1Conn {
  private waiter: { resolve: (r: Resp) => void; reject: (e: Error) => void } | undefined;
  private readonly reader: ResponseReader;
  private failure: Error | undefined;

  constructor(readonly socket: net.Socket) {
    this.reader = new ResponseReader((r) => {
      const w = this.waiter;
      this.waiter = undefined;
      w?.resolve(r);
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        this.reader.feed(chunk);
      } catch (e) {
        this.fail(e as Error);
        socket.destroy();
      }
    });
    socket.on("end", () => {
      if (!this.reader.end()) this.fail(new Error("connection closed in the middle of a response"));
      else this.fail(new Error("connection closed by the peer"));
    });
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }

  request(raw: Buffer | string, capture = false): Promise<Resp> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error("a request is already in flight"));
    this.reader.capture = capture;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(raw);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Where a client connects: directly to the origin, or through a proxy. */
export interface Target {
  /** The origin. */
  host: string;
  port: number;
  /** Through this proxy: CONNECT for TLS, absolute-form requests for plain HTTP. */
  proxyPort?: number;
  tls?: {
    servername: string;
    /** PEM file of the CA to trust. */
    caFile: string;
    /** Verify the chain but not the name (the origin has one certificate for every SNI). */
    skipNameCheck?: boolean;
  };
}

const caCache = new Map<string, Buffer>();
function ca(file: string): Buffer {
  let b = caCache.get(file);
  if (!b) caCache.set(file, (b = readFileSync(file)));
  return b;
}

function tcp(port: number, host = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/**
 * The proxy closed a tunnel before answering its CONNECT. The times tell whose doing it was: a
 * client whose CONNECT went out only after idle_timeout (its own event loop late, on a busy
 * machine) was rightly closed as idle.
 */
export class TunnelClosed extends Error {
  constructor(
    authority: string,
    /** From the start of connecting to the CONNECT's write. */
    readonly writtenAfterMs: number,
    /** From the CONNECT's write to the close. */
    readonly closedAfterMs: number,
  ) {
    super(`proxy closed the connection during CONNECT ${authority}`);
  }
}

/** Opens a CONNECT tunnel through the proxy; resolves once the proxy answered 2xx. */
export function connectTunnel(proxyPort: number, authority: string): Promise<net.Socket> {
  const began = Date.now();
  return tcp(proxyPort).then(
    (s) =>
      new Promise<net.Socket>((resolve, reject) => {
        const written = Date.now();
        let buf: Buffer = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          const end = buf.indexOf(CRLFCRLF);
          if (end < 0) return;
          cleanup();
          const head = buf.toString("latin1", 0, end);
          const status = Number(head.slice(9, 12));
          if (status < 200 || status > 299) {
            s.destroy();
            reject(new Error(`CONNECT ${authority} refused: ${head.split("\r\n")[0]}`));
            return;
          }
          if (buf.length > end + 4) s.unshift(buf.subarray(end + 4));
          resolve(s);
        };
        const onEnd = () => {
          cleanup();
          reject(new TunnelClosed(authority, written - began, Date.now() - written));
        };
        const onError = (e: Error) => {
          cleanup();
          reject(e);
        };
        const cleanup = () => {
          s.off("data", onData);
          s.off("end", onEnd);
          s.off("close", onEnd);
          s.off("error", onError);
        };
        s.on("data", onData);
        s.once("end", onEnd);
        s.once("close", onEnd);
        s.once("error", onError);
        s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      }),
  );
}

function handshake(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(opts);
    s.once("secureConnect", () => {
      s.off("error", reject);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** A connected socket to `t` (TCP, a tunnel, TLS over either), ready for HTTP. */
export async function open(t: Target, servername?: string): Promise<net.Socket> {
  if (!t.tls) return tcp(t.proxyPort ?? t.port);
  const name = servername ?? t.tls.servername;
  const opts: tls.ConnectionOptions = {
    servername: name,
    ca: ca(t.tls.caFile),
    ALPNProtocols: ["http/1.1"],
  };
  if (t.tls.skipNameCheck) opts.checkServerIdentity = () => undefined;
  if (t.proxyPort !== undefined) {
    const raw = await connectTunnel(t.proxyPort, `${t.host}:${t.port}`);
    try {
      return await handshake({ ...opts, socket: raw });
    } catch (e) {
      raw.destroy();
      throw e;
    }
  }
  return handshake({ ...opts, host: t.host, port: t.port });
}

/** The bytes of a GET for `path` on `t`: absolute-form through a plain-HTTP proxy, origin-form otherwise. */
export function getRequest(t: Target, path: string, hostHeader?: string): Buffer {
  const authority = `${t.host}:${t.port}`;
  const host = hostHeader ?? (t.tls ? `${t.tls.servername}:${t.port}` : authority);
  const target = !t.tls && t.proxyPort !== undefined ? `http://${authority}${path}` : path;
  return Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, "latin1");
}

/** The head of a POST of `bytes` body bytes to `path` on `t` (the body follows separately). */
export function postHead(t: Target, path: string, bytes: number): Buffer {
  const authority = `${t.host}:${t.port}`;
  const host = t.tls ? `${t.tls.servername}:${t.port}` : authority;
  const target = !t.tls && t.proxyPort !== undefined ? `http://${authority}${path}` : path;
  return Buffer.from(
    `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\n\r\n`,
    "latin1",
  );
}
