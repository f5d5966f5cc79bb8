// The loopback origins every family uses, in the harness process:
//  - app: HTTP and HTTPS (Node's http/https servers): /health, /gen (a
//    deterministic body of N bytes, hashed as sent), /sink (hashes the upload),
//    anything else "ok <path>";
//  - ws: a WebSocket echo origin (`ws`);
//  - recorder: raw TCP that keeps the exact bytes of each connection and answers
//    every request it can frame with a small 200 (for the smuggling family).
// Certificates come from a CA of the harness's own (the proxy is told to trust it).
import { createCipheriv, createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { WebSocketServer } from "ws";
import { CertificateAuthority } from "../../core/tls/ca.ts";
import { listen, trackSockets, type Closable } from "./net.ts";

export interface Certs {
  /** PEM file of the CA that signs the origins' certificates. */
  caFile: string;
  key: string;
  cert: string;
  /** A certificate for the same names from a CA nobody trusts. */
  untrusted: { key: string; cert: string };
}

export async function makeCerts(dir: string): Promise<Certs> {
  const ca = await CertificateAuthority.load(join(dir, "origin-ca"));
  const other = await CertificateAuthority.load(join(dir, "untrusted-ca"));
  const names = ["localhost", "127.0.0.1"];
  return {
    caFile: join(dir, "origin-ca/interloper-ca-cert.pem"),
    key: ca.leafKeyPem,
    cert: ca.leafCertPem(names),
    untrusted: { key: other.leafKeyPem, cert: other.leafCertPem(names) },
  };
}

/** A body of `n` bytes that both ends can make again from `key` (AES-CTR keystream). */
export function generated(key: string, n: number): Readable {
  const k = createHash("sha256").update(key).digest();
  const cipher = createCipheriv("aes-128-ctr", k.subarray(0, 16), k.subarray(16, 32));
  const zeros = Buffer.alloc(64 * 1024);
  let left = n;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (left <= 0) return void this.push(null);
      const len = Math.min(left, zeros.length);
      left -= len;
      this.push(cipher.update(len === zeros.length ? zeros : zeros.subarray(0, len)));
    },
  });
}

export interface Transfer {
  bytes: number;
  sha256: string;
}

export interface AppOrigin {
  httpPort: number;
  httpsPort: number;
  /** What /gen sent (by key) and /sink received (by key), once the body ended. */
  sent: Map<string, Transfer>;
  received: Map<string, Transfer>;
  requests: number;
  /** Requests by the first segment of their path (`/rapid`, `/gen`): what one probe caused, beside other traffic. */
  bySegment: Map<string, number>;
  close(): Promise<void>;
}

function appHandler(origin: AppOrigin): http.RequestListener {
  return (req, res) => {
    origin.requests++;
    const url = new URL(req.url ?? "/", "http://x");
    const segment = /^\/[^/]*/.exec(url.pathname)?.[0] ?? "/";
    origin.bySegment.set(segment, (origin.bySegment.get(segment) ?? 0) + 1);
    req.on("error", () => {});
    res.on("error", () => {});
    if (url.pathname === "/gen") {
      const n = Number(url.searchParams.get("n") ?? 0);
      const key = url.searchParams.get("k") ?? "";
      const h = createHash("sha256");
      const body = generated(key, n);
      body.on("data", (c: Buffer) => h.update(c));
      body.on("end", () => origin.sent.set(key, { bytes: n, sha256: h.digest("hex") }));
      const headers: http.OutgoingHttpHeaders = { "content-type": "application/octet-stream" };
      if (url.searchParams.get("chunked") !== "1") headers["content-length"] = n;
      res.writeHead(200, headers);
      body.pipe(res);
      req.resume();
      return;
    }
    if (url.pathname === "/sink") {
      const key = url.searchParams.get("k") ?? "";
      const h = createHash("sha256");
      let bytes = 0;
      req.on("data", (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      req.on("end", () => {
        const t = { bytes, sha256: h.digest("hex") };
        origin.received.set(key, t);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(t));
      });
      return;
    }
    if (url.pathname === "/slow") {
      // Answers after `ms` (clients that leave before the answer).
      req.resume();
      const t = setTimeout(() => res.end("slow"), Math.min(60_000, Number(url.searchParams.get("ms") ?? 1000)));
      res.on("close", () => clearTimeout(t));
      return;
    }
    req.resume();
    req.on("end", () => {
      const body = url.pathname === "/health" ? "ok" : `ok ${url.pathname}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

export async function startApp(certs: Certs): Promise<AppOrigin> {
  const origin: AppOrigin = {
    httpPort: 0,
    httpsPort: 0,
    sent: new Map(),
    received: new Map(),
    requests: 0,
    bySegment: new Map(),
    close: async () => {},
  };
  const handler = appHandler(origin);
  const plain = http.createServer({ keepAliveTimeout: 30_000 }, handler);
  const secure = https.createServer({ key: certs.key, cert: certs.cert, keepAliveTimeout: 30_000 }, handler);
  for (const s of [plain, secure]) {
    s.headersTimeout = 20_000;
    s.requestTimeout = 0;
    s.on("clientError", (_e, socket: net.Socket) => socket.destroy());
    s.on("tlsClientError", () => {});
  }
  const closers = [trackSockets(plain), trackSockets(secure)];
  origin.httpPort = await listen(plain);
  origin.httpsPort = await listen(secure);
  origin.close = async () => {
    await Promise.all(closers.map((c) => c.close()));
  };
  return origin;
}

export interface WsOrigin extends Closable {
  port: number;
}

/** Echoes every message with its type; pings answered by `ws` itself. */
export async function startWs(): Promise<WsOrigin> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 2 ** 20 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => {
      if (ws.readyState === ws.OPEN) ws.send(data as Buffer, { binary: isBinary });
    });
  });
  wss.on("error", () => {});
  const tracked = trackSockets(server);
  const port = await listen(server);
  return {
    port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await tracked.close();
    },
  };
}

/** One connection the recorder accepted: every byte it got, and the requests it framed. */
export interface RecordedConn {
  opened: number;
  bytes: Buffer;
  requests: ParsedRequest[];
  /** Bytes after the last request that do not make a complete request. */
  leftover: number;
  /** Why the strict parser stopped, if it did. */
  error?: string;
}

export interface ParsedRequest {
  line: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Framing faults a strict reader sees (two Content-Lengths, CL with TE, ...). */
  ambiguities: string[];
}

export interface Recorder extends Closable {
  port: number;
  conns: RecordedConn[];
}

/**
 * A raw origin that records exact bytes (see RecordedConn) and answers each
 * framed request with a small 200 (bytes it cannot frame: a 400, then it
 * closes). With `certs` it speaks TLS (HTTP/1.1, no ALPN).
 */
export async function startRecorder(certs?: Certs): Promise<Recorder> {
  const conns: RecordedConn[] = [];
  const onConn = (s: net.Socket) => {
    const rec: RecordedConn = { opened: Date.now(), bytes: Buffer.alloc(0), requests: [], leftover: 0 };
    conns.push(rec);
    s.on("error", () => {});
    s.on("data", (d: Buffer) => {
      rec.bytes = Buffer.concat([rec.bytes, d]);
      const before = rec.requests.length;
      const parsed = parseRequests(rec.bytes);
      rec.requests = parsed.requests;
      rec.leftover = parsed.leftover;
      rec.error = parsed.error;
      for (let i = before; i < rec.requests.length; i++)
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nrecorded");
      if (parsed.error && s.writable)
        s.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
  };
  const server = certs
    ? (await import("node:tls")).createServer({ key: certs.key, cert: certs.cert }, onConn)
    : (await import("node:net")).createServer({ allowHalfOpen: false }, onConn);
  server.on("tlsClientError", () => {});
  const tracked = trackSockets(server);
  const port = await listen(server);
  return { port, conns, close: () => tracked.close() };
}

/**
 * A strict HTTP/1.1 request reader (RFC 9112): CRLF line ends, framing by
 * one Content-Length or a final `chunked`. What a lenient server would read
 * differently is noted in `ambiguities`; it reads on as far as it can.
 */
export function parseRequests(buf: Buffer): { requests: ParsedRequest[]; leftover: number; error?: string } {
  const requests: ParsedRequest[] = [];
  let off = 0;
  for (;;) {
    const reqStart = off;
    const end = buf.indexOf("\r\n\r\n", off);
    if (end < 0) return { requests, leftover: buf.length - off };
    const lines = buf.toString("latin1", off, end).split("\r\n");
    const line = lines[0]!;
    const headers: Array<[string, string]> = [];
    const ambiguities: string[] = [];
    for (const l of lines.slice(1)) {
      if (/^[ \t]/.test(l)) ambiguities.push("obs-fold line");
      if (l.includes("\n")) ambiguities.push("bare LF inside the head");
      const i = l.indexOf(":");
      if (i <= 0) {
        ambiguities.push(`field line without a name: ${JSON.stringify(l.slice(0, 40))}`);
        continue;
      }
      const name = l.slice(0, i);
      if (/\s$/.test(name)) ambiguities.push("white space before a colon");
      if (l.includes("\0")) ambiguities.push("NUL in a field");
      headers.push([name.trim(), l.slice(i + 1).trim()]);
    }
    const cls = headers.filter(([k]) => k.toLowerCase() === "content-length").map(([, v]) => v);
    const tes = headers.filter(([k]) => k.toLowerCase() === "transfer-encoding").map(([, v]) => v);
    if (cls.length > 1) ambiguities.push(`${cls.length} Content-Length fields (${cls.join(" / ")})`);
    if (cls.length && tes.length) ambiguities.push("Content-Length beside Transfer-Encoding");
    const codings = tes
      .join(",")
      .split(",")
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean);
    if (tes.length && codings[codings.length - 1] !== "chunked")
      ambiguities.push(`Transfer-Encoding without a final chunked: ${tes.join(", ")}`);
    off = end + 4;
    let body: Buffer = Buffer.alloc(0);
    if (tes.length && codings[codings.length - 1] === "chunked") {
      const r = readChunked(buf, off);
      if (r === "incomplete") return { requests, leftover: buf.length - reqStart };
      if (typeof r === "string") return { requests, leftover: buf.length - off, error: r };
      body = r.body;
      off = r.end;
    } else if (cls.length) {
      const n = Number(cls[0]);
      if (!/^\d+$/.test(cls[0]!))
        return { requests, leftover: buf.length - off, error: `bad Content-Length ${JSON.stringify(cls[0])}` };
      if (buf.length - off < n) return { requests, leftover: buf.length - reqStart };
      body = buf.subarray(off, off + n);
      off += n;
    }
    requests.push({ line, headers, body: Buffer.from(body), ambiguities });
    if (off >= buf.length) return { requests, leftover: 0 };
  }
}

function readChunked(buf: Buffer, start: number): { body: Buffer; end: number } | "incomplete" | string {
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const le = buf.indexOf("\r\n", pos);
    if (le < 0) return "incomplete";
    const sizeText = buf.toString("latin1", pos, le).split(";")[0]!;
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return `bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}`;
    const size = parseInt(sizeText, 16);
    pos = le + 2;
    if (size === 0) {
      for (;;) {
        const e = buf.indexOf("\r\n", pos);
        if (e < 0) return "incomplete";
        const empty = e === pos;
        pos = e + 2;
        if (empty) return { body: Buffer.concat(parts), end: pos };
      }
    }
    if (buf.length < pos + size + 2) return "incomplete";
    parts.push(buf.subarray(pos, pos + size));
    if (buf.toString("latin1", pos + size, pos + size + 2) !== "\r\n") return "chunk data not followed by CRLF";
    pos += size + 2;
  }
}

/** Saves `bytes` under `dir` as `name` and returns the path (for the report). */
export function saveBytes(dir: string, name: string, bytes: Buffer | string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
