// Client-side helpers for the end-to-end suites: raw sockets that read HTTP
// responses byte-exactly, CONNECT tunnels with TLS on top, Node's http client
// in absolute form, a hook recorder, and process memory readings.
// Everything talks to 127.0.0.1 only; every wait is bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import * as tls from "node:tls";
import { HOOK_NAMES, type Addon, type HookName } from "@interloper/sdk";
import type { Origin } from "./harness.ts";
import { ROOT, WAIT_MS } from "./harness.ts";

/** `127.0.0.1:PORT` as a regex source: the prefix of every per-connection log line. */
export const PEER = String.raw`127\.0\.0\.1:\d+`;

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A port nobody listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Counts the TCP connections an origin accepts (attach before sending requests). */
export function countConnections(origin: Origin): { count: () => number; closed: () => number } {
  let count = 0;
  let closed = 0;
  origin.server.on("connection", (s: net.Socket) => {
    count++;
    s.once("close", () => closed++);
  });
  return { count: () => count, closed: () => closed };
}

/** A parsed HTTP/1 response, read off the wire byte-exactly. */
export interface WireResponse {
  statusLine: string;
  status: number;
  reason: string;
  /** `[name, value]` in wire order, names as sent. */
  headers: Array<[string, string]>;
  /** The first value of a header (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  /** The decoded body (chunked framing removed). */
  body: Buffer;
  /** The head and the body exactly as they arrived. */
  raw: Buffer;
}

const CRLF = Buffer.from("\r\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");

/**
 * Received bytes as a list of chunks: appending copies nothing, and only what
 * is asked for is joined. (Joining everything on every `data` event made a
 * 24 MiB body cost seconds of copying, and the tests time out on a busy machine.)
 */
export class ByteList {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first position at or after `from` where `needle` starts (it may span chunks), or -1. */
  indexOf(needle: Buffer, from = 0): number {
    let base = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      const end = base + c.length;
      if (end > from) {
        const local = c.indexOf(needle, Math.max(0, from - base));
        if (local !== -1) return base + local;
        // A match that starts in this chunk and ends in a later one.
        if (i + 1 < this.chunks.length && needle.length > 1) {
          const tail = Math.max(from, end - needle.length + 1);
          const w = this.slice(tail, Math.min(this.length, end + needle.length - 1)).indexOf(needle);
          if (w !== -1) return tail + w;
        }
      }
      base = end;
    }
    return -1;
  }

  /** Bytes [start, end) as one buffer: a view when they lie in one chunk, else one copy. */
  slice(start: number, end = this.length): Buffer {
    const parts: Buffer[] = [];
    let base = 0;
    for (const c of this.chunks) {
      const cEnd = base + c.length;
      if (cEnd > start && base < end) parts.push(c.subarray(Math.max(0, start - base), Math.min(c.length, end - base)));
      if (cEnd >= end) break;
      base = cEnd;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Drops the first `n` bytes (the rest is not copied). */
  drop(n: number): void {
    let left = Math.min(n, this.length);
    this.length -= left;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length > left) {
        this.chunks[0] = c.subarray(left);
        return;
      }
      this.chunks.shift();
      left -= c.length;
    }
  }

  /** Everything, as one buffer (the list keeps it as its only chunk). */
  all(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
}

interface Head {
  statusLine: string;
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const statusLine = lines[0]!;
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP/1 status line: ${JSON.stringify(statusLine)}`);
  const headers: Array<[string, string]> = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers.push([l.slice(0, i), l.slice(i + 1).trim()]);
  }
  return { statusLine, status: Number(m[1]), reason: m[2] ?? "", headers };
}

function headerOf(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/**
 * Finds where one HTTP/1 response ends in a growing ByteList, looking at each
 * byte once: the head is searched for from where the last search stopped, a
 * Content-Length body is counted, chunked framing is walked with a running
 * offset. Keep one per response across `data` events.
 */
export class ResponseFramer {
  private scanned = 0;
  private head: Head | undefined;
  private bodyStart = 0;
  private framing: "none" | "length" | "chunked" | "close" = "none";
  private contentLength = 0;
  /** Chunked: where the next size line (or trailer line) starts. */
  private pos = 0;
  /** Chunked: the end of the chunk data being waited for, or -1. */
  private chunkEnd = -1;
  private inTrailers = false;
  private readonly parts: Array<[number, number]> = [];
  /** Set once the response is complete: its length. */
  private end: number | undefined;

  constructor(private readonly method?: string) {}

  /** The response's length in bytes once it is complete, else undefined. `closed`: no more bytes will come. */
  step(bytes: ByteList, closed: boolean): number | undefined {
    this.end ??= this.findEnd(bytes, closed);
    return this.end;
  }

  private findEnd(bytes: ByteList, closed: boolean): number | undefined {
    if (!this.head && !this.findHead(bytes)) return undefined;
    if (this.framing === "none") return this.bodyStart;
    if (this.framing === "length")
      return bytes.length >= this.bodyStart + this.contentLength ? this.bodyStart + this.contentLength : undefined;
    if (this.framing === "close") return closed ? bytes.length : undefined;
    return this.walkChunks(bytes);
  }

  /** The response, from exactly its bytes (`step`'s length of them). */
  response(raw: Buffer): WireResponse {
    const h = this.head!;
    let body: Buffer;
    if (this.framing === "chunked") body = Buffer.concat(this.parts.map(([s, e]) => raw.subarray(s, e)));
    else if (this.framing === "none") body = Buffer.alloc(0);
    else body = raw.subarray(this.bodyStart);
    return { ...h, header: (name) => headerOf(h.headers, name), body, raw };
  }

  private findHead(bytes: ByteList): boolean {
    const end = bytes.indexOf(CRLFCRLF, Math.max(0, this.scanned - 3));
    this.scanned = bytes.length;
    if (end === -1) return false;
    const h = parseHead(bytes.slice(0, end).toString("latin1"));
    this.head = h;
    this.bodyStart = end + 4;
    this.pos = this.bodyStart;
    const noBody =
      this.method === "HEAD" || (h.status >= 100 && h.status < 200) || h.status === 204 || h.status === 304;
    if (noBody) this.framing = "none";
    else if (/chunked/i.test(headerOf(h.headers, "transfer-encoding") ?? "")) this.framing = "chunked";
    else if (headerOf(h.headers, "content-length") !== undefined) {
      this.framing = "length";
      this.contentLength = Number(headerOf(h.headers, "content-length"));
    } else this.framing = "close"; // delimited by the close
    return true;
  }

  private walkChunks(bytes: ByteList): number | undefined {
    for (;;) {
      if (this.chunkEnd !== -1) {
        // Chunk data and its CRLF.
        if (bytes.length < this.chunkEnd + 2) return undefined;
        this.parts.push([this.pos, this.chunkEnd]);
        this.pos = this.chunkEnd + 2;
        this.chunkEnd = -1;
        continue;
      }
      const lineEnd = bytes.indexOf(CRLF, this.pos);
      if (lineEnd === -1) return undefined;
      if (this.inTrailers) {
        // Trailer fields, then an empty line.
        const empty = lineEnd === this.pos;
        this.pos = lineEnd + 2;
        if (empty) return this.pos;
        continue;
      }
      const size = parseInt(bytes.slice(this.pos, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line at ${this.pos}`);
      this.pos = lineEnd + 2;
      if (size === 0) this.inTrailers = true;
      else this.chunkEnd = this.pos + size;
    }
  }
}

/** Parses one response at the start of `buf`; undefined when it is not complete yet. */
export function parseResponse(
  buf: Buffer,
  opts: { method?: string; closed?: boolean } = {},
): { res: WireResponse; used: number } | undefined {
  const bytes = new ByteList();
  bytes.push(buf);
  const framer = new ResponseFramer(opts.method);
  const used = framer.step(bytes, opts.closed ?? false);
  if (used === undefined) return undefined;
  return { res: framer.response(Buffer.from(buf.subarray(0, used))), used };
}

/**
 * A socket (TCP or TLS) whose incoming bytes are collected, with bounded
 * waits for responses and for the close. Every wait is woken by the socket's
 * events; nothing polls.
 */
export class WireClient {
  closed = false;
  ended = false;
  error: Error | undefined;
  private readonly bytes = new ByteList();
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.bytes.push(d);
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", (e) => {
      this.error = e;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /**
   * The bytes received and not yet taken by `readResponse`, as one buffer.
   * It joins them: in a check run on every event over megabytes, use `buffered`.
   */
  get buf(): Buffer {
    return this.bytes.all();
  }

  /** How many bytes were received and not yet taken by `readResponse` (no copy). */
  get buffered(): number {
    return this.bytes.length;
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<WireClient> {
    const s = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      s.once("connect", resolve);
      s.once("error", reject);
    });
    return new WireClient(s);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Waits until `check` returns a value (it is re-run on every socket event), at most `timeoutMs`; a throw in `check` rejects. */
  until<T>(check: () => T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      const attempt = () => {
        try {
          const v = check();
          if (v === undefined) return;
          finish();
          resolve(v);
        } catch (err) {
          finish();
          reject(err);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.describe()}`));
      }, timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }

  /** What arrived so far, for error messages: the count and the first bytes. */
  private describe(): string {
    const head = this.bytes.slice(0, Math.min(600, this.bytes.length));
    return `${this.bytes.length} bytes received so far, starting ${JSON.stringify(head.toString("latin1"))}`;
  }

  /** Reads (and consumes) the next complete response. */
  async readResponse(opts: { method?: string; timeoutMs?: number } = {}): Promise<WireResponse> {
    // One framer for the whole wait: each event's check looks only at the bytes that came with it.
    const framer = new ResponseFramer(opts.method);
    return this.until(
      () => {
        const done = this.ended || this.closed;
        const used = framer.step(this.bytes, done);
        if (used !== undefined) {
          const res = framer.response(this.bytes.slice(0, used));
          this.bytes.drop(used);
          return res;
        }
        if (done) throw new Error(`connection closed before a complete response; ${this.describe()}`);
        return undefined;
      },
      "a complete response",
      opts.timeoutMs,
    );
  }

  /** Waits until the peer ended or closed the connection. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    await this.until(() => (this.ended || this.closed ? true : undefined), "the connection to close", timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Opens `CONNECT authority` through the proxy and reads the proxy's answer
 * head. On 200 the returned socket is paused with no listeners, ready for TLS.
 */
export async function openTunnel(
  proxyPort: number,
  authority: string,
  timeoutMs = WAIT_MS,
): Promise<{ socket: net.Socket; status: number; head: string; rest: Buffer }> {
  const socket = net.connect({ port: proxyPort, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no CONNECT answer; got ${JSON.stringify(buf.toString("latin1"))}`)),
        timeoutMs,
      );
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.includes("\r\n\r\n")) finish();
      };
      const onClose = () =>
        finish(
          buf.includes("\r\n\r\n")
            ? undefined
            : new Error(`tunnel closed; got ${JSON.stringify(buf.toString("latin1"))}`),
        );
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("close", onClose);
        socket.off("error", onClose);
        socket.pause();
        if (err) reject(err);
        else resolve();
      };
      socket.on("data", onData);
      socket.once("close", onClose);
      socket.once("error", onClose);
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const end = buf.indexOf("\r\n\r\n");
  const head = buf.subarray(0, end).toString("latin1");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
  return { socket, status, head, rest: buf.subarray(end + 4) };
}

/** TLS over a socket (a tunnel); resolves once the handshake is done. */
export async function tlsOver(
  socket: net.Socket,
  opts: { servername?: string; ca?: string | string[]; rejectUnauthorized?: boolean },
  timeoutMs = WAIT_MS,
): Promise<tls.TLSSocket> {
  const t = tls.connect({
    socket,
    servername: opts.servername,
    ca: opts.ca,
    rejectUnauthorized: opts.rejectUnauthorized ?? true,
    ALPNProtocols: ["http/1.1"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error("TLS handshake through the tunnel timed out"));
    }, timeoutMs);
    t.once("secureConnect", () => {
      clearTimeout(timer);
      resolve();
    });
    t.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return t;
}

/** The proxy's CA certificate (PEM) from its confdir. */
export function proxyCaPem(confdir: string): string {
  return readFileSync(join(confdir, "interloper-ca-cert.pem"), "utf8");
}

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The client socket's local port (same port = same connection). */
  localPort: number;
}

/**
 * A request through the proxy with Node's http client, absolute-form target
 * (`GET http://host:port/path HTTP/1.1`).
 */
export function requestViaProxy(
  proxyPort: number,
  url: string,
  opts: {
    method?: string;
    headers?: http.OutgoingHttpHeaders | string[];
    body?: Buffer | string | Buffer[];
    agent?: http.Agent | false;
    timeoutMs?: number;
  } = {},
): Promise<ClientResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: proxyPort,
      method: opts.method ?? "GET",
      path: url,
      headers: opts.headers ?? { Host: u.host },
      agent: opts.agent ?? false,
      setHost: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`request ${url} timed out`)), opts.timeoutMs ?? WAIT_MS);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      const localPort = res.socket.localPort ?? 0;
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          localPort,
        });
      });
    });
    if (Array.isArray(opts.body)) {
      for (const c of opts.body) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

/** Peak resident memory (VmHWM) of a process, in bytes, from /proc. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The names of the flow and connection hooks (lifecycle hooks left out). */
export const FLOW_HOOKS: readonly HookName[] = HOOK_NAMES.filter(
  (h) => !["load", "configure", "running", "done"].includes(h),
);

/**
 * An addon that records the name of every flow/connection hook it sees, in
 * order. `timeline` also gets log entries pushed by the caller, if wanted.
 */
export function hookRecorder(): { addon: Addon; calls: string[] } {
  const calls: string[] = [];
  const addon: Record<string, unknown> = { name: "hook-recorder" };
  for (const h of FLOW_HOOKS) addon[h] = () => void calls.push(h);
  return { addon, calls };
}

/** A CLI child started with exactly these args (no port discovery from the log). */
export interface RawCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code once stdout and stderr are closed. */
  stop(): Promise<number | null>;
}

export function spawnCli(args: string[]): RawCli {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
      try {
        return await closed;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** Waits until something accepts TCP connections on the port (bounded). */
export async function waitForListening(port: number, timeoutMs = WAIT_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a TCP connect to the port is refused. */
export function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}
