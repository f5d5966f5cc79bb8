/**
 * mitmproxy's flow state (newest format version; `compat.ts` upgrades older
 * ones first) as an sdk flow. Every field is type-checked (`fields.ts`); a
 * wrong one is a `FlowFieldError` naming it. Fields the sdk does not model
 * go to `flow.carried`, so that writing the flow again keeps them.
 */
import {
  HTTPFlow,
  Request,
  Response,
  TCPFlow,
  WebSocketData,
  WebSocketMessage,
  type AnyFlow,
  type CarriedState,
  type ClientConnection,
  type ServerConnection,
} from "../flow.ts";
import { Fields, FlowFieldError, isDict, typeName } from "./fields.ts";
import { authorityOf, requestTarget } from "./state-write.ts";
import { TNetFloat, type TNetDict, type TNetValue } from "./tnetstring.ts";
import { fieldsFromPairs, wireText } from "./wire-text.ts";
import type { Headers } from "../headers.ts";

/** A flow of a kind interloper has no model for (mitmproxy's `dns`, `udp`): skipped by readers, with a warning. */
export class UnsupportedFlowType extends Error {
  constructor(readonly flowType: string) {
    super(`a ${flowType} flow (interloper has no ${flowType} flows)`);
    this.name = "UnsupportedFlowType";
  }
}

const KILLED = "Connection killed.";

export function flowFromState(state: TNetDict): AnyFlow {
  const f = new Fields(state, "");
  const type = f.str("type");
  if (type !== "http" && type !== "tcp") throw new UnsupportedFlowType(type);
  const carried: CarriedState = {};
  const client = clientFromState(f.sub("client_conn"), carried);
  const server = serverFromState(f.sub("server_conn"), carried);
  const flow = type === "http" ? httpFlow(f, client, server, carried) : tcpFlow(f, client, server);
  common(flow, f, carried);
  return flow;
}

function common(flow: AnyFlow, f: Fields, carried: CarriedState): void {
  flow.id = f.str("id");
  const error = f.optSub("error");
  if (error) flow.error = { msg: error.str("msg"), timestamp: error.float("timestamp") };
  flow.killed = flow.error?.msg === KILLED;
  flow.live = false;
  if (f.has("intercepted") && f.bool("intercepted")) carry(carried, "flow", "intercepted", true);
  flow.isReplay = replayOf(f);
  flow.marked = f.str("marked");
  flow.comment = f.str("comment");
  flow.metadata = metadataFromState(f.sub("metadata"));
  flow.timestampCreated = f.float("timestamp_created");
  if (Object.keys(carried).length > 0) flow.carried = carried;
}

function replayOf(f: Fields): "request" | "response" | undefined {
  const v = f.optStr("is_replay");
  if (v === undefined || v === "request" || v === "response") return v;
  throw new FlowFieldError(f.at("is_replay"), `expected "request", "response" or null, got ${JSON.stringify(v)}`);
}

function carry(carried: CarriedState, part: keyof CarriedState, key: string, value: unknown): void {
  (carried[part] ??= {})[key] = value;
}

/** Keeps a field the sdk does not model, when it holds more than mitmproxy's default. */
function carryUnlessDefault(carried: CarriedState, part: keyof CarriedState, f: Fields, key: string): void {
  const v = f.raw(key);
  if (v === undefined || v === null) return;
  if (key === "transport_protocol" && v === "tcp") return;
  if (Array.isArray(v) && v.length === 0) return;
  carry(carried, part, key, v);
}

function clientFromState(f: Fields, carried: CarriedState): ClientConnection {
  const c: ClientConnection = {
    id: f.str("id"),
    peername: f.address("peername"),
    sockname: f.address("sockname"),
    mode: f.str("proxy_mode"),
    // A client connection marked TLS carried HTTP over TLS: it was established, recorded time or not.
    tlsEstablished: f.bool("tls") || f.optFloat("timestamp_tls_setup") !== undefined,
    timestampStart: f.float("timestamp_start"),
  };
  tlsFacts(c, f);
  setIf(c, "timestampTlsSetup", f.optFloat("timestamp_tls_setup"));
  setIf(c, "timestampEnd", f.optFloat("timestamp_end"));
  setIf(c, "error", f.optStr("error"));
  for (const key of ["transport_protocol", "cipher_list", "mitmcert"])
    carryUnlessDefault(carried, "client_conn", f, key);
  // `tls` false beside a TLS timestamp (mitmproxy's own test flows have it): kept as it was.
  if (f.bool("tls") !== c.tlsEstablished) carry(carried, "client_conn", "tls", f.bool("tls"));
  return c;
}

function serverFromState(f: Fields, carried: CarriedState): ServerConnection {
  const s: ServerConnection = {
    id: f.str("id"),
    address: f.optAddress("address") ?? { host: "", port: 0 },
    tls: f.bool("tls"),
    tlsEstablished: f.optFloat("timestamp_tls_setup") !== undefined,
  };
  tlsFacts(s, f);
  setIf(s, "peername", f.optAddress("peername"));
  setIf(s, "sockname", f.optAddress("sockname"));
  setIf(s, "timestampStart", f.optFloat("timestamp_start"));
  setIf(s, "timestampTcpSetup", f.optFloat("timestamp_tcp_setup"));
  setIf(s, "timestampTlsSetup", f.optFloat("timestamp_tls_setup"));
  setIf(s, "timestampEnd", f.optFloat("timestamp_end"));
  setIf(s, "error", f.optStr("error"));
  for (const key of ["transport_protocol", "cipher_list", "via"]) carryUnlessDefault(carried, "server_conn", f, key);
  return s;
}

/** What both connection kinds record of TLS; an empty list is "none" (the sdk's undefined). */
function tlsFacts(c: ClientConnection | ServerConnection, f: Fields): void {
  setIf(c, "sni", f.optStr("sni"));
  const alpn = f.optBytes("alpn");
  if (alpn) c.alpn = alpn.toString("latin1");
  setIf(c, "tlsVersion", f.optStr("tls_version"));
  setIf(c, "cipher", f.optStr("cipher"));
  const offers = f.byteStrings("alpn_offers");
  if (offers.length > 0) c.alpnOffers = offers;
  const certs = f.byteStrings("certificate_list");
  if (certs.length > 0) c.certificateList = certs;
}

/** Sets an optional field only when there is a value (no `key: undefined` on the object). */
function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

// ---------------------------------------------------------------- HTTP

function httpFlow(f: Fields, client: ClientConnection, server: ServerConnection, carried: CarriedState): HTTPFlow {
  const flow = new HTTPFlow(client, server, requestFromState(f.sub("request"), client, carried));
  const response = f.optSub("response");
  if (response) flow.response = responseFromState(response);
  const ws = f.optSub("websocket");
  if (ws) flow.websocket = websocketFromState(ws);
  return flow;
}

function requestFromState(f: Fields, client: ClientConnection, carried: CarriedState): Request {
  const method = wireText(f.bytes("method"));
  const rawScheme = f.bytes("scheme");
  const rawAuthority = f.bytes("authority");
  const httpVersion = wireText(f.bytes("http_version"));
  const headers = headersFromState(f, "headers");
  const scheme = rawScheme.toString("latin1").toLowerCase() === "https" ? "https" : "http";
  const form = formOf(method, rawAuthority, httpVersion, scheme, client);
  // HTTP/2 has no Host field but :authority; the core turns it into one for live flows, so does this.
  const h2 = httpVersion.startsWith("HTTP/2") || httpVersion.startsWith("HTTP/3");
  const synthetic = h2 && rawAuthority.length > 0 && !headers.has("host");
  if (synthetic) headers.fields.unshift(["host", wireText(rawAuthority)]);
  const content = f.optBytes("content");
  const r = new Request({
    method,
    scheme,
    host: f.str("host"),
    port: f.int("port"),
    path: wireText(f.bytes("path")),
    form,
    headers,
    body: content,
    httpVersion,
  });
  messageCommon(r, f, content === undefined);
  const target = requestTarget(r);
  if (synthetic) carry(carried, "request", "syntheticHost", true);
  if (!synthetic && wireText(rawAuthority) !== authorityOf(r)) carry(carried, "request", "authority", rawAuthority);
  if (rawScheme.toString("latin1") !== scheme) carry(carried, "request", "scheme", rawScheme);
  if (carried.request) carried.request.target = target;
  return r;
}

/**
 * How the request target was written, which mitmproxy does not record: CONNECT is authority-form;
 * an authority means absolute-form (mitmproxy keeps it for those); plain HTTP from a regular or
 * upstream proxy client is absolute-form too (mitmproxy 8 leaves the authority empty there).
 */
function formOf(
  method: string,
  authority: Buffer,
  httpVersion: string,
  scheme: "http" | "https",
  client: ClientConnection,
): Request["form"] {
  if (method === "CONNECT") return "authority";
  if (!httpVersion.startsWith("HTTP/1")) return "origin";
  if (authority.length > 0) return "absolute";
  const proxyMode =
    client.mode === "regular" || client.mode.startsWith("regular@") || client.mode.startsWith("upstream");
  return proxyMode && scheme === "http" && !client.tlsEstablished ? "absolute" : "origin";
}

function responseFromState(f: Fields): Response {
  const content = f.optBytes("content");
  const r = new Response({
    status: f.int("status_code"),
    reason: wireText(f.bytes("reason")),
    headers: headersFromState(f, "headers"),
    body: content,
    httpVersion: wireText(f.bytes("http_version")),
  });
  messageCommon(r, f, content === undefined);
  return r;
}

function messageCommon(m: Request | Response, f: Fields, streamed: boolean): void {
  // mitmproxy's content None: the body was streamed and never held (the sdk's `stream` with an empty body).
  m.stream = streamed;
  if (f.raw("trailers") !== null && f.raw("trailers") !== undefined) m.trailers = headersFromState(f, "trailers");
  m.timestampStart = f.float("timestamp_start");
  m.timestampEnd = f.optFloat("timestamp_end");
}

function headersFromState(f: Fields, key: string): Headers {
  const pairs = f.list(key).map((item, i): [Buffer | string, Buffer | string] => {
    const at = `${f.at(key)}[${i}]`;
    if (!Array.isArray(item) || item.length !== 2)
      throw new FlowFieldError(at, `expected a [name, value] pair, got ${describePair(item)}`);
    const [name, value] = item;
    if (!isText(name) || !isText(value)) throw new FlowFieldError(at, "expected a pair of bytes");
    return [name, value];
  });
  return fieldsFromPairs(pairs);
}

function describePair(item: TNetValue): string {
  return Array.isArray(item) ? `a list of ${item.length}` : typeName(item);
}

function isText(v: TNetValue | undefined): v is Buffer | string {
  return Buffer.isBuffer(v) || typeof v === "string";
}

function websocketFromState(f: Fields): WebSocketData {
  const ws = new WebSocketData();
  f.list("messages").forEach((item, i) => ws.messages.push(wsMessage(item, `${f.at("messages")}[${i}]`)));
  const closedByClient = f.raw("closed_by_client");
  if (closedByClient !== null && closedByClient !== undefined) ws.closedByClient = f.bool("closed_by_client");
  ws.closeCode = f.optInt("close_code");
  ws.closeReason = f.optStr("close_reason");
  ws.timestampEnd = f.optFloat("timestamp_end");
  return ws;
}

/** `[opcode, from_client, content, timestamp, dropped, injected]`. */
function wsMessage(item: TNetValue, at: string): WebSocketMessage {
  if (!Array.isArray(item) || item.length !== 6)
    throw new FlowFieldError(at, "expected a list of 6 (opcode, from_client, content, timestamp, dropped, injected)");
  const [opcode, fromClient, content, timestamp, dropped, injected] = item;
  if (opcode !== 1 && opcode !== 2)
    throw new FlowFieldError(
      `${at}[0]`,
      `expected opcode 1 (text) or 2 (binary), got ${typeof opcode === "number" ? opcode : typeName(opcode)}`,
    );
  if (typeof fromClient !== "boolean" || typeof dropped !== "boolean" || typeof injected !== "boolean")
    throw new FlowFieldError(at, "expected bools for from_client, dropped and injected");
  if (!Buffer.isBuffer(content)) throw new FlowFieldError(`${at}[2]`, `expected bytes, got ${typeName(content)}`);
  const m = new WebSocketMessage(
    fromClient,
    opcode === 1 ? "text" : "binary",
    content,
    injected,
    timeOf(timestamp, `${at}[3]`),
  );
  m.dropped = dropped;
  return m;
}

function timeOf(v: TNetValue | undefined, at: string): number {
  if (v instanceof TNetFloat) return v.value;
  if (typeof v === "number") return v;
  throw new FlowFieldError(at, `expected a float, got ${typeName(v)}`);
}

// ---------------------------------------------------------------- TCP

function tcpFlow(f: Fields, client: ClientConnection, server: ServerConnection): TCPFlow {
  const flow = new TCPFlow(client, server);
  f.list("messages").forEach((item, i) => {
    const at = `${f.at("messages")}[${i}]`;
    if (!Array.isArray(item) || item.length !== 3)
      throw new FlowFieldError(at, "expected a list of 3 (from_client, content, timestamp)");
    const [fromClient, content, timestamp] = item;
    if (typeof fromClient !== "boolean")
      throw new FlowFieldError(`${at}[0]`, `expected a bool, got ${typeName(fromClient)}`);
    if (!Buffer.isBuffer(content)) throw new FlowFieldError(`${at}[1]`, `expected bytes, got ${typeName(content)}`);
    flow.messages.push({ fromClient, content, timestamp: timeOf(timestamp, `${at}[2]`) });
  });
  return flow;
}

// ---------------------------------------------------------------- metadata

/** Metadata as plain JS: dicts become objects, floats numbers; bytes stay Buffers. */
function metadataFromState(f: Fields): Record<string, unknown> {
  return metaValue(f.dict) as Record<string, unknown>;
}

function metaValue(v: TNetValue): unknown {
  if (v instanceof TNetFloat) return v.value;
  if (Array.isArray(v)) return v.map(metaValue);
  if (isDict(v)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      const value = metaValue(v[key]!);
      if (key === "__proto__")
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    return out;
  }
  return v;
}
