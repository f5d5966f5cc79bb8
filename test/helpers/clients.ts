// Client-side helpers for the end-to-end suites: raw sockets that read HTTP
// responses byte-exactly, CONNECT tunnels with TLS on top, Node's http client
// in absolute form, a hook recorder, and process memory readings.
// Everything talks to 127.0.0.1 only; every wait is bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import * as tls from "node:tls";
import { HOOK_NAMES, type Addon, type HookName } from "@interloper/sdk";
import type { Origin } from "./harness.ts";
import { ROOT } from "./harness.ts";

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

/** Parses one response at the start of `buf`; undefined when it is not complete yet. */
export function parseResponse(buf: Buffer, opts: { method?: string; closed?: boolean } = {}): { res: WireResponse; used: number } | undefined {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd === -1) return undefined;
  const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
  const statusLine = lines[0]!;
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP/1 status line: ${JSON.stringify(statusLine)}`);
  const status = Number(m[1]);
  const headers: Array<[string, string]> = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers.push([l.slice(0, i), l.slice(i + 1).trim()]);
  }
  const header = (name: string) => headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  const start = headEnd + 4;
  let body: Buffer;
  let used: number;
  const noBody = opts.method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304;
  if (noBody) {
    body = Buffer.alloc(0);
    used = start;
  } else if (/chunked/i.test(header("transfer-encoding") ?? "")) {
    const parts: Buffer[] = [];
    let pos = start;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", pos);
      if (lineEnd === -1) return undefined;
      const size = parseInt(buf.subarray(pos, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line at ${pos}`);
      pos = lineEnd + 2;
      if (size === 0) {
        // Trailer fields, then an empty line.
        for (;;) {
          const e = buf.indexOf("\r\n", pos);
          if (e === -1) return undefined;
          const empty = e === pos;
          pos = e + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return undefined;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
    used = pos;
  } else if (header("content-length") !== undefined) {
    const n = Number(header("content-length"));
    if (buf.length < start + n) return undefined;
    body = buf.subarray(start, start + n);
    used = start + n;
  } else {
    // Delimited by the close.
    if (!opts.closed) return undefined;
    body = buf.subarray(start);
    used = buf.length;
  }
  return {
    res: { statusLine, status, reason: m[2] ?? "", headers, header, body: Buffer.from(body), raw: Buffer.from(buf.subarray(0, used)) },
    used,
  };
}

/**
 * A socket (TCP or TLS) whose incoming bytes are collected, with bounded
 * waits for responses and for the close.
 */
export class WireClient {
  buf = Buffer.alloc(0);
  closed = false;
  ended = false;
  error: Error | undefined;
  private readonly changed = new EventEmitter();

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.changed.emit("x");
    });
    socket.on("end", () => {
      this.ended = true;
      this.changed.emit("x");
    });
    socket.on("error", (e) => {
      this.error = e;
      this.changed.emit("x");
    });
    socket.on("close", () => {
      this.closed = true;
      this.changed.emit("x");
    });
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

  /** Waits until `check` returns a value (it is re-run on every socket event), at most `timeoutMs`. */
  async until<T>(check: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received so far: ${JSON.stringify(this.buf.subarray(0, 600).toString("latin1"))}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.changed.off("x", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 200));
        this.changed.on("x", done);
      });
    }
  }

  /** Reads (and consumes) the next complete response. */
  async readResponse(opts: { method?: string; timeoutMs?: number } = {}): Promise<WireResponse> {
    return this.until(
      () => {
        const p = parseResponse(this.buf, { method: opts.method, closed: this.ended || this.closed });
        if (p) {
          this.buf = this.buf.subarray(p.used);
          return p.res;
        }
        if ((this.ended || this.closed) ) {
          throw new Error(`connection closed before a complete response; received: ${JSON.stringify(this.buf.subarray(0, 600).toString("latin1"))}`);
        }
        return undefined;
      },
      "a complete response",
      opts.timeoutMs,
    );
  }

  /** Waits until the peer ended or closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
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
export async function openTunnel(proxyPort: number, authority: string, timeoutMs = 10_000): Promise<{ socket: net.Socket; status: number; head: string; rest: Buffer }> {
  const socket = net.connect({ port: proxyPort, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no CONNECT answer; got ${JSON.stringify(buf.toString("latin1"))}`)), timeoutMs);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.includes("\r\n\r\n")) finish();
      };
      const onClose = () => finish(buf.includes("\r\n\r\n") ? undefined : new Error(`tunnel closed; got ${JSON.stringify(buf.toString("latin1"))}`));
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
export async function tlsOver(socket: net.Socket, opts: { servername?: string; ca?: string | string[]; rejectUnauthorized?: boolean }, timeoutMs = 10_000): Promise<tls.TLSSocket> {
  const t = tls.connect({ socket, servername: opts.servername, ca: opts.ca, rejectUnauthorized: opts.rejectUnauthorized ?? true, ALPNProtocols: ["http/1.1"] });
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
  opts: { method?: string; headers?: http.OutgoingHttpHeaders | string[]; body?: Buffer | string | Buffer[]; agent?: http.Agent | false; timeoutMs?: number } = {},
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
    const timer = setTimeout(() => req.destroy(new Error(`request ${url} timed out`)), opts.timeoutMs ?? 15_000);
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
        resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), localPort });
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
export const FLOW_HOOKS: readonly HookName[] = HOOK_NAMES.filter((h) => !["load", "configure", "running", "done"].includes(h));

/**
 * An addon that records the name of every flow/connection hook it sees, in
 * order. `timeline` also gets log entries pushed by the caller, if wanted.
 */
export function hookRecorder(): { addon: Addon; calls: string[] } {
  const calls: string[] = [];
  const addon: Record<string, unknown> = { name: "hook-recorder" };
  for (const h of FLOW_HOOKS) addon[h] = () => void calls.push(h);
  return { addon: addon as Addon, calls };
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
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/cli.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      try {
        return await closed;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** Waits until something accepts TCP connections on the port (bounded). */
export async function waitForListening(port: number, timeoutMs = 15_000): Promise<void> {
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
