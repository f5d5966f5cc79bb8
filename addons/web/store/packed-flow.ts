// A finished HTTP flow as the store keeps it: a few slots of the store's record (PackedSlots)
// and its id, instead of the ~40 objects of the flow object it came from. Its numbers, the text
// of both heads and its small bodies sit in shared chunks (slab.ts); the rarely set fields share
// one object.
// Why: with 50,000 flows kept, the garbage collector copies every kept object and string
// once or twice before it settles in the old generation, and that was the largest cost of
// an open web UI (bench V). Measured on workload A's flows: keeping the earlier record (24
// fields and its heads as a string) cost 1.6 µs a flow over packing alone.
// unpack() gives back the flow detach() would have kept; the store makes one only when asked.
import { Headers, HTTPFlow, Request, Response, type AnyFlow, type FlowError } from "@interloper/sdk";
import type { BodyState, RowRare, SummaryRow } from "../api-types.ts";
import type { LeaveOut } from "./detach.ts";
import { bodyStateIndex, type RowBatchWriter } from "./row-batch.ts";
import type { Slab } from "./slab.ts";
import { bodyState, shownSize, type BodyFacts } from "./summary.ts";

/** Between the parts of the heads' text: a byte no method, URL, version, reason or header field may hold (RFC 9110 §5.5). */
const SEP = "\x7f";

// The flags' bits.
const REQUEST_STREAM = 1;
const RESPONSE_STREAM = 2;
const KILLED = 4;
const HAS_RESPONSE = 8;
/** The text is UTF-16 (it is not all ASCII), else Latin-1. */
const TEXT_UTF16 = 16;

// A packed flow's numbers, at `at` in its chunk (slab.NUMBERS of them). A timestamp that is
// not there is NaN.
const CREATED = 0;
const REQUEST_START = 1;
const REQUEST_END = 2;
const RESPONSE_START = 3;
const RESPONSE_END = 4;
const PORT = 5;
const STATUS = 6;
const FLAGS = 7;
/** Header fields of the request and of the response in the text. */
const REQUEST_FIELDS = 8;
const RESPONSE_FIELDS = 9;
const TEXT_AT = 10;
const TEXT_LENGTH = 11;
const REQUEST_AT = 12;
const REQUEST_LENGTH = 13;
const RESPONSE_AT = 14;
const RESPONSE_LENGTH = 15;

/** What most flows leave empty, kept together only when one of them is set. */
export interface PackedExtra {
  readonly error: FlowError | undefined;
  /** The flow's own metadata, or undefined when it was empty. */
  readonly metadata: Record<string, unknown> | undefined;
  readonly marked: string;
  readonly comment: string;
  readonly isReplay: HTTPFlow["isReplay"];
  readonly carried: HTTPFlow["carried"];
}

const NO_EXTRA: PackedExtra = {
  error: undefined,
  metadata: undefined,
  marked: "",
  comment: "",
  isReplay: undefined,
  carried: undefined,
};

/** Where a packed flow's parts are written: the store's own record of the flow (one object a kept flow, not two). */
export interface PackedSlots {
  client: HTTPFlow["client"] | undefined;
  server: HTTPFlow["server"] | undefined;
  /** The flow's numbers (see the names above) at `at`: a shared chunk. */
  numbers: Float64Array | undefined;
  at: number;
  /**
   * Holds the heads' text: method, scheme, host, path, form, version, request fields; then
   * reason, version, response fields; joined by SEP.
   */
  text: Buffer | undefined;
  /** The bodies' bytes (a shared chunk or the body's own buffer); undefined: none. */
  requestBody: Buffer | undefined;
  responseBody: Buffer | undefined;
  extra: PackedExtra | undefined;
}

/** A packed flow: its id and its filled slots. */
export interface PackedHttp {
  readonly id: string;
  readonly client: HTTPFlow["client"];
  readonly server: HTTPFlow["server"];
  readonly numbers: Float64Array;
  readonly at: number;
  readonly text: Buffer;
  readonly requestBody: Buffer | undefined;
  readonly responseBody: Buffer | undefined;
  readonly extra: PackedExtra | undefined;
}

/** The packed form of the finished `flow` in an object of its own, or undefined when it must stay an object. */
export function pack(flow: AnyFlow, leaveOut: LeaveOut, slab: Slab): PackedHttp | undefined {
  const packed = { id: flow.id, ...emptySlots() };
  return packInto(packed, flow, leaveOut, slab) ? (packed as PackedHttp) : undefined;
}

/** Slots with nothing packed in them. */
export function emptySlots(): PackedSlots {
  return {
    client: undefined,
    server: undefined,
    numbers: undefined,
    at: 0,
    text: undefined,
    requestBody: undefined,
    responseBody: undefined,
    extra: undefined,
  };
}

/** Lets go of what `slots` hold (the chunks may go once no other flow refers to them). */
export function clearSlots(slots: PackedSlots): void {
  slots.client = undefined;
  slots.server = undefined;
  slots.numbers = undefined;
  slots.text = undefined;
  slots.requestBody = undefined;
  slots.responseBody = undefined;
  slots.extra = undefined;
}

/**
 * Packs the finished `flow` into `into`; false (and `into` untouched) when it must stay an
 * object (WebSocket, trailers, odd text).
 */
export function packInto(into: PackedSlots, flow: AnyFlow, leaveOut: LeaveOut, slab: Slab): boolean {
  if (flow.type !== "http" || flow.websocket || flow.intercepted) return false;
  const req = flow.request;
  const res = flow.response;
  if (req.trailers || res?.trailers) return false;
  const text = packText(flow);
  if (text === undefined) return false;
  // NaN stands for "none": a real NaN (a damaged file's) keeps the flow an object.
  if (nan(flow.timestampCreated) || nan(req.timestampStart) || nan(req.timestampEnd)) return false;
  if (res && (nan(res.timestampStart) || nan(res.timestampEnd))) return false;
  const at = slab.record();
  const n = slab.numbers;
  const ascii = Buffer.byteLength(text, "utf8") === text.length;
  const textBytes = ascii ? text.length : 2 * text.length;
  const textChunk = slab.space(textBytes);
  n[at + TEXT_AT] = slab.at;
  n[at + TEXT_LENGTH] = textChunk.write(text, slab.at, textBytes, ascii ? "latin1" : "utf16le");
  const requestBody = leaveOut.requestBody ? undefined : bodyOf(req.body, slab);
  n[at + REQUEST_AT] = slab.at;
  n[at + REQUEST_LENGTH] = requestBody ? req.body.length : 0;
  const responseBody = res && !leaveOut.responseBody ? bodyOf(res.body, slab) : undefined;
  n[at + RESPONSE_AT] = slab.at;
  n[at + RESPONSE_LENGTH] = responseBody ? res!.body.length : 0;
  n[at + CREATED] = flow.timestampCreated;
  n[at + REQUEST_START] = req.timestampStart;
  n[at + REQUEST_END] = req.timestampEnd ?? Number.NaN;
  n[at + RESPONSE_START] = res ? res.timestampStart : Number.NaN;
  n[at + RESPONSE_END] = res?.timestampEnd ?? Number.NaN;
  n[at + PORT] = req.port;
  n[at + STATUS] = res ? res.status : 0;
  n[at + REQUEST_FIELDS] = req.headers.fields.length;
  n[at + RESPONSE_FIELDS] = res ? res.headers.fields.length : 0;
  n[at + FLAGS] = flagsOf(flow, ascii);
  into.client = flow.client;
  into.server = flow.server;
  into.numbers = n;
  into.at = at;
  into.text = textChunk;
  into.requestBody = requestBody;
  into.responseBody = responseBody;
  into.extra = extraOf(flow);
  return true;
}

/**
 * The flow `p` was made from, as detach() keeps it, not live. Its bodies are copies when
 * `copyBodies` (for a caller that may change them), else views of the kept bytes (to read only).
 */
export function unpack(p: PackedHttp, copyBodies = true): HTTPFlow {
  const parts = textOf(p).split(SEP);
  const n = p.numbers;
  const at = p.at;
  const flags = n[at + FLAGS]!;
  const requestFields = n[at + REQUEST_FIELDS]!;
  const request = new Request({
    method: parts[0]!,
    scheme: parts[1] as "http" | "https",
    host: parts[2]!,
    port: n[at + PORT]!,
    path: parts[3]!,
    form: parts[4] as Request["form"],
    httpVersion: parts[5]!,
    headers: Headers.fromRaw(parts.slice(6, 6 + 2 * requestFields)),
    body: bytes(p.requestBody, n[at + REQUEST_AT]!, n[at + REQUEST_LENGTH]!, copyBodies),
  });
  request.stream = (flags & REQUEST_STREAM) !== 0;
  request.timestampStart = n[at + REQUEST_START]!;
  request.timestampEnd = time(n[at + REQUEST_END]!);
  const flow = new HTTPFlow(p.client, p.server, request);
  if (flags & HAS_RESPONSE) {
    const from = 6 + 2 * requestFields;
    const response = new Response({
      status: n[at + STATUS]!,
      reason: parts[from]!,
      httpVersion: parts[from + 1]!,
      headers: Headers.fromRaw(parts.slice(from + 2, from + 2 + 2 * n[at + RESPONSE_FIELDS]!)),
      body: bytes(p.responseBody, n[at + RESPONSE_AT]!, n[at + RESPONSE_LENGTH]!, copyBodies),
    });
    response.stream = (flags & RESPONSE_STREAM) !== 0;
    response.timestampStart = n[at + RESPONSE_START]!;
    response.timestampEnd = time(n[at + RESPONSE_END]!);
    flow.response = response;
  }
  const extra = p.extra ?? NO_EXTRA;
  flow.id = p.id;
  flow.error = extra.error;
  if (extra.metadata) flow.metadata = extra.metadata;
  flow.live = false;
  flow.killed = (flags & KILLED) !== 0;
  flow.marked = extra.marked;
  flow.comment = extra.comment;
  flow.isReplay = extra.isReplay;
  flow.timestampCreated = n[at + CREATED]!;
  flow.carried = extra.carried;
  return flow;
}

/** The states of the bodies the packed record holds itself (summary.ts heldBodyState). */
export function heldBodies(p: PackedHttp): { request: BodyState; response: BodyState } {
  const n = p.numbers;
  const flags = n[p.at + FLAGS]!;
  return {
    request: bodyState(n[p.at + REQUEST_LENGTH]!, (flags & REQUEST_STREAM) !== 0),
    response: flags & HAS_RESPONSE ? bodyState(n[p.at + RESPONSE_LENGTH]!, (flags & RESPONSE_STREAM) !== 0) : "none",
  };
}

/**
 * The flow's summary as the live updates carry it (SummaryRow), made from the packed record
 * without unpacking it (its text is already the row's heads), into `batch`. The client's
 * summariesOfRows() gives what summarize() gives for the unpacked flow.
 */
export function summaryRow(p: PackedHttp, bodies: BodyFacts, batch: RowBatchWriter): SummaryRow {
  const n = p.numbers;
  const at = p.at;
  const flags = n[at + FLAGS]!;
  const hasResponse = (flags & HAS_RESPONSE) !== 0;
  const end = hasResponse ? time(n[at + RESPONSE_END]!) : undefined;
  const endOrError = end ?? p.extra?.error?.timestamp;
  const row: SummaryRow = [
    p.id,
    textOf(p),
    n[at + REQUEST_FIELDS]!,
    hasResponse ? n[at + RESPONSE_FIELDS]! : -1,
    n[at + PORT]!,
    hasResponse ? n[at + STATUS]! : null,
    batch.time(n[at + CREATED]!),
    batch.time(n[at + REQUEST_START]!),
    endOrError === undefined ? null : batch.time(endOrError),
    shownSize(bodies.request, bodies.requestSize, n[at + REQUEST_LENGTH]!),
    hasResponse ? shownSize(bodies.response, bodies.responseSize, n[at + RESPONSE_LENGTH]!) : null,
    bodyStateIndex(bodies.request),
    bodyStateIndex(bodies.response),
    batch.connection(p.client, p.server),
  ];
  const rare = rareOf(p.extra, (flags & KILLED) !== 0);
  if (rare) row.push(rare);
  return row;
}

/** The row's rarely set fields, or undefined when none is. */
function rareOf(extra: PackedExtra | undefined, killed: boolean): RowRare | undefined {
  if (!killed && (!extra || (!extra.isReplay && !extra.marked && !extra.comment && !extra.error))) return undefined;
  const rare: RowRare = {};
  if (extra?.isReplay) rare.replayed = extra.isReplay;
  if (extra?.marked) rare.marked = extra.marked;
  if (extra?.comment) rare.comment = extra.comment;
  if (extra?.error) rare.error = extra.error.msg;
  if (killed) rare.killed = true;
  return rare;
}

/** The heads' text, as packText() made it. */
function textOf(p: PackedHttp): string {
  const n = p.numbers;
  const from = n[p.at + TEXT_AT]!;
  const end = from + n[p.at + TEXT_LENGTH]!;
  return p.text.toString(n[p.at + FLAGS]! & TEXT_UTF16 ? "utf16le" : "latin1", from, end);
}

function flagsOf(flow: HTTPFlow, asciiText: boolean): number {
  let flags = flow.killed ? KILLED : 0;
  if (flow.request.stream) flags |= REQUEST_STREAM;
  if (flow.response) flags |= HAS_RESPONSE;
  if (flow.response?.stream) flags |= RESPONSE_STREAM;
  if (!asciiText) flags |= TEXT_UTF16;
  return flags;
}

/** The rarely set fields, or undefined when all are empty (most flows). */
function extraOf(flow: HTTPFlow): PackedExtra | undefined {
  const metadata = isEmpty(flow.metadata) ? undefined : flow.metadata;
  const { error, marked, comment, isReplay, carried } = flow;
  if (!error && !metadata && !marked && !comment && !isReplay && !carried) return undefined;
  return { error, metadata, marked, comment, isReplay, carried };
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
