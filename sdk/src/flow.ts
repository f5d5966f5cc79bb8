import { decodeContent, encodeContent } from "./encoding.ts";
import { Headers, type HeadersInit } from "./headers.ts";
import { flatUUID } from "./uuid.ts";

/** A network address: a host name or IP address and a port. IPv6 without brackets. */
export interface Address {
  host: string;
  port: number;
}

/** The connection between the client and interloper. */
export interface ClientConnection {
  /** Unique id of this connection. */
  readonly id: string;
  /** The client's address. */
  readonly peername: Address;
  /** interloper's address that the client connected to. */
  readonly sockname: Address;
  /** The proxy mode of the listener that accepted the connection, e.g. `regular`. */
  readonly mode: string;
  /** Whether TLS with the client has been established (interloper terminated it). */
  tlsEstablished: boolean;
  /** The server name the client asked for in its ClientHello, if any. */
  sni?: string;
  /** The application protocol negotiated with the client, if any. */
  alpn?: string;
  /** The TLS version negotiated with the client, e.g. `TLSv1.3`. */
  tlsVersion?: string;
  /** The cipher negotiated with the client. */
  cipher?: string;
  /** The ALPN protocols the client offered in its ClientHello. */
  alpnOffers?: string[];
  /** The client's certificate chain in PEM, leaf first, if it sent one. */
  certificateList?: string[];
  /** When the client connected (seconds since the epoch, like every timestamp of the flow model). */
  timestampStart: number;
  /** When TLS with the client was established. */
  timestampTlsSetup?: number;
  timestampEnd?: number;
  /**
   * Set in `clientConnect` to refuse the client: the connection is closed and
   * the text is logged.
   */
  error?: string;
}

/** A connection from interloper to a server. */
export interface ServerConnection {
  readonly id: string;
  /** Where interloper connects to, as given (CONNECT authority, absolute URL, ...). */
  address: Address;
  /** The address actually connected to (resolved IP and port), once connected. */
  peername?: Address;
  /** interloper's local address of this connection. */
  sockname?: Address;
  /** Whether interloper speaks TLS to this server. */
  tls: boolean;
  tlsEstablished: boolean;
  /** The server name interloper sends in its ClientHello. */
  sni?: string;
  /** ALPN protocols offered to the server. */
  alpnOffers?: string[];
  /** The application protocol the server selected. */
  alpn?: string;
  tlsVersion?: string;
  cipher?: string;
  /** The server's certificate chain in PEM, leaf first, once TLS is established. */
  certificateList?: string[];
  /** When connecting began, the TCP connection stood, TLS stood, and the connection closed. */
  timestampStart?: number;
  timestampTcpSetup?: number;
  timestampTlsSetup?: number;
  timestampEnd?: number;
  /** Set in `serverConnect` to refuse the connection; also the reason when connecting failed. */
  error?: string;
}

/**
 * Thrown by `content`, `text()` and `json()` of a message whose body was
 * streamed (stream_large_bodies, buffer_budget, or an addon set `stream`):
 * check `message.stream` first. `body` stays an empty Buffer for such messages.
 */
export class StreamedBodyError extends Error {
  constructor() {
    super(
      "the body was streamed, not buffered (stream_large_bodies, buffer_budget or `stream`): its content is not available",
    );
    this.name = "StreamedBodyError";
  }
}

/** Bytes of a message with helpers to read and set them decoded. */
abstract class Message {
  /** Header fields, wire order and spelling kept. */
  headers: Headers;
  private _body: Buffer;
  /** Trailer fields, if the message had any. */
  trailers?: Headers;
  /** e.g. `HTTP/1.1`, `HTTP/2.0`. */
  httpVersion: string;
  /**
   * Set to `true` in `requestheaders` / `responseheaders` to pipe the body
   * through without buffering it; the `request` / `response` hook then sees
   * an empty body. `stream_large_bodies` sets it for large bodies.
   */
  stream = false;
  timestampStart: number;
  timestampEnd?: number;

  protected constructor(init: { headers?: HeadersInit; body?: Uint8Array | string; httpVersion?: string }) {
    this.headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
    this._body = toBuffer(init.body);
    this.httpVersion = init.httpVersion ?? "HTTP/1.1";
    this.timestampStart = Date.now() / 1000;
  }

  /** The body as sent on the wire (content-encoded), or empty while streamed. */
  get body(): Buffer {
    return this._body;
  }

  /**
   * Replaces the raw body. A Content-Length that was true for the old body
   * (and no Transfer-Encoding) is made true for the new one; none is added,
   * and one that was not true (a HEAD or 304 answer's, a streamed body's) stays.
   */
  set body(value: Uint8Array) {
    const old = this._body;
    // JavaScript callers may hand over a string: keep the field a Buffer.
    const next = Buffer.isBuffer(value) ? value : toBuffer(value ?? undefined);
    this._body = next;
    if (next.length !== old.length) this.keepLengthTrue(old.length, next.length);
  }

  private keepLengthTrue(oldLength: number, newLength: number): void {
    const fields = this.headers.fields;
    let at = -1;
    for (let i = 0; i < fields.length; i++) {
      const name = fields[i]![0];
      if (name.length === 17 && name.toLowerCase() === "transfer-encoding") return;
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        if (at !== -1 || fields[i]![1].trim() !== String(oldLength)) return;
        at = i;
      }
    }
    if (at !== -1) fields[at]![1] = String(newLength);
  }

  /**
   * The body with its `Content-Encoding` removed. A streamed message's bytes
   * went by unbuffered: its content is not there to decode, and reading it
   * throws a `StreamedBodyError` (never an empty or cut body that looks real).
   */
  get content(): Buffer {
    if (this.stream && this._body.length === 0) throw new StreamedBodyError();
    return decodeContent(this.body, this.headers.get("content-encoding"));
  }

  /**
   * Replaces the body, applying the message's `Content-Encoding`, and keeps a
   * `Content-Length` field true.
   */
  set content(value: Uint8Array | string) {
    this.setBody(encodeContent(toBuffer(value), this.headers.get("content-encoding")));
  }

  /** Replaces the raw (already encoded) body and keeps a `Content-Length` field true. */
  setBody(raw: Uint8Array | string): void {
    this._body = toBuffer(raw);
    if (this.headers.has("content-length") || !this.headers.has("transfer-encoding")) {
      this.headers.set("content-length", String(this._body.length));
    }
  }

  /** The decoded body as text (UTF-8 unless the Content-Type names a charset Node knows). */
  text(): string {
    return this.content.toString(charsetOf(this.headers.get("content-type")));
  }

  /** Replaces the body with `value` as UTF-8 text. */
  setText(value: string): void {
    this.content = Buffer.from(value, "utf8");
  }

  /** The decoded body parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Replaces the body with `value` serialised as JSON. */
  setJson(value: unknown): void {
    this.setText(JSON.stringify(value));
  }

  /** Copies what every message has (fields, body bytes, trailers, timestamps) onto `target`. */
  protected copyInto<T extends Message>(target: T): T {
    target.headers = new Headers(this.headers);
    target._body = Buffer.from(this._body);
    if (this.trailers) target.trailers = new Headers(this.trailers);
    target.httpVersion = this.httpVersion;
    target.stream = this.stream;
    target.timestampStart = this.timestampStart;
    target.timestampEnd = this.timestampEnd;
    return target;
  }
}

function charsetOf(contentType: string | null): BufferEncoding {
  const m = contentType ? /charset\s*=\s*"?([\w-]+)/i.exec(contentType) : null;
  const name = m?.[1]?.toLowerCase();
  if (name === "latin1" || name === "iso-8859-1") return "latin1";
  if (name === "utf-16le" || name === "utf16le") return "utf16le";
  if (name === "ascii" || name === "us-ascii") return "ascii";
  return "utf8";
}

export function toBuffer(body: Uint8Array | string | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

export interface RequestInit {
  method?: string;
  scheme?: "http" | "https";
  host: string;
  port?: number;
  path?: string;
  /** How the request target was written: `absolute` (`GET http://h/p`), `origin` (`GET /p`) or `authority` (CONNECT). */
  form?: "absolute" | "origin" | "authority";
  headers?: HeadersInit;
  body?: Uint8Array | string;
  httpVersion?: string;
}

/** An HTTP request. */
export class Request extends Message {
  method: string;
  scheme: "http" | "https";
  private _host: string;
  port: number;
  /** The request target's path and query, e.g. `/search?q=1`. For CONNECT, empty. */
  path: string;
  form: "absolute" | "origin" | "authority";

  constructor(init: RequestInit) {
    super(init);
    this.method = init.method ?? "GET";
    this.scheme = init.scheme ?? "http";
    this._host = init.host;
    this.port = init.port ?? (this.scheme === "https" ? 443 : 80);
    this.path = init.path ?? "/";
    this.form = init.form ?? "origin";
  }

  /**
   * The host interloper sends the request to (a name or an IP, IPv6 without brackets). Changing
   * it (or `scheme`, `port`, `url`) in `requestheaders` or `request` sends the request to that
   * server instead. As mitmproxy's setter, setting it also sets a `Host` header the request
   * has to the new name (without a port; `url` sets it with one); `port` and `scheme` leave it.
   */
  get host(): string {
    return this._host;
  }

  set host(value: string) {
    this._host = value;
    if (this.headers.has("host")) this.headers.set("Host", value.includes(":") ? `[${value}]` : value);
  }

  /** An independent copy: its own fields, body bytes and trailers. */
  copy(): Request {
    const { method, scheme, host, port, path, form } = this;
    return this.copyInto(new Request({ method, scheme, host, port, path, form }));
  }

  /** Parses `url` into a request (method GET unless given). */
  static fromUrl(url: string, init: Omit<RequestInit, "host"> = {}): Request {
    const { headers, ...rest } = init;
    const r = new Request(Object.assign({}, rest, { host: "" }));
    r.url = url;
    // The caller's headers (a Host header among them) win over what the URL implies.
    if (headers !== undefined) r.headers = new Headers(headers);
    return r;
  }

  /** `host:port` as it appears in URLs: brackets around IPv6, default ports left out. */
  get authority(): string {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    const def = this.scheme === "https" ? 443 : 80;
    return this.port === def ? host : `${host}:${this.port}`;
  }

  /** The full URL, e.g. `https://example.com/path`. For CONNECT, `host:port`. */
  get url(): string {
    if (this.method === "CONNECT" && this.form === "authority")
      return `${this.host.includes(":") ? `[${this.host}]` : this.host}:${this.port}`;
    return `${this.scheme}://${this.authority}${this.path}`;
  }

  set url(value: string) {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${value}`);
    this.scheme = u.protocol === "https:" ? "https" : "http";
    this._host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port ? Number(u.port) : this.scheme === "https" ? 443 : 80;
    this.path = `${u.pathname}${u.search}`;
    // As mitmproxy does: a Host header follows the new URL (none is added if there was none).
    if (this.headers.has("host")) this.headers.set("Host", this.authority);
  }

  /** The `Host` header's host if present, else the host the request goes to. */
  get prettyHost(): string {
    const h = this.headers.get("host");
    if (!h) return this.host;
    const m = /^\[([^\]]+)\]|^([^:]+)/.exec(h);
    return m?.[1] ?? m?.[2] ?? this.host;
  }

  /** The URL with the `Host` header's name in place of the address (what the log prints). */
  get prettyUrl(): string {
    if (this.method === "CONNECT" && this.form === "authority") return this.url;
    const host = this.prettyHost;
    const shown = host.includes(":") ? `[${host}]` : host;
    const def = this.scheme === "https" ? 443 : 80;
    return `${this.scheme}://${shown}${this.port === def ? "" : `:${this.port}`}${this.path}`;
  }

  /**
   * Removes the fields that let a server answer `304 Not Modified` instead of
   * the whole response (`If-None-Match`, `If-Modified-Since`), as mitmproxy's
   * `anticache()`.
   */
  anticache(): void {
    this.headers.delete("if-none-match");
    this.headers.delete("if-modified-since");
  }

  /** Asks for an uncompressed response (`Accept-Encoding: identity`), as mitmproxy's `anticomp()`. */
  anticomp(): void {
    this.headers.set("Accept-Encoding", "identity");
  }

  /** The query string as a `URLSearchParams` (a copy: assign back with `query = ...`). */
  get query(): URLSearchParams {
    const i = this.path.indexOf("?");
    return new URLSearchParams(i === -1 ? "" : this.path.slice(i + 1));
  }

  set query(params: URLSearchParams | Record<string, string>) {
    const i = this.path.indexOf("?");
    const base = i === -1 ? this.path : this.path.slice(0, i);
    const q = new URLSearchParams(params as Record<string, string>).toString();
    this.path = q ? `${base}?${q}` : base;
  }
}

export interface ResponseInit {
  status?: number;
  reason?: string;
  headers?: HeadersInit;
  body?: Uint8Array | string;
  httpVersion?: string;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  418: "I'm a teapot",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** An HTTP response. */
export class Response extends Message {
  status: number;
  reason: string;

  constructor(init: ResponseInit = {}) {
    super(init);
    this.status = init.status ?? 200;
    this.reason = init.reason ?? REASONS[this.status] ?? "";
  }

  /** An independent copy: its own fields, body bytes and trailers. */
  copy(): Response {
    return this.copyInto(new Response({ status: this.status, reason: this.reason }));
  }

  /**
   * A complete response to answer a request without contacting the server:
   * `Response.make(403, "blocked", { "content-type": "text/plain" })`. A
   * `Content-Length` is added; an object body is sent as JSON.
   */
  static make(status = 200, body: Uint8Array | string | object = "", headers: HeadersInit = {}): Response {
    const h = new Headers(headers);
    let bytes: Buffer;
    if (typeof body === "string" || body instanceof Uint8Array) {
      bytes = toBuffer(body);
    } else {
      bytes = Buffer.from(JSON.stringify(body), "utf8");
      if (!h.has("content-type")) h.set("Content-Type", "application/json");
    }
    const r = new Response({ status, headers: h, body: bytes });
    r.headers.set("Content-Length", String(bytes.length));
    return r;
  }

  /** `Response.make` for JSON bodies. */
  static json(value: unknown, status = 200, headers: HeadersInit = {}): Response {
    const h = new Headers(headers);
    if (!h.has("content-type")) h.set("Content-Type", "application/json");
    return Response.make(status, Buffer.from(JSON.stringify(value), "utf8"), h);
  }
}

/** What went wrong with a flow: the message is what the log prints. */
export interface FlowError {
  msg: string;
  timestamp: number;
}

/**
 * State from a flow file that interloper does not model, kept by the reader
 * so that writing the flow again keeps it: per part of mitmproxy's flow state
 * (`flow`, `client_conn`, `server_conn`, `request`), the fields and their
 * values as read (e.g. a connection's `via`, `cipher_list`, `mitmcert`, a
 * request's `authority` as written). Values are shared, not copied, by
 * `copy()`: treat them as read-only.
 */
export type CarriedState = Partial<Record<"flow" | "client_conn" | "server_conn" | "request", Record<string, unknown>>>;

abstract class Flow {
  /**
   * Unique id of the flow. A live flow gets a new UUID; a flow read from a
   * file keeps the id recorded there (so references in the file hold).
   */
  get id(): string {
    // Made when first asked: most flows of a plain proxy never are, and a UUID costs about 0.5 µs.
    return (this.flowId ??= flatUUID());
  }
  set id(value: string) {
    this.flowId = value;
  }
  private flowId: string | undefined;
  readonly client: ClientConnection;
  server: ServerConnection;
  error?: FlowError;
  /** Free space for addons to keep data on a flow. */
  metadata: Record<string, unknown> = {};
  /** Whether the flow is still being processed by the proxy. */
  live = true;
  /** Set when the flow was killed. */
  killed = false;
  /**
   * A user's mark: empty when not marked, else the marker (mitmproxy's
   * `marked`, e.g. `:default:`). Kept in flow files; `~marked` matches it.
   */
  marked = "";
  /** A user's comment on the flow. Kept in flow files; `~comment` searches it. */
  comment = "";
  /**
   * Set on a flow that replay made: `request` when client replay sent the
   * request, `response` when server replay answered it. `~replay` matches it.
   */
  isReplay?: "request" | "response";
  timestampCreated = Date.now() / 1000;
  /**
   * What a flow file held that interloper does not model (see `CarriedState`);
   * set by the flow-file readers, put back by the writers, `undefined` for a
   * live flow. Kept on the flow rather than dropped so that reading a
   * mitmproxy capture and writing it again loses nothing mitmproxy recorded.
   */
  carried?: CarriedState;
  /** @internal how the core closes the connection behind the flow. */
  protected killer?: () => void;

  constructor(client: ClientConnection, server: ServerConnection, killer?: () => void) {
    this.client = client;
    this.server = server;
    this.killer = killer;
  }

  /** Set while the flow is paused by `intercept()`. */
  private paused = false;
  /** The wait of a paused flow, made when the proxy first waits on it; settled by `resume()` or `kill()`. */
  private pausedWait?: { promise: Promise<void>; release: () => void };

  /** @internal the core's: the connections behind a flow made live again (client replay). */
  attachConnection(killer: () => void): void {
    this.live = true;
    this.killer = killer;
  }

  /**
   * @internal the core's: the proxy is done with the flow (its answer went out, or it failed):
   * not live any more, and it lets go of the exchange behind it. An addon that keeps finished
   * flows (the web UI keeps 50,000) must not keep every request's sockets, parsers and buffers
   * with them: 5.1 KB per kept flow before, bench V.
   */
  detachConnection(): void {
    this.live = false;
    this.killer = undefined;
  }

  /** Drops the connection behind this flow: nothing more is sent either way. A paused flow stops waiting. */
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    this.error ??= { msg: "Connection killed.", timestamp: Date.now() / 1000 };
    this.killer?.();
    this.resume();
  }

  /** Whether the flow is paused (`intercept()`) and not yet resumed or killed. */
  get intercepted(): boolean {
    return this.paused;
  }

  /**
   * Pauses the flow, as mitmproxy's `flow.intercept()`: once the hook now running has been
   * through every addon, the proxy holds the flow until `resume()` or `kill()` (its client
   * waits, nothing goes on). The hooks that hold a live flow: `requestheaders`, `request`,
   * `responseheaders`, `response`, `websocketMessage`, `tcpMessage`; called elsewhere, the
   * flow waits at the next of them. A paused flow waits as long as it takes (idle_timeout
   * does not end it, as mitmproxy). Flows read from files are not live and never wait.
   */
  intercept(): void {
    this.paused = true;
  }

  /** Lets a paused flow go on; nothing happens for a flow that is not paused. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const wait = this.pausedWait;
    this.pausedWait = undefined;
    wait?.release();
  }

  /**
   * Settles when the flow is resumed or killed; `undefined` when it is not paused. The addon
   * host waits on it after a hook; an addon rarely needs it.
   */
  waitForResume(): Promise<void> | undefined {
    if (!this.paused) return undefined;
    if (!this.pausedWait) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.pausedWait = { promise, release };
    }
    return this.pausedWait.promise;
  }

  /**
   * An independent copy, as mitmproxy's `flow.copy()`: a new id, not live,
   * and its own connections, messages and bodies (changing one flow leaves
   * the other as it was). Killing the copy touches no connection.
   */
  abstract copy(): Flow;

  /** Copies the state every flow has onto `target` (made with copied connections). */
  protected copyInto<T extends Flow>(target: T): T {
    target.error = this.error ? { ...this.error } : undefined;
    target.metadata = copyMetadata(this.metadata) as Record<string, unknown>;
    target.live = false;
    target.killed = this.killed;
    target.marked = this.marked;
    target.comment = this.comment;
    target.isReplay = this.isReplay;
    target.timestampCreated = this.timestampCreated;
    if (this.carried) target.carried = { ...this.carried };
    return target;
  }
}

function copyClient(c: ClientConnection): ClientConnection {
  const out: ClientConnection = Object.assign({}, c, { peername: { ...c.peername }, sockname: { ...c.sockname } });
  if (c.alpnOffers) out.alpnOffers = [...c.alpnOffers];
  if (c.certificateList) out.certificateList = [...c.certificateList];
  return out;
}

function copyServer(s: ServerConnection): ServerConnection {
  const out: ServerConnection = Object.assign({}, s, { address: { ...s.address } });
  if (s.peername) out.peername = { ...s.peername };
  if (s.sockname) out.sockname = { ...s.sockname };
  if (s.alpnOffers) out.alpnOffers = [...s.alpnOffers];
  if (s.certificateList) out.certificateList = [...s.certificateList];
  return out;
}

/** Metadata is the addons' own: plain objects, arrays and bytes are copied, anything else is shared. */
function copyMetadata(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(copyMetadata);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyMetadata(v);
    return out;
  }
  return value;
}

/** An HTTP request and, once it is known, its response. */
export class HTTPFlow extends Flow {
  readonly type = "http" as const;
  request: Request;
  /** Set by an addon in `requestheaders` / `request` to answer without contacting the server. */
  response?: Response;
  /** Set once the connection was upgraded to a WebSocket (after the `101` response). */
  websocket?: WebSocketData;

  constructor(client: ClientConnection, server: ServerConnection, request: Request, killer?: () => void) {
    super(client, server, killer);
    this.request = request;
  }

  copy(): HTTPFlow {
    const f = new HTTPFlow(copyClient(this.client), copyServer(this.server), this.request.copy());
    f.response = this.response?.copy();
    f.websocket = this.websocket?.copy();
    return this.copyInto(f);
  }
}

/** One WebSocket message (the frames of a fragmented message are joined). */
export class WebSocketMessage {
  /** `true` for client → server. */
  readonly fromClient: boolean;
  /** `text` or `binary`; an addon may change it. */
  type: "text" | "binary";
  /** The payload; an addon may replace it. */
  content: Buffer;
  /** Set by `drop()`: the message is not forwarded. */
  dropped = false;
  /** Whether an addon injected this message (`flow.websocket.inject`). */
  readonly injected: boolean;
  /** When the message was complete (now, unless given: a flow file gives the recorded time). */
  readonly timestamp: number;

  constructor(
    fromClient: boolean,
    type: "text" | "binary",
    content: Buffer,
    injected = false,
    timestamp = Date.now() / 1000,
  ) {
    this.fromClient = fromClient;
    this.type = type;
    this.content = content;
    this.injected = injected;
    this.timestamp = timestamp;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return this.content.toString("utf8");
  }

  /** Replaces the payload with text (and makes it a text message). */
  setText(text: string): void {
    this.content = Buffer.from(text, "utf8");
    this.type = "text";
  }

  /** Does not forward this message. */
  drop(): void {
    this.dropped = true;
  }
}

/** The WebSocket part of an upgraded HTTP flow. */
export class WebSocketData {
  /** The messages so far; in `websocketMessage` the last one is the new one. */
  readonly messages: WebSocketMessage[] = [];
  /** Who closed the connection, the close code and reason (once closed). */
  closedByClient?: boolean;
  closeCode?: number;
  closeReason?: string;
  timestampEnd?: number;
  /** @internal how the core sends injected messages. */
  private injector?: (message: WebSocketMessage) => void;

  constructor(injector?: (message: WebSocketMessage) => void) {
    this.injector = injector;
  }

  /**
   * Sends a message of your own: to the client (`toClient: true`) or the
   * server. It goes through `websocketMessage` like any other (with `injected` set).
   */
  inject(content: string | Uint8Array, opts: { toClient: boolean; type?: "text" | "binary" }): void {
    const type = opts.type ?? (typeof content === "string" ? "text" : "binary");
    this.injector?.(new WebSocketMessage(!opts.toClient, type, toBuffer(content), true));
  }

  /** An independent copy of the messages and close facts; injecting into the copy sends nothing. */
  copy(): WebSocketData {
    const d = new WebSocketData();
    for (const m of this.messages) {
      const c = new WebSocketMessage(m.fromClient, m.type, Buffer.from(m.content), m.injected, m.timestamp);
      c.dropped = m.dropped;
      d.messages.push(c);
    }
    d.closedByClient = this.closedByClient;
    d.closeCode = this.closeCode;
    d.closeReason = this.closeReason;
    d.timestampEnd = this.timestampEnd;
    return d;
  }
}

/** One chunk of bytes of a TCP flow. */
export interface TCPMessage {
  /** `true` for client → server. */
  readonly fromClient: boolean;
  /** The bytes; an addon may replace them in `tcpMessage` (empty drops the message). */
  content: Buffer;
  readonly timestamp: number;
}

/** A connection intercepted as raw TCP (no HTTP parsing). */
export class TCPFlow extends Flow {
  readonly type = "tcp" as const;
  /** The messages so far; in `tcpMessage` the last one is the new one. */
  readonly messages: TCPMessage[] = [];

  copy(): TCPFlow {
    const f = new TCPFlow(copyClient(this.client), copyServer(this.server));
    for (const m of this.messages)
      f.messages.push({ fromClient: m.fromClient, content: Buffer.from(m.content), timestamp: m.timestamp });
    return this.copyInto(f);
  }
}

export type AnyFlow = HTTPFlow | TCPFlow;
