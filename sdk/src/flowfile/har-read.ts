/**
 * HAR files (browsers', mitmproxy's, interloper's own) as sdk flows, for
 * reading captures and for server replay. Lenient where HAR writers differ
 * (optional fields, `[name, value]` header pairs, HTTP/2 pseudo-headers,
 * missing bodies), strict where a flow needs a value: a field that is
 * missing or of the wrong type is a `HarFormatError` naming it
 * (`log.entries[3].request.url: expected a string, got a number`).
 */
import { randomUUID } from "node:crypto";
import { encodeContent } from "../encoding.ts";
import {
  HTTPFlow,
  Request,
  Response,
  WebSocketData,
  WebSocketMessage,
  type ClientConnection,
  type ServerConnection,
} from "../flow.ts";
import { Headers } from "../headers.ts";
import { fromHarText } from "./har-text.ts";
import { encodeEscaped } from "./surrogate-escape.ts";
import { wireText } from "./wire-text.ts";

export class HarFormatError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path || "the document"}: ${problem}`);
    this.name = "HarFormatError";
  }
}

function jsonType(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** One JSON object of the HAR and where it sits, with checked access. */
class Json {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly path: string,
  ) {}

  static of(value: unknown, path: string): Json {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new HarFormatError(path, `expected an object, got ${jsonType(value)}`);
    return new Json(value as Record<string, unknown>, path);
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  get(key: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.obj, key) ? this.obj[key] : undefined;
  }

  fail(key: string, expected: string): never {
    throw new HarFormatError(this.at(key), `expected ${expected}, got ${jsonType(this.get(key))}`);
  }

  sub(key: string): Json {
    return Json.of(this.get(key), this.at(key));
  }

  optSub(key: string): Json | undefined {
    const v = this.get(key);
    return v === undefined || v === null ? undefined : this.sub(key);
  }

  str(key: string): string {
    const v = this.get(key);
    return typeof v === "string" ? v : this.fail(key, "a string");
  }

  optStr(key: string): string | undefined {
    const v = this.get(key);
    return v === undefined || v === null ? undefined : this.str(key);
  }

  num(key: string): number {
    const v = this.get(key);
    return typeof v === "number" && Number.isFinite(v) ? v : this.fail(key, "a number");
  }

  optNum(key: string): number | undefined {
    const v = this.get(key);
    return v === undefined || v === null ? undefined : this.num(key);
  }

  arr(key: string): unknown[] {
    const v = this.get(key);
    return Array.isArray(v) ? v : this.fail(key, "an array");
  }

  optArr(key: string): unknown[] | undefined {
    const v = this.get(key);
    return v === undefined || v === null ? undefined : this.arr(key);
  }
}

/** The flows of a parsed HAR document, one per entry. */
export function* harToFlows(doc: unknown, onWarning?: (message: string) => void): Generator<HTTPFlow> {
  const log = Json.of(doc, "").sub("log");
  const version = log.optStr("version");
  if (version !== undefined && version !== "1.1" && version !== "1.2")
    onWarning?.(`HAR version ${JSON.stringify(version)} is not 1.1 or 1.2; read as 1.2`);
  const entries = log.arr("entries");
  for (let i = 0; i < entries.length; i++) yield entryToFlow(Json.of(entries[i], `log.entries[${i}]`));
}

function entryToFlow(e: Json): HTTPFlow {
  const started = parseIsoTime(e.str("startedDateTime"), e.at("startedDateTime"));
  const time = e.optNum("time") ?? 0;
  const times = phaseTimes(e.optSub("timings"), started, time);
  const request = requestFromHar(e.sub("request"));
  request.timestampStart = started;
  request.timestampEnd = times.requestEnd;
  const https = request.scheme === "https";
  const client: ClientConnection = {
    id: randomUUID(),
    // HAR does not record the client; mitmproxy's importer says 127.0.0.1:0 too.
    peername: { host: "127.0.0.1", port: 0 },
    sockname: { host: "127.0.0.1", port: 0 },
    mode: "regular",
    tlsEstablished: https,
    timestampStart: started,
  };
  const server: ServerConnection = {
    id: randomUUID(),
    address: { host: request.host, port: request.port },
    tls: https,
    tlsEstablished: https,
  };
  const ip = e.optStr("serverIPAddress");
  if (ip) server.peername = { host: ip.replace(/^\[(.*)\]$/, "$1"), port: request.port };
  const flow = new HTTPFlow(client, server, request);
  flow.live = false;
  flow.timestampCreated = started;
  const res = e.sub("response");
  flow.response = responseFromHar(res, times);
  const error = res.optStr("_error");
  if (error !== undefined) flow.error = { msg: error, timestamp: times.responseEnd };
  flow.comment = e.optStr("comment") ?? "";
  const ws = e.optArr("_webSocketMessages");
  if (ws) flow.websocket = websocketFromHar(ws, e.at("_webSocketMessages"));
  return flow;
}

interface PhaseTimes {
  requestEnd: number;
  responseStart: number;
  responseEnd: number;
}

/** The request's and response's timestamps from `send`, `wait` and `receive` (as mitmproxy derives them), else from `time`. */
function phaseTimes(t: Json | undefined, started: number, time: number): PhaseTimes {
  const phase = (key: string) => Math.max(0, t?.optNum(key) ?? 0) / 1000;
  if (!t) return { requestEnd: started, responseStart: started, responseEnd: started + Math.max(0, time) / 1000 };
  const requestEnd = started + phase("send");
  const responseStart = requestEnd + phase("wait");
  return { requestEnd, responseStart, responseEnd: responseStart + phase("receive") };
}

const URL_PARTS = /^(https?):\/\/([^/?#]*)([^#]*)/i;

function requestFromHar(r: Json): Request {
  const url = r.str("url");
  const parts = URL_PARTS.exec(url);
  if (!parts)
    throw new HarFormatError(r.at("url"), `expected an absolute http(s) URL, got ${JSON.stringify(clip(url))}`);
  const scheme = parts[1]!.toLowerCase() as "http" | "https";
  const { host, port } = authority(scheme, parts[2]!, r.at("url"));
  const httpVersion = normalVersion(r.optStr("httpVersion"));
  const headers = headersFromHar(r, "headers");
  const method = bytesText(r.str("method"));
  const post = r.optSub("postData");
  const request = new Request({
    method,
    scheme,
    host,
    port,
    path: bytesText(parts[3] || "/"),
    // How the target was written is not in a HAR: a proxy client sends plain HTTP in absolute form.
    form:
      method === "CONNECT"
        ? "authority"
        : scheme === "http" && httpVersion.startsWith("HTTP/1")
          ? "absolute"
          : "origin",
    headers,
    body: post ? bodyFromHar(post, headers, "_encoding") : undefined,
    httpVersion,
  });
  if (r.optNum("bodySize") === -1 && request.body.length === 0) request.stream = true;
  return request;
}

function authority(scheme: string, text: string, at: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(`${scheme}://${text}/`);
  } catch {
    throw new HarFormatError(at, `the URL's host ${JSON.stringify(clip(text))} is not valid`);
  }
  if (!u.hostname) throw new HarFormatError(at, "the URL has no host");
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: u.port ? Number(u.port) : scheme === "https" ? 443 : 80 };
}

/** HAR writers spell versions in many ways (`http/2.0`, `h2`, `HTTP/1.1`, `unknown`). */
function normalVersion(v: string | undefined): string {
  const lower = (v ?? "").toLowerCase();
  if (lower === "h2" || lower.startsWith("http/2")) return "HTTP/2.0";
  if (lower === "h3" || lower.startsWith("http/3")) return "HTTP/3";
  if (lower === "http/1.0") return "HTTP/1.0";
  return "HTTP/1.1";
}

function responseFromHar(r: Json, times: PhaseTimes): Response | undefined {
  const status = r.num("status");
  const headers = headersFromHar(r, "headers");
  // mitmproxy and browsers write status 0 for a request that got no response.
  if (status === 0 && headers.size === 0) return undefined;
  const content = r.sub("content");
  const response = new Response({
    status,
    reason: r.optStr("statusText") === undefined ? undefined : bytesText(r.str("statusText")),
    headers,
    body: bodyFromHar(content, headers, "encoding"),
    httpVersion: normalVersion(r.optStr("httpVersion")),
  });
  if (content.get("text") === undefined && r.optNum("bodySize") === -1) response.stream = true;
  response.timestampStart = times.responseStart;
  response.timestampEnd = times.responseEnd;
  return response;
}

/**
 * A body from HAR `content` or `postData`: base64 or text (in the message's
 * charset), then content-encoded again as its Content-Encoding says (HAR
 * holds decoded bodies), unless marked as kept encoded.
 */
function bodyFromHar(c: Json, headers: Headers, encodingKey: string): Buffer {
  const text = c.optStr("text");
  const encoding = c.optStr(encodingKey) ?? c.optStr("encoding");
  let bytes: Buffer;
  if (text === undefined) bytes = paramsBody(c);
  else if (encoding === "base64") bytes = Buffer.from(text, "base64");
  else bytes = fromHarText(text, headers.get("content-type"));
  const coding = headers.get("content-encoding");
  if (c.get("_encodedBody") === true || !coding || bytes.length === 0) return bytes;
  try {
    return encodeContent(bytes, coding);
  } catch {
    // An encoding Node cannot apply: the decoded body is the best there is.
    return bytes;
  }
}

/** A form given only as `params` (some browsers): urlencoded again. */
function paramsBody(c: Json): Buffer {
  const params = c.optArr("params");
  if (!params || params.length === 0) return Buffer.alloc(0);
  const form = new URLSearchParams();
  params.forEach((p, i) => {
    const item = Json.of(p, `${c.at("params")}[${i}]`);
    form.append(item.str("name"), item.optStr("value") ?? "");
  });
  return Buffer.from(form.toString(), "latin1");
}

/** Header fields in order, as `{name, value}` objects or `[name, value]` pairs; HTTP/2 pseudo-fields dropped (`:authority` becomes Host, as the core does). */
function headersFromHar(j: Json, key: string): Headers {
  const h = new Headers();
  let authorityField: string | undefined;
  j.arr(key).forEach((item, i) => {
    const at = `${j.at(key)}[${i}]`;
    let name: unknown;
    let value: unknown;
    if (Array.isArray(item)) [name, value] = item as unknown[];
    else {
      const pair = Json.of(item, at);
      name = pair.get("name");
      value = pair.get("value");
    }
    if (typeof name !== "string" || typeof value !== "string")
      throw new HarFormatError(at, "expected a header with a string name and value");
    if (name === ":authority") authorityField = value;
    if (!name.startsWith(":")) h.fields.push([bytesText(name), bytesText(value)]);
  });
  if (authorityField !== undefined && !h.has("host")) h.fields.unshift(["host", bytesText(authorityField)]);
  return h;
}

function websocketFromHar(list: unknown[], at: string): WebSocketData {
  const ws = new WebSocketData();
  list.forEach((item, i) => {
    const m = Json.of(item, `${at}[${i}]`);
    const type = m.str("type");
    if (type !== "send" && type !== "receive") m.fail("type", `"send" or "receive"`);
    const opcode = m.num("opcode");
    const data = m.str("data");
    const binary = opcode !== 1;
    const content = binary ? Buffer.from(data, "base64") : Buffer.from(data, "utf8");
    ws.messages.push(new WebSocketMessage(type === "send", binary ? "binary" : "text", content, false, m.num("time")));
  });
  return ws;
}

/** JSON text as the flow model's byte strings (the inverse of the writer's surrogate escaping). */
function bytesText(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : wireText(encodeEscaped(s));
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** ISO 8601 to seconds since the epoch, keeping microseconds (Date.parse would keep milliseconds only). */
export function parseIsoTime(text: string, at: string): number {
  const m = ISO.exec(text.trim());
  if (!m) throw new HarFormatError(at, `expected an ISO 8601 date and time, got ${JSON.stringify(clip(text))}`);
  const [, y, mo, d, h, mi, s = "0", frac = "", zone = "Z"] = m;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  if (Number.isNaN(base)) throw new HarFormatError(at, `not a valid date: ${JSON.stringify(clip(text))}`);
  let offset = 0;
  if (zone.toUpperCase() !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offset = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 3600 + Number(z[3] ?? 0) * 60);
  }
  return base + (frac ? Number(`0${frac}`) : 0) - offset;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
