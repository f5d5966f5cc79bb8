/**
 * A live HTTP flow written straight into the encoder, in the layout that flowToState and the
 * version steps give it: the same bytes as encodeFlow, without building the state first (some
 * forty objects a flow) and without the generic encoder's type tests on each of its ~110 values.
 * bench W: the generic way took ~5 µs of the ~15 that -w added to a request.
 *
 * Only the usual flow takes this way: HTTP, no WebSocket, not read from a file (nothing carried),
 * both connections in the writer's cache. Anything else, or a flow too large for the scratch,
 * gets `undefined` and the generic path. test/unit/flowfile-layout.test.ts holds the two to the
 * same bytes, flow kind by flow kind and version by version.
 */
import type { HTTPFlow, Request, Response } from "../flow.ts";
import type { Headers } from "../headers.ts";
import type { FormatVersion } from "./compat.ts";
import type { ConnStateCache } from "./conn-cache.ts";
import { authorityOf, bodyToState, metadataToState } from "./state-write.ts";
import { encodeBackwards, type Backwards, type TNetDict, type TNetRaw } from "./tnetstring.ts";

const LIST = 0x5d;
const DICT = 0x7d;

/** A dict key as its tnetstring (`7:version;`): ASCII only. */
function key(name: string): Buffer {
  return Buffer.from(`${name.length}:${name};`, "latin1");
}

const K = {
  version: key("version"),
  type: key("type"),
  id: key("id"),
  error: key("error"),
  msg: key("msg"),
  timestamp: key("timestamp"),
  clientConn: key("client_conn"),
  serverConn: key("server_conn"),
  intercepted: key("intercepted"),
  isReplay: key("is_replay"),
  marked: key("marked"),
  metadata: key("metadata"),
  comment: key("comment"),
  timestampCreated: key("timestamp_created"),
  backup: key("backup"),
  request: key("request"),
  response: key("response"),
  websocket: key("websocket"),
  host: key("host"),
  port: key("port"),
  method: key("method"),
  scheme: key("scheme"),
  authority: key("authority"),
  path: key("path"),
  httpVersion: key("http_version"),
  statusCode: key("status_code"),
  reason: key("reason"),
  headers: key("headers"),
  content: key("content"),
  trailers: key("trailers"),
  timestampStart: key("timestamp_start"),
  timestampEnd: key("timestamp_end"),
};
const EMPTY_DICT = Buffer.from("0:}", "latin1");

/** A key and its value when both are always the same: written as one piece. */
function fixed(k: Buffer, value: string): Buffer {
  return Buffer.concat([k, Buffer.from(value, "latin1")]);
}
const NULL_WEBSOCKET = fixed(K.websocket, "0:~");
const NULL_BACKUP = fixed(K.backup, "0:~");
const NULL_ERROR = fixed(K.error, "0:~");
const HTTP_TYPE = fixed(K.type, "4:http;");
/** intercepted, is_replay, marked, metadata and comment of a flow no one marked, replayed or commented. */
const PLAIN_FLAGS = Buffer.concat([
  fixed(K.intercepted, "5:false!"),
  fixed(K.isReplay, "0:~"),
  fixed(K.marked, "0:;"),
  fixed(K.metadata, "0:}"),
  fixed(K.comment, "0:;"),
]);

/** A FlowWriter's layout for its version: what does not change from flow to flow is made once. */
export class LiveHttpLayout {
  private readonly version: Buffer;
  /** The flow being written and its parts, for `writeFlow` (set just before it runs). */
  private client: TNetRaw | undefined;
  private server: TNetRaw | undefined;
  private metadataState: TNetDict | undefined;

  constructor(
    private readonly formatVersion: FormatVersion,
    private readonly conns: ConnStateCache,
    private readonly onWarning: ((message: string) => void) | undefined,
  ) {
    this.version = fixed(K.version, `${String(formatVersion).length}:${formatVersion}#`);
  }

  /**
   * The flow's bytes, or undefined when it is not the usual kind (see above) or does not fit.
   * `borrow`: the encoder's scratch, valid until the next encoding, not a copy (the caller copies).
   */
  encode(flow: HTTPFlow, borrow = false): Buffer | undefined {
    if (flow.websocket || flow.carried !== undefined) return undefined;
    this.client = this.conns.client(flow.client);
    this.server = this.client && this.conns.server(flow.server);
    if (!this.client || !this.server) return undefined;
    // Before the scratch is written: a warning's listener may itself encode.
    this.metadataState = hasOwnKeys(flow.metadata)
      ? metadataToState(flow, { metadataBytes: this.formatVersion >= 19, onWarning: this.onWarning })
      : undefined;
    return encodeBackwards(this.writeFlow, flow, borrow);
  }

  private readonly writeFlow = (w: Backwards, flow: HTTPFlow): void => {
    const end = w.close(DICT);
    // Last key first. The keys flowToState sets, less those the version steps leave out.
    w.raw(NULL_WEBSOCKET);
    if (flow.response) response(w, flow.response);
    else w.null();
    w.raw(K.response);
    request(w, flow.request);
    w.raw(K.request);
    // Before version 20, "backup" is written only when there is one (never, for a live flow).
    if (this.formatVersion >= 20) w.raw(NULL_BACKUP);
    w.float(flow.timestampCreated);
    w.raw(K.timestampCreated);
    this.flags(w, flow);
    w.raw(this.server!.bytes);
    w.raw(K.serverConn);
    w.raw(this.client!.bytes);
    w.raw(K.clientConn);
    error(w, flow);
    w.value(flow.id);
    w.raw(K.id);
    w.raw(HTTP_TYPE);
    w.raw(this.version);
    w.open(end);
  };

  /** intercepted to comment: one piece for the usual flow. */
  private flags(w: Backwards, flow: HTTPFlow): void {
    const meta = this.metadataState;
    if (flow.comment === "" && flow.marked === "" && flow.isReplay === undefined && meta === undefined) {
      w.raw(PLAIN_FLAGS);
      return;
    }
    w.value(flow.comment);
    w.raw(K.comment);
    if (meta) w.value(meta);
    else w.raw(EMPTY_DICT);
    w.raw(K.metadata);
    w.value(flow.marked);
    w.raw(K.marked);
    w.value(flow.isReplay ?? null);
    w.raw(K.isReplay);
    w.bool(false); // carried flows (which may have been intercepted) do not come this way
    w.raw(K.intercepted);
  }
}

/** Whether `o` has a key of its own (without the array Object.keys makes). */
function hasOwnKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

function error(w: Backwards, flow: HTTPFlow): void {
  const e = flow.error;
  if (!e) return w.raw(NULL_ERROR);
  const end = w.close(DICT);
  w.float(e.timestamp);
  w.raw(K.timestamp);
  w.value(e.msg);
  w.raw(K.msg);
  w.open(end);
  w.raw(K.error);
}

function request(w: Backwards, r: Request): void {
  const end = w.close(DICT);
  messageTail(w, r);
  w.wire(r.httpVersion);
  w.raw(K.httpVersion);
  w.wire(r.path);
  w.raw(K.path);
  w.wire(authorityOf(r));
  w.raw(K.authority);
  w.wire(r.scheme);
  w.raw(K.scheme);
  w.wire(r.method);
  w.raw(K.method);
  w.int(r.port);
  w.raw(K.port);
  w.value(r.host);
  w.raw(K.host);
  w.open(end);
}

function response(w: Backwards, r: Response): void {
  const end = w.close(DICT);
  messageTail(w, r);
  w.wire(r.reason);
  w.raw(K.reason);
  w.int(r.status);
  w.raw(K.statusCode);
  w.wire(r.httpVersion);
  w.raw(K.httpVersion);
  w.open(end);
}

/** The keys a request and a response end with alike: headers, content, trailers, timestamps. */
function messageTail(w: Backwards, m: Request | Response): void {
  w.optFloat(m.timestampEnd);
  w.raw(K.timestampEnd);
  w.float(m.timestampStart);
  w.raw(K.timestampStart);
  fieldsOrNull(w, m.trailers);
  w.raw(K.trailers);
  const body = bodyToState(m);
  if (body === null) w.null();
  else w.bytes(body);
  w.raw(K.content);
  fields(w, m.headers);
  w.raw(K.headers);
}

function fieldsOrNull(w: Backwards, h: Headers | undefined): void {
  if (h) fields(w, h);
  else w.null();
}

/** Header fields as [name, value] byte pairs. */
function fields(w: Backwards, h: Headers): void {
  const list = h.fields;
  const end = w.close(LIST);
  for (let i = list.length - 1; i >= 0; i--) {
    const [name, value] = list[i]!;
    const pair = w.close(LIST);
    w.wire(value);
    w.wire(name);
    w.open(pair);
  }
  w.open(end);
}
