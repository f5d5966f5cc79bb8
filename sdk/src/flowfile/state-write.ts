/**
 * An sdk flow as mitmproxy's flow state of the newest format version (21):
 * the dict `Flow.get_state()` returns, field for field and type for type
 * (bytes where mitmproxy has bytes, str where it has str, floats for
 * timestamps). `compat.ts` takes it down to older versions.
 *
 * What the sdk does not model comes from `flow.carried` (see flow.ts) when
 * the flow was read from a file; otherwise mitmproxy's defaults.
 */
import type {
  Address,
  AnyFlow,
  ClientConnection,
  HTTPFlow,
  Request,
  Response,
  ServerConnection,
  TCPFlow,
  WebSocketData,
} from "../flow.ts";
import type { Headers } from "../headers.ts";
import { TNetFloat, TNetWire, type TNetDict, type TNetValue } from "./tnetstring.ts";
import { wireBytes } from "./wire-text.ts";

export interface StateWriteOptions {
  /**
   * Whether metadata may hold bytes: mitmproxy 9 and older check metadata
   * as JSON and refuse a flow whose metadata holds bytes, so for versions
   * 17 and 18 such values are left out (with a warning).
   */
  metadataBytes: boolean;
  onWarning?: (message: string) => void;
  /**
   * Byte fields (method, path, reason, header fields) as `TNetWire` rather than Buffers: for
   * the encoder only (the same bytes, without a Buffer each); a state for reading gets Buffers.
   */
  wireText?: boolean;
  /**
   * The states of a live flow's connections when the caller has them already (encoded and
   * brought down to the version written: see conn-cache.ts); `undefined` builds them here.
   */
  conns?: {
    client(c: ClientConnection): TNetValue | undefined;
    server(s: ServerConnection): TNetValue | undefined;
  };
}

export function flowToState(flow: AnyFlow, opts: StateWriteOptions): TNetDict {
  const state: TNetDict = {
    version: 21,
    type: flow.type,
    id: flow.id,
    error: flow.error ? { msg: flow.error.msg, timestamp: float(flow.error.timestamp) } : null,
    client_conn: clientState(flow, opts),
    server_conn: serverState(flow, opts),
    intercepted: flow.carried?.flow?.intercepted === true,
    is_replay: flow.isReplay ?? null,
    marked: flow.marked,
    metadata: metadataToState(flow, opts),
    comment: flow.comment,
    timestamp_created: float(flow.timestampCreated),
    backup: null,
  };
  if (flow.type === "http") httpParts(flow, state, opts.wireText ? wire : wireBytes);
  else tcpParts(flow, state);
  return state;
}

// What a flow file carried for a connection is the flow's own: only live flows use `opts.conns`.
function clientState(flow: AnyFlow, opts: StateWriteOptions): TNetValue {
  const carried = flow.carried?.client_conn;
  return (carried === undefined ? opts.conns?.client(flow.client) : undefined) ?? clientToState(flow.client, carried);
}

function serverState(flow: AnyFlow, opts: StateWriteOptions): TNetValue {
  const carried = flow.carried?.server_conn;
  return (carried === undefined ? opts.conns?.server(flow.server) : undefined) ?? serverToState(flow.server, carried);
}

function httpParts(flow: HTTPFlow, state: TNetDict, bytes: Bytes): void {
  state.request = requestToState(flow.request, flow.carried?.request, bytes);
  state.response = flow.response ? responseToState(flow.response, bytes) : null;
  state.websocket = flow.websocket ? websocketToState(flow.websocket) : null;
}

function tcpParts(flow: TCPFlow, state: TNetDict): void {
  state.messages = flow.messages.map((m) => [m.fromClient, m.content, float(m.timestamp)]);
}

function float(n: number): TNetFloat {
  return new TNetFloat(n);
}

function optFloat(n: number | undefined): TNetFloat | null {
  return n === undefined ? null : new TNetFloat(n);
}

function address(a: Address): TNetValue[] {
  return [a.host, a.port];
}

/** The sdk has no "no address" for a server (a flow answered without one): reading one gives host "" and port 0. */
function optAddress(a: Address | undefined): TNetValue[] | null {
  return a === undefined || (a.host === "" && a.port === 0) ? null : address(a);
}

function bytesList(list: string[] | undefined): Buffer[] {
  return (list ?? []).map((s) => Buffer.from(s, "latin1"));
}

function carriedOr(carried: Record<string, unknown> | undefined, key: string, fallback: TNetValue): TNetValue {
  const v = carried?.[key];
  return v === undefined ? fallback : (v as TNetValue);
}

export function clientToState(c: ClientConnection, carried: Record<string, unknown> | undefined): TNetDict {
  return {
    peername: address(c.peername),
    sockname: address(c.sockname),
    id: c.id,
    transport_protocol: carriedOr(carried, "transport_protocol", "tcp"),
    error: c.error ?? null,
    tls: carriedOr(carried, "tls", c.tlsEstablished),
    certificate_list: bytesList(c.certificateList),
    alpn: c.alpn === undefined ? null : Buffer.from(c.alpn, "latin1"),
    alpn_offers: bytesList(c.alpnOffers),
    cipher: c.cipher ?? null,
    cipher_list: carriedOr(carried, "cipher_list", []),
    tls_version: c.tlsVersion ?? null,
    sni: c.sni ?? null,
    timestamp_start: float(c.timestampStart),
    timestamp_end: optFloat(c.timestampEnd),
    timestamp_tls_setup: optFloat(c.timestampTlsSetup),
    mitmcert: carriedOr(carried, "mitmcert", null),
    proxy_mode: c.mode,
  };
}

export function serverToState(s: ServerConnection, carried: Record<string, unknown> | undefined): TNetDict {
  return {
    address: optAddress(s.address),
    peername: optAddress(s.peername),
    sockname: optAddress(s.sockname),
    id: s.id,
    transport_protocol: carriedOr(carried, "transport_protocol", "tcp"),
    error: s.error ?? null,
    tls: s.tls,
    certificate_list: bytesList(s.certificateList),
    alpn: s.alpn === undefined ? null : Buffer.from(s.alpn, "latin1"),
    alpn_offers: bytesList(s.alpnOffers),
    cipher: s.cipher ?? null,
    cipher_list: carriedOr(carried, "cipher_list", []),
    tls_version: s.tlsVersion ?? null,
    sni: s.sni ?? null,
    timestamp_start: optFloat(s.timestampStart),
    timestamp_end: optFloat(s.timestampEnd),
    timestamp_tls_setup: optFloat(s.timestampTlsSetup),
    timestamp_tcp_setup: optFloat(s.timestampTcpSetup),
    via: carriedOr(carried, "via", null),
  };
}

/** Where a request goes, as the reader recorded it next to what it carried: carried request fields hold only while it is unchanged. */
export function requestTarget(r: Request): string {
  return `${r.scheme}://${r.host}:${r.port}`;
}

/** How a byte field held as text (one character per byte) goes into the state. */
type Bytes = (text: string) => TNetValue;

function wire(text: string): TNetWire {
  return new TNetWire(text);
}

/** Header fields as mitmproxy's state holds them: [name, value] byte pairs (see wire-text.ts). */
function fieldsOf(headers: Headers, bytes: Bytes, skipFirst = false): TNetValue[] {
  const out: TNetValue[] = [];
  const { fields } = headers;
  for (let i = skipFirst ? 1 : 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    out.push([bytes(name), bytes(value)]);
  }
  return out;
}

function requestToState(r: Request, carried: Record<string, unknown> | undefined, bytes: Bytes): TNetDict {
  const same = carried !== undefined && carried.target === requestTarget(r);
  // An HTTP/2 request's :authority became a Host field when read (as the core does for live
  // HTTP/2 requests); it goes back into `authority` unless someone removed the field meanwhile.
  const first = r.headers.fields[0];
  const synthetic = carried?.syntheticHost === true && first !== undefined && first[0].toLowerCase() === "host";
  let authority: TNetValue;
  if (synthetic) authority = bytes(first[1]);
  else if (same && Buffer.isBuffer(carried.authority)) authority = carried.authority;
  else authority = bytes(authorityOf(r));
  return {
    host: r.host,
    port: r.port,
    method: bytes(r.method),
    scheme: same && Buffer.isBuffer(carried.scheme) ? carried.scheme : bytes(r.scheme),
    authority,
    path: bytes(r.path),
    http_version: bytes(r.httpVersion),
    headers: fieldsOf(r.headers, bytes, synthetic),
    content: bodyToState(r),
    trailers: r.trailers ? fieldsOf(r.trailers, bytes) : null,
    timestamp_start: float(r.timestampStart),
    timestamp_end: optFloat(r.timestampEnd),
  };
}

/**
 * mitmproxy's `authority`: the request target's authority for CONNECT and
 * absolute-form requests, `:authority` for HTTP/2 (the Host field the
 * core made of it), empty for origin-form HTTP/1.
 */
export function authorityOf(r: Request): string {
  if (r.method === "CONNECT" && r.form === "authority") {
    return `${r.host.includes(":") ? `[${r.host}]` : r.host}:${r.port}`;
  }
  if (r.httpVersion.startsWith("HTTP/2") || r.httpVersion.startsWith("HTTP/3")) {
    return r.headers.get("host") ?? r.authority;
  }
  return r.form === "absolute" ? r.authority : "";
}

/** mitmproxy's `content = None`: the body was streamed through, never held. */
export function bodyToState(m: Request | Response): Buffer | null {
  return m.stream && m.body.length === 0 ? null : m.body;
}

function responseToState(r: Response, bytes: Bytes): TNetDict {
  return {
    http_version: bytes(r.httpVersion),
    status_code: r.status,
    reason: bytes(r.reason),
    headers: fieldsOf(r.headers, bytes),
    content: bodyToState(r),
    trailers: r.trailers ? fieldsOf(r.trailers, bytes) : null,
    timestamp_start: float(r.timestampStart),
    timestamp_end: optFloat(r.timestampEnd),
  };
}

/** RFC 6455 opcodes, as mitmproxy records a message's type. */
export const OPCODE = { text: 1, binary: 2 } as const;

function websocketToState(ws: WebSocketData): TNetDict {
  return {
    messages: ws.messages.map((m) => [
      OPCODE[m.type],
      m.fromClient,
      m.content,
      float(m.timestamp),
      m.dropped,
      m.injected,
    ]),
    closed_by_client: ws.closedByClient ?? null,
    close_code: ws.closeCode ?? null,
    close_reason: ws.closeReason ?? null,
    timestamp_end: optFloat(ws.timestampEnd),
  };
}

// ---------------------------------------------------------------- metadata

/**
 * Metadata is whatever addons put there; what a flow file can hold goes in
 * (text, numbers, booleans, null, bytes, lists and plain objects), the rest
 * (functions, class instances, cycles) is left out with a warning naming it.
 */
export function metadataToState(flow: AnyFlow, opts: StateWriteOptions): TNetDict {
  const out: TNetDict = {};
  const seen = new Set<object>();
  for (const [key, value] of Object.entries(flow.metadata)) {
    const v = metaValue(value, `metadata.${key}`, opts, seen);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function metaValue(value: unknown, path: string, opts: StateWriteOptions, seen: Set<object>): TNetValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "bigint")
    return value;
  if (typeof value === "number") return Number.isInteger(value) ? value : new TNetFloat(value);
  if (value instanceof Uint8Array) {
    if (opts.metadataBytes) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return leftOut(path, "bytes, which mitmproxy 9 and older refuse in metadata", opts);
  }
  if (typeof value !== "object") return leftOut(path, `a ${typeof value}`, opts);
  if (seen.has(value)) return leftOut(path, "a reference to itself", opts);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item, i) => metaValue(item, `${path}[${i}]`, opts, seen) ?? null);
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null)
      return leftOut(path, `a ${value.constructor?.name ?? "class"} instance`, opts);
    const out: TNetDict = {};
    for (const [k, v] of Object.entries(value)) {
      const item = metaValue(v, `${path}.${k}`, opts, seen);
      if (item !== undefined) out[k] = item;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function leftOut(path: string, what: string, opts: StateWriteOptions): undefined {
  opts.onWarning?.(`${path} left out of the flow file: ${what}`);
  return undefined;
}
