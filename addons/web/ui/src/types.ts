/** The server's JSON shapes, as addons/web/API.md describes them. */

export type Fields = [string, string][];
export type BodyState = "none" | "memory" | "disk" | "streamed" | "dropped";

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
  client: { host: string; port: number };
  server: { host: string; port: number } | null;
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

export interface Address {
  host: string;
  port: number;
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
  scheme: string;
  host: string;
  port: number;
  path: string;
  url: string;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

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
  timestampStart: number | null;
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
  certificates: Certificate[];
}

export interface FlowDetail {
  summary: FlowSummary;
  request: RequestHead | null;
  response: ResponseHead | null;
  timings: Timings;
  client: ClientFacts;
  server: ServerFacts | null;
  websocket: {
    messages: WireMessage[];
    closedByClient: boolean | null;
    closeCode: number | null;
    closeReason: string | null;
    timestampEnd: number | null;
  } | null;
  tcpMessages: WireMessage[] | null;
  error: { msg: string; timestamp: number } | null;
  metadata: Record<string, unknown>;
}

export interface OptionInfo {
  name: string;
  type: "bool" | "string" | "optional-string" | "number" | "strings";
  default: unknown;
  value: unknown;
  help: string;
  choices: string[] | null;
  owner: string | null;
}

export interface LogEntry {
  level: "error" | "warn" | "info" | "debug";
  message: string;
  addon?: string;
  timestamp: number;
}

export interface AddonInfo {
  name: string;
  parent: string | null;
  kind: "built-in" | "script" | "package";
  source: string | null;
  hooks: string[];
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
  log: LogEntry[];
}

export interface ServerState {
  version: string;
  sdkVersion: string;
  flowCount: number;
  maxFlows: number;
  intercept: string | null;
}

export type Update =
  | { type: "flows/add"; data: FlowSummary }
  | { type: "flows/update"; data: FlowSummary }
  | { type: "flows/remove"; data: { id: string } }
  | { type: "flows/reset"; data: Record<string, never> }
  | { type: "events/add"; data: LogEntry }
  | { type: "options/update"; data: OptionInfo[] }
  | { type: "addons/update"; data: AddonInfo[] };
