/**
 * HAR 1.2 (the HTTP Archive format browsers export) from sdk flows, with the
 * fields mitmproxy's `savehar` addon writes and every field the spec
 * requires. Text is written the way mitmproxy does: bodies decoded
 * (Content-Encoding removed) as text when they are text in their charset,
 * else base64; header bytes that are not UTF-8 as lone surrogates.
 *
 * Beyond the spec (custom fields start with `_`, as it asks):
 * `_resourceType` and `_webSocketMessages` (Chrome's, also mitmproxy's) for
 * WebSocket flows, `_error` on the response (mitmproxy's), `_encoding:
 * "base64"` on a binary request body (HAR has no field for it), and
 * `_encodedBody: true` on a body that could not be decoded (its text is the
 * body as sent). TCP flows have no place in a HAR and are skipped.
 */
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { SDK_VERSION } from "../addon.ts";
import { decodeContent } from "../encoding.ts";
import type { AnyFlow, HTTPFlow, Request, Response, WebSocketMessage } from "../flow.ts";
import type { Headers } from "../headers.ts";
import { toHarText } from "./har-text.ts";
import { decodeEscaped } from "./surrogate-escape.ts";
import { wireBytes } from "./wire-text.ts";

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarCookie extends HarNameValue {
  path?: string;
  domain?: string;
  expires?: string;
  httpOnly?: boolean;
  secure?: boolean;
  /** Not in HAR 1.2 (browsers write it anyway): a custom field. */
  _sameSite?: string;
}

export interface HarContent {
  size: number;
  compression?: number;
  mimeType: string;
  text?: string;
  encoding?: string;
  _encodedBody?: boolean;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: Record<string, unknown>;
  response: Record<string, unknown>;
  cache: Record<string, never>;
  timings: { blocked: number; dns: number; connect: number; ssl: number; send: number; wait: number; receive: number };
  serverIPAddress?: string;
  comment?: string;
  _resourceType?: string;
  _webSocketMessages?: Array<{ type: "send" | "receive"; time: number; opcode: number; data: string }>;
}

export interface HarOptions {
  /** The `creator` of the log (default interloper and the sdk's version). */
  creator?: { name: string; version: string };
}

/**
 * Which server connections have been seen: the connect and TLS times go to
 * the first entry that used a connection (as browsers and mitmproxy count
 * them). Bounded, so that a long capture's writer stays small.
 */
export class SeenServers {
  private readonly ids = new Set<string>();
  constructor(private readonly limit = 4096) {}

  /** True the first time `id` is passed. */
  first(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}

/** A whole HAR document of the HTTP flows among `flows`. */
export function harDocument(flows: Iterable<AnyFlow>, opts: HarOptions = {}): { log: Record<string, unknown> } {
  const seen = new SeenServers();
  const entries: HarEntry[] = [];
  for (const flow of flows) if (flow.type === "http") entries.push(harEntry(flow, seen));
  return { log: Object.assign(logHead(opts), { entries }) };
}

function logHead(opts: HarOptions): Record<string, unknown> {
  return { version: "1.2", creator: opts.creator ?? { name: "interloper", version: SDK_VERSION }, pages: [] };
}

/** One HTTP flow as a HAR entry. */
export function harEntry(flow: HTTPFlow, seen: SeenServers = new SeenServers()): HarEntry {
  const { request: req, response: res } = flow;
  const timings = harTimings(flow, seen);
  const entry: HarEntry = {
    startedDateTime: isoTime(req.timestampStart),
    time: [timings.connect, timings.send, timings.wait, timings.receive].reduce((a, t) => (t > 0 ? a + t : a), 0),
    request: harRequest(req),
    response: res ? harResponse(res) : noResponse(),
    cache: {},
    timings,
  };
  if (flow.error) entry.response._error = flow.error.msg;
  if (flow.server.peername) entry.serverIPAddress = flow.server.peername.host;
  if (flow.comment) entry.comment = flow.comment;
  if (flow.websocket) {
    entry._resourceType = "websocket";
    entry._webSocketMessages = flow.websocket.messages.map(harWsMessage);
  }
  return entry;
}

function harTimings(flow: HTTPFlow, seen: SeenServers): HarEntry["timings"] {
  const { request: req, response: res, server } = flow;
  let connect = -1;
  let ssl = -1;
  if (server.timestampStart !== undefined && server.timestampTcpSetup !== undefined && seen.first(server.id)) {
    // HAR 1.2: `connect` includes the TLS time that `ssl` also gives.
    connect = ms((server.timestampTlsSetup ?? server.timestampTcpSetup) - server.timestampStart);
    if (server.timestampTlsSetup !== undefined) ssl = ms(server.timestampTlsSetup - server.timestampTcpSetup);
  }
  // A streamed request has no recorded end: its sending is counted as waiting.
  const sent = req.timestampEnd ?? req.timestampStart;
  const send = ms(sent - req.timestampStart);
  const wait = res ? ms(res.timestampStart - sent) : 0;
  const receive = res?.timestampEnd === undefined ? 0 : ms(res.timestampEnd - res.timestampStart);
  return { blocked: -1, dns: -1, connect, ssl, send, wait, receive };
}

/** Milliseconds, never negative (clocks that stepped back would make a timing invalid). */
function ms(seconds: number): number {
  return Math.max(0, seconds * 1000);
}

/** ISO 8601 in UTC with microseconds, as mitmproxy writes it (flow timestamps are finer than milliseconds). */
export function isoTime(seconds: number): string {
  const whole = Math.floor(seconds);
  const micros = Math.round((seconds - whole) * 1e6);
  const carry = micros === 1e6 ? 1 : 0;
  const date = new Date((whole + carry) * 1000).toISOString().slice(0, 19);
  return `${date}.${String(carry ? 0 : micros).padStart(6, "0")}Z`;
}

function harRequest(req: Request): Record<string, unknown> {
  const url = req.method === "CONNECT" && req.form === "authority" ? `https://${req.url}/` : req.url;
  const out: Record<string, unknown> = {
    method: text(req.method),
    url: text(url),
    httpVersion: req.httpVersion,
    cookies: requestCookies(req.headers),
    headers: harHeaders(req.headers),
    queryString: queryString(req.path),
    headersSize: headSize(`${req.method} ${req.path} ${req.httpVersion}`, req.headers, req.httpVersion),
    bodySize: req.stream && req.body.length === 0 ? -1 : req.body.length,
  };
  if (req.body.length > 0) {
    const body = harBody(req.body, req.headers);
    const postData: Record<string, unknown> = { mimeType: req.headers.get("content-type") ?? "", params: [] };
    postData.text = body.text;
    if (body.encoding) postData._encoding = body.encoding;
    if (body._encodedBody) postData._encodedBody = true;
    out.postData = postData;
  }
  return out;
}

function harResponse(res: Response): Record<string, unknown> {
  const held = !(res.stream && res.body.length === 0);
  const content: HarContent = held ? harBody(res.body, res.headers) : { size: 0, mimeType: "" };
  content.mimeType = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    statusText: text(res.reason),
    httpVersion: res.httpVersion,
    cookies: responseCookies(res.headers),
    headers: harHeaders(res.headers),
    content,
    redirectURL: text(res.headers.get("location") ?? ""),
    headersSize: headSize(`${res.httpVersion} ${res.status} ${res.reason}`, res.headers, res.httpVersion),
    bodySize: held ? res.body.length : -1,
  };
}

/** What mitmproxy writes for a flow without a response: status 0 and empty parts (with the content fields HAR requires). */
function noResponse(): Record<string, unknown> {
  return {
    status: 0,
    statusText: "",
    httpVersion: "",
    cookies: [],
    headers: [],
    content: { size: 0, mimeType: "" },
    redirectURL: "",
    headersSize: -1,
    bodySize: -1,
  };
}

/** A body as HAR content: decoded, as text when it reads back to the same bytes in its charset, else base64. */
function harBody(body: Buffer, headers: Headers): HarContent {
  const coding = headers.get("content-encoding");
  let content: Buffer;
  let encoded = false;
  try {
    content = decodeContent(body, coding);
  } catch {
    content = body;
    encoded = true;
  }
  const out: HarContent = { size: content.length, mimeType: "" };
  if (!encoded && content.length !== body.length) out.compression = content.length - body.length;
  Object.assign(out, toHarText(content, headers.get("content-type")));
  if (encoded) out._encodedBody = true;
  return out;
}

function harWsMessage(m: WebSocketMessage): NonNullable<HarEntry["_webSocketMessages"]>[number] {
  const data = m.type === "text" ? m.content.toString("utf8") : m.content.toString("base64");
  // A text message that is not valid UTF-8 could not be spelled as text: send it as binary.
  const textOk = m.type !== "text" || Buffer.from(data, "utf8").equals(m.content);
  return {
    type: m.fromClient ? "send" : "receive",
    time: m.timestamp,
    opcode: m.type === "text" && textOk ? 1 : 2,
    data: textOk ? data : m.content.toString("base64"),
  };
}

/** A byte string (one character per byte) as JSON text: UTF-8 decoded, stray bytes as lone surrogates. */
function text(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : decodeEscaped(wireBytes(s));
}

function harHeaders(headers: Headers): HarNameValue[] {
  return headers.fields.map(([name, value]) => ({ name: text(name), value: text(value) }));
}

/** The size of an HTTP/1 head (start line, fields, blank line); -1 for HTTP/2 and 3, whose heads are compressed. */
function headSize(startLine: string, headers: Headers, httpVersion: string): number {
  if (!httpVersion.startsWith("HTTP/1")) return -1;
  let n = wireBytes(startLine).length + 2;
  for (const [name, value] of headers.fields) n += wireBytes(name).length + 2 + wireBytes(value).length + 2;
  return n + 2;
}

function queryString(path: string): HarNameValue[] {
  const i = path.indexOf("?");
  if (i === -1) return [];
  return [...new URLSearchParams(text(path.slice(i + 1)))].map(([name, value]) => ({ name, value }));
}

function requestCookies(headers: Headers): HarCookie[] {
  const out: HarCookie[] = [];
  for (const line of headers.getAll("cookie")) {
    for (const part of line.split(";")) {
      const pair = splitPair(part);
      if (pair) out.push({ name: text(pair[0]), value: text(pair[1]) });
    }
  }
  return out;
}

function responseCookies(headers: Headers): HarCookie[] {
  const out: HarCookie[] = [];
  for (const line of headers.getAll("set-cookie")) {
    const [first, ...attrs] = line.split(";");
    const pair = splitPair(first ?? "");
    if (!pair) continue;
    const cookie: HarCookie = { name: text(pair[0]), value: text(pair[1]) };
    for (const attr of attrs) cookieAttribute(cookie, attr);
    out.push(cookie);
  }
  return out;
}

function cookieAttribute(cookie: HarCookie, attr: string): void {
  const [rawKey, rawValue = ""] = attr.split("=", 2);
  const key = rawKey!.trim().toLowerCase();
  const value = text(rawValue.trim());
  if (key === "path") cookie.path = value;
  else if (key === "domain") cookie.domain = value;
  else if (key === "httponly") cookie.httpOnly = true;
  else if (key === "secure") cookie.secure = true;
  else if (key === "samesite") cookie._sameSite = value;
  else if (key === "expires") {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) cookie.expires = new Date(t).toISOString();
  }
}

function splitPair(part: string): [string, string] | undefined {
  const eq = part.indexOf("=");
  if (eq === -1) return part.trim() ? [part.trim(), ""] : undefined;
  return [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
}

// ---------------------------------------------------------------- streaming

/**
 * Writes a HAR file entry by entry: the log's head first, each HTTP flow
 * when added (held no longer), the closing brackets on `close()`. Until
 * then the file is an unfinished JSON document.
 */
export class HarWriter {
  private count = 0;
  private closed = false;
  private readonly seen = new SeenServers();
  private failure: Error | undefined;

  constructor(
    private readonly out: Writable,
    opts: HarOptions = {},
  ) {
    out.on("error", (err) => {
      this.failure ??= err;
    });
    const head = JSON.stringify({ log: logHead(opts) });
    // `{"log":{...,"pages":[]}}` opened up to take the entries.
    out.write(`${head.slice(0, -2)},"entries":[`);
  }

  static async open(path: string, opts: HarOptions = {}): Promise<HarWriter> {
    const out = createWriteStream(path);
    await new Promise<void>((resolve, reject) => {
      out.once("open", () => resolve());
      out.once("error", reject);
    });
    return new HarWriter(out, opts);
  }

  /** Adds an HTTP flow (other kinds are skipped: HAR has no place for them). */
  async add(flow: AnyFlow): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error("the HAR writer is closed");
    if (flow.type !== "http") return;
    const json = JSON.stringify(harEntry(flow, this.seen));
    if (this.out.write(`${this.count++ === 0 ? "\n" : ",\n"}${json}`)) return;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        this.out.off("drain", done);
        this.out.off("close", done);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      this.out.on("drain", done);
      this.out.on("close", done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve, reject) => {
      this.out.end("\n]}}\n", (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (this.failure) throw this.failure;
  }
}
