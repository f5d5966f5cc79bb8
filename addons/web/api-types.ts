// The JSON of API.md, declared once: what the web UI's server sends and its front-end reads.
// The server's builders (store/summary.ts, server/detail.ts, server/api-proxy.ts) return these
// types and the UI (ui/src/types.ts) re-exports them, so the compiler holds both sides to one
// shape. Types only, without Node's: the UI's bundle erases the import.

/** Header or trailer fields: `[name, value]` in wire order and spelling. */
export type Fields = [string, string][];

/**
 * Where the store has a body. none: empty body; memory/disk: where the store keeps it;
 * streamed: went by unrecorded; dropped: too large to keep, only its size is known.
 */
export type BodyState = "none" | "memory" | "disk" | "streamed" | "dropped";

export interface Address {
  host: string;
  port: number;
}

/** A flow as the list and the browser-side filter see it: heads and facts, no bodies. */
export interface FlowSummary {
  id: string;
  type: "http" | "ws" | "tcp";
  protocol: "h1" | "h2" | "tcp";
  httpVersion: string | null;
  method: string | null;
  scheme: "http" | "https" | null;
  host: string;
  prettyHost: string | null;
  port: number;
  path: string | null;
  url: string | null;
  status: number | null;
  reason: string | null;
  requestSize: number | null;
  responseSize: number | null;
  requestContentType: string | null;
  responseContentType: string | null;
  requestHeaders: Fields | null;
  responseHeaders: Fields | null;
  timestampCreated: number;
  timestampStart: number;
  timestampEnd: number | null;
  tls: boolean;
  sni: string | null;
  client: Address;
  server: Address | null;
  live: boolean;
  intercepted: boolean;
  replayed: "request" | "response" | null;
  marked: string;
  comment: string;
  error: string | null;
  killed: boolean;
  messageCount: number;
  bodies: { request: BodyState; response: BodyState };
}

export interface Certificate {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  subjectAltNames: string[];
  serialNumber: string;
  fingerprint256: string;
  pem: string;
}

/** A WebSocket or TCP message: `text` for text messages, `base64` for the others. */
export interface WireMessage {
  fromClient: boolean;
  type: "text" | "binary";
  timestamp: number;
  size: number;
  injected: boolean;
  dropped: boolean;
  text?: string;
  base64?: string;
  truncated: boolean;
}

export interface MessageHead {
  httpVersion: string;
  headers: Fields;
  trailers: Fields | null;
  timestampStart: number;
  timestampEnd: number | null;
  size: number | null;
}

export interface RequestHead extends MessageHead {
  method: string;
  scheme: "http" | "https";
  host: string;
  port: number;
  path: string;
  url: string;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

/** Raw timestamps; null where a phase did not happen. */
export interface Timings {
  clientConnect: number | null;
  clientTlsSetup: number | null;
  serverConnect: number | null;
  serverTcpSetup: number | null;
  serverTlsSetup: number | null;
  requestStart: number | null;
  requestEnd: number | null;
  responseStart: number | null;
  responseEnd: number | null;
  end: number | null;
}

export interface ClientFacts {
  id: string;
  peername: Address;
  sockname: Address;
  mode: string;
  tlsEstablished: boolean;
  sni: string | null;
  alpn: string | null;
  alpnOffers: string[] | null;
  tlsVersion: string | null;
  cipher: string | null;
  timestampStart: number;
  timestampTlsSetup: number | null;
  timestampEnd: number | null;
}

export interface ServerFacts {
  id: string;
  address: Address;
  peername: Address | null;
  sockname: Address | null;
  tls: boolean;
  tlsEstablished: boolean;
  sni: string | null;
  alpn: string | null;
  alpnOffers: string[] | null;
  tlsVersion: string | null;
  cipher: string | null;
  timestampStart: number | null;
  timestampTcpSetup: number | null;
  timestampTlsSetup: number | null;
  timestampEnd: number | null;
  error: string | null;
  /** Leaf first. */
  certificates: Certificate[];
}

export interface WebSocketFacts {
  messages: WireMessage[];
  closedByClient: boolean | null;
  closeCode: number | null;
  closeReason: string | null;
  timestampEnd: number | null;
}

/** A flow in full, for the detail view; bodies are fetched apart. */
export interface FlowDetail {
  summary: FlowSummary;
  request: RequestHead | null;
  response: ResponseHead | null;
  timings: Timings;
  client: ClientFacts;
  server: ServerFacts | null;
  websocket: WebSocketFacts | null;
  tcpMessages: WireMessage[] | null;
  error: { msg: string; timestamp: number } | null;
  /** A JSON-safe view of the flow's metadata. */
  metadata: Record<string, unknown>;
}

export interface OptionInfo {
  /** snake_case, as --set takes it. */
  name: string;
  type: "bool" | "string" | "optional-string" | "number" | "strings";
  default: unknown;
  value: unknown;
  help: string;
  choices: string[] | null;
  owner: string | null;
  /** A password: its value comes masked, never the real one. */
  secret: boolean;
}

/** A line of a log: the proxy's event log, or an addon's own. */
export interface LogLine {
  level: "error" | "warn" | "info" | "debug";
  message: string;
  addon?: string;
  timestamp: number;
}

/** An entry of the proxy's event log. */
export interface LogEntry extends LogLine {
  /** The entry's number since the UI started, from 1: a page that loads the list while updates come tells the two apart by it. */
  seq: number;
}

export interface AddonInfo {
  name: string;
  parent: string | null;
  kind: "built-in" | "script" | "package";
  source: string | null;
  hooks: string[];
  /** snake_case option names. */
  options: string[];
  loadedAt: number | null;
  reloadable: boolean;
  lastError: {
    message: string;
    file: string | null;
    line: number | null;
    column: number | null;
    timestamp: number;
  } | null;
  log: LogLine[];
}

export interface ServerState {
  version: string;
  sdkVersion: string;
  flowCount: number;
  maxFlows: number;
  intercept: string | null;
  /** Body bytes the store keeps in memory and on disk. */
  store: { flows: number; inlineBytes: number; diskBytes: number; diskSegments: number };
  /** The process's memory, in bytes. */
  memory: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
}

/**
 * A time in a batch of rows: a number is milliseconds after the batch's `base`; a string is
 * seconds since the epoch, for a time that is not a whole millisecond (a flow read from a file).
 * A time that is not finite is null, as in the summaries of `/api/flows`.
 */
export type RowTime = number | string | null;

/** A connection that rows of one batch share: [tls, sni, client host, client port, server host, server port]. */
export type RowConnection = [
  tls: boolean,
  sni: string | null,
  clientHost: string,
  clientPort: number,
  serverHost: string,
  serverPort: number,
];

/** What most flows leave unset: a row carries it only when one of them is set. */
export interface RowRare {
  replayed?: "request" | "response";
  marked?: string;
  comment?: string;
  error?: string;
  killed?: true;
}

/**
 * A finished HTTP flow's summary as the live updates carry it (API.md, `flows/rows`): the
 * proxy writes it from the flow as its store keeps it, and the client makes the FlowSummary
 * (addons/web/ui/lib/summary-row.ts). Small whole numbers where it can (times, body states,
 * the connection), since those are what JSON writes and reads fastest: ~190 bytes a row.
 */
export type SummaryRow = [
  id: string,
  /** method, scheme, host, path, form, HTTP version, then each request field's name and value; with a response, its reason, HTTP version, fields: all joined by DEL (0x7f). */
  heads: string,
  requestFields: number,
  /** -1: no response. */
  responseFields: number,
  port: number,
  status: number | null,
  timestampCreated: RowTime,
  timestampStart: RowTime,
  timestampEnd: RowTime,
  requestSize: number | null,
  responseSize: number | null,
  /** Index in BODY_STATES (ui/lib/summary-row.ts). */
  requestBody: number,
  responseBody: number,
  /** Index in the batch's `conns`. */
  connection: number,
  rare?: RowRare,
];

/** Rows of finished flows, with what they share. */
export interface RowBatch {
  /** Milliseconds since the epoch that the rows' times count from. */
  base: number;
  conns: RowConnection[];
  rows: SummaryRow[];
}

/** One live update of the WebSocket `/api/updates` (each message is an array of them). */
export type Update =
  | { type: "flows/add"; data: FlowSummary }
  | { type: "flows/update"; data: FlowSummary }
  | { type: "flows/rows"; data: RowBatch }
  | { type: "flows/removed"; data: { ids: string[] } }
  | { type: "flows/reset"; data: Record<string, never> }
  | { type: "events/add"; data: LogEntry }
  | { type: "options/update"; data: OptionInfo[] }
  | { type: "addons/update"; data: AddonInfo[] };
