// A finished HTTP flow as the store keeps it: three objects (this record, its id and one
// string holding every name and header of both messages) instead of the ~40 of the flow
// object it came from. The timestamps and small bodies sit in shared chunks (slab.ts).
// Why: with 50,000 flows kept, the garbage collector's work grows with the number of live
// objects, and it was the largest cost of an open web UI (bench V: ~14 µs a request).
// unpack() gives back the flow detach() would have kept; the store makes one only when asked.
import { Headers, HTTPFlow, Request, Response, type AnyFlow, type FlowError } from "@interloper/sdk";
import type { BodyState, SummaryRow } from "../api-types.ts";
import type { LeaveOut } from "./detach.ts";
import type { Slab } from "./slab.ts";
import { bodyState, shownSize, type BodyFacts } from "./summary.ts";

/** Between the parts of `text`: a byte no method, URL, version, reason or header field may hold (RFC 9110 §5.5). */
const SEP = "\x7f";

const REQUEST_STREAM = 1;
const RESPONSE_STREAM = 2;
const KILLED = 4;
const HAS_RESPONSE = 8;

export interface PackedHttp {
  readonly id: string;
  readonly client: HTTPFlow["client"];
  readonly server: HTTPFlow["server"];
  /** method, scheme, host, path, form, version, request fields; then reason, version, response fields. */
  readonly text: string;
  readonly requestFields: number;
  readonly responseFields: number;
  readonly port: number;
  readonly status: number;
  readonly flags: number;
  /** created, request start and end, response start and end (NaN: none), at `timesAt`. */
  readonly times: Float64Array;
  readonly timesAt: number;
  /** The bodies' bytes at `…At`, `…Length` long (a shared chunk or the body's own buffer); undefined: none. */
  readonly requestBody: Buffer | undefined;
  readonly requestAt: number;
  readonly requestLength: number;
  readonly responseBody: Buffer | undefined;
  readonly responseAt: number;
  readonly responseLength: number;
  readonly error: FlowError | undefined;
  /** The flow's own metadata, or undefined when it was empty. */
  readonly metadata: Record<string, unknown> | undefined;
  readonly marked: string;
  readonly comment: string;
  readonly isReplay: HTTPFlow["isReplay"];
  readonly carried: HTTPFlow["carried"];
}

/** The packed form of the finished `flow`, or undefined when it must stay an object (WebSocket, trailers, odd text). */
export function pack(flow: AnyFlow, leaveOut: LeaveOut, slab: Slab): PackedHttp | undefined {
  if (flow.type !== "http" || flow.websocket || flow.intercepted) return undefined;
  const req = flow.request;
  const res = flow.response;
  if (req.trailers || res?.trailers) return undefined;
  const text = packText(flow);
  if (text === undefined) return undefined;
  const created = flow.timestampCreated;
  // NaN stands for "none" in the slab: a real NaN (a damaged file's) keeps the flow an object.
  if (nan(created) || nan(req.timestampStart) || nan(req.timestampEnd)) return undefined;
  if (res && (nan(res.timestampStart) || nan(res.timestampEnd))) return undefined;
  const timesAt = slab.putTimes(created, req.timestampStart, req.timestampEnd, res?.timestampStart, res?.timestampEnd);
  const timesChunk = slab.timesChunk;
  const reqBody = leaveOut.requestBody ? undefined : bodyOf(req.body, slab);
  const reqAt = slab.at;
  const resBody = res && !leaveOut.responseBody ? bodyOf(res.body, slab) : undefined;
  const resAt = slab.at;
  let flags = flow.killed ? KILLED : 0;
  if (req.stream) flags |= REQUEST_STREAM;
  if (res) flags |= HAS_RESPONSE;
  if (res?.stream) flags |= RESPONSE_STREAM;
  return {
    id: flow.id,
    client: flow.client,
    server: flow.server,
    text,
    requestFields: req.headers.fields.length,
    responseFields: res ? res.headers.fields.length : 0,
    port: req.port,
    status: res ? res.status : 0,
    flags,
    times: timesChunk,
    timesAt,
    requestBody: reqBody,
    requestAt: reqAt,
    requestLength: reqBody ? req.body.length : 0,
    responseBody: resBody,
    responseAt: resAt,
    responseLength: resBody ? res!.body.length : 0,
    error: flow.error,
    metadata: isEmpty(flow.metadata) ? undefined : flow.metadata,
    marked: flow.marked,
    comment: flow.comment,
    isReplay: flow.isReplay,
    carried: flow.carried,
  };
}

/**
 * The flow `p` was made from, as detach() keeps it, not live. Its bodies are copies when
 * `copyBodies` (for a caller that may change them), else views of the kept bytes (to read only).
 */
export function unpack(p: PackedHttp, copyBodies = true): HTTPFlow {
  const parts = p.text.split(SEP);
  const t = p.times;
  const at = p.timesAt;
  const request = new Request({
    method: parts[0]!,
    scheme: parts[1] as "http" | "https",
    host: parts[2]!,
    port: p.port,
    path: parts[3]!,
    form: parts[4] as Request["form"],
    httpVersion: parts[5]!,
    headers: Headers.fromRaw(parts.slice(6, 6 + 2 * p.requestFields)),
    body: bytes(p.requestBody, p.requestAt, p.requestLength, copyBodies),
  });
  request.stream = (p.flags & REQUEST_STREAM) !== 0;
  request.timestampStart = t[at + 1]!;
  request.timestampEnd = time(t[at + 2]!);
  const flow = new HTTPFlow(p.client, p.server, request);
  if (p.flags & HAS_RESPONSE) {
    const from = 6 + 2 * p.requestFields;
    const response = new Response({
      status: p.status,
      reason: parts[from]!,
      httpVersion: parts[from + 1]!,
      headers: Headers.fromRaw(parts.slice(from + 2, from + 2 + 2 * p.responseFields)),
      body: bytes(p.responseBody, p.responseAt, p.responseLength, copyBodies),
    });
    response.stream = (p.flags & RESPONSE_STREAM) !== 0;
    response.timestampStart = t[at + 3]!;
    response.timestampEnd = time(t[at + 4]!);
    flow.response = response;
  }
  flow.id = p.id;
  flow.error = p.error;
  if (p.metadata) flow.metadata = p.metadata;
  flow.live = false;
  flow.killed = (p.flags & KILLED) !== 0;
  flow.marked = p.marked;
  flow.comment = p.comment;
  flow.isReplay = p.isReplay;
  flow.timestampCreated = t[at]!;
  flow.carried = p.carried;
  return flow;
}

/** The states of the bodies the packed record holds itself (summary.ts heldBodyState). */
export function heldBodies(p: PackedHttp): { request: BodyState; response: BodyState } {
  return {
    request: bodyState(p.requestLength, (p.flags & REQUEST_STREAM) !== 0),
    response: p.flags & HAS_RESPONSE ? bodyState(p.responseLength, (p.flags & RESPONSE_STREAM) !== 0) : "none",
  };
}

/**
 * The flow's summary as the live updates carry it (SummaryRow), made from the packed record
 * without unpacking it: `text` is already the row's heads. The client's summaryOfRow() gives
 * what summarize() gives for the unpacked flow.
 */
export function summaryRow(p: PackedHttp, bodies: BodyFacts): SummaryRow {
  const hasResponse = (p.flags & HAS_RESPONSE) !== 0;
  const t = p.times;
  const end = hasResponse ? time(t[p.timesAt + 4]!) : undefined;
  const { client, server } = p;
  return [
    p.id,
    p.text,
    p.requestFields,
    hasResponse ? p.responseFields : -1,
    p.port,
    hasResponse ? p.status : null,
    t[p.timesAt]!,
    t[p.timesAt + 1]!,
    end ?? p.error?.timestamp ?? null,
    shownSize(bodies.request, bodies.requestSize, p.requestLength),
    hasResponse ? shownSize(bodies.response, bodies.responseSize, p.responseLength) : null,
    bodies.request,
    bodies.response,
    client.tlsEstablished,
    client.sni ?? null,
    client.peername.host,
    client.peername.port,
    server.address.host,
    server.address.port,
    p.isReplay ?? null,
    p.marked,
    p.comment,
    p.error ? p.error.msg : null,
    (p.flags & KILLED) !== 0,
  ];
}

/** Every text part of both heads joined by SEP; undefined when a part holds SEP itself (an addon's odd value). */
function packText(flow: HTTPFlow): string | undefined {
  const req = flow.request;
  const res = flow.response;
  const parts: string[] = [req.method, req.scheme, req.host, req.path, req.form, req.httpVersion];
  for (const [name, value] of req.headers.fields) parts.push(name, value);
  if (res) {
    parts.push(res.reason, res.httpVersion);
    for (const [name, value] of res.headers.fields) parts.push(name, value);
  }
  const text = parts.join(SEP);
  // Exactly parts.length - 1 separators: no part brought one of its own.
  let seps = 0;
  for (let i = text.indexOf(SEP); i !== -1; i = text.indexOf(SEP, i + 1)) seps++;
  return seps === parts.length - 1 ? text : undefined;
}

/** Where a body's bytes are kept: small ones copied into the slab's chunk, others as they are. */
function bodyOf(body: Buffer, slab: Slab): Buffer | undefined {
  if (body.length === 0) return undefined;
  return slab.putBytes(body);
}

function bytes(from: Buffer | undefined, at: number, length: number, copy: boolean): Buffer | undefined {
  if (!from) return undefined;
  const view = from.subarray(at, at + length);
  return copy ? Buffer.from(view) : view;
}

function time(t: number): number | undefined {
  return Number.isNaN(t) ? undefined : t;
}

function nan(t: number | undefined): boolean {
  return t !== undefined && Number.isNaN(t);
}

/** No key at all (symbols and non-enumerable ones count: an addon's metadata may use them). */
function isEmpty(o: object): boolean {
  return Reflect.ownKeys(o).length === 0;
}
