// A flow as the UI's list and its in-browser filter see it: heads and facts, no bodies
// (addons/web/API.md; the type is FlowSummary of ../api-types.ts).
import type { AnyFlow, Headers, HTTPFlow, Request, Response, TCPFlow } from "@interloper/sdk";
import type { BodyState, Fields, FlowSummary } from "../api-types.ts";
import { prettyUrl } from "../ui/lib/summary-row.ts";

/** What the store knows of a flow's bodies beyond the flow object (kept on disk, dropped). */
export interface BodyFacts {
  request: BodyState;
  response: BodyState;
  /** Sizes of bodies the flow object no longer holds. */
  requestSize?: number;
  responseSize?: number;
}

/** The state of a body the flow object holds itself. */
export function heldBodyState(message: Request | Response | undefined): BodyState {
  return message ? bodyState(message.body.length, message.stream) : "none";
}

/** The state of a body of `length` bytes held with its message (a packed flow's too). */
export function bodyState(length: number, stream: boolean): BodyState {
  if (length > 0) return "memory";
  return stream ? "streamed" : "none";
}

/** The size a summary shows: the `held` bytes, unless the body is kept apart (`kept` bytes) or streamed (unknown). */
export function shownSize(state: BodyState, kept: number | undefined, held: number): number | null {
  if (state === "streamed") return null;
  if (state === "disk" || state === "dropped") return kept ?? null;
  return held;
}

export function summarize(flow: AnyFlow, bodies: BodyFacts): FlowSummary {
  if (flow.type === "tcp") return summarizeTcp(flow, bodies);
  return summarizeHttp(flow, bodies);
}

// Each summary is one object literal with every field in the same order (no spreads): the
// server makes one per flow for every batch of updates, and V8 keeps them all one shape.

function summarizeHttp(flow: HTTPFlow, bodies: BodyFacts): FlowSummary {
  const req = flow.request;
  const res = flow.response;
  const { client, server } = flow;
  const prettyHost = req.prettyHost;
  return {
    id: flow.id,
    type: flow.websocket ? "ws" : "http",
    protocol: req.httpVersion.startsWith("HTTP/2") ? "h2" : "h1",
    httpVersion: req.httpVersion,
    method: req.method,
    scheme: req.scheme,
    host: req.host,
    prettyHost,
    port: req.port,
    path: req.path,
    url: prettyUrl(req.method, req.form, req.scheme, req.host, prettyHost, req.port, req.path),
    status: res ? res.status : null,
    reason: res ? res.reason : null,
    requestSize: shownSize(bodies.request, bodies.requestSize, req.body.length),
    responseSize: res ? shownSize(bodies.response, bodies.responseSize, res.body.length) : null,
    requestContentType: req.headers.get("content-type"),
    responseContentType: res ? res.headers.get("content-type") : null,
    requestHeaders: fields(req.headers),
    responseHeaders: res ? fields(res.headers) : null,
    timestampCreated: flow.timestampCreated,
    timestampStart: req.timestampStart,
    timestampEnd: flow.websocket?.timestampEnd ?? res?.timestampEnd ?? flow.error?.timestamp ?? null,
    tls: client.tlsEstablished,
    sni: client.sni ?? null,
    client: { host: client.peername.host, port: client.peername.port },
    server: { host: server.address.host, port: server.address.port },
    live: flow.live,
    intercepted: flow.intercepted,
    replayed: flow.isReplay ?? null,
    marked: flow.marked,
    comment: flow.comment,
    error: flow.error ? flow.error.msg : null,
    killed: flow.killed,
    messageCount: flow.websocket ? flow.websocket.messages.length : 0,
    bodies: { request: bodies.request, response: bodies.response },
  };
}

function summarizeTcp(flow: TCPFlow, bodies: BodyFacts): FlowSummary {
  const { client, server } = flow;
  return {
    id: flow.id,
    type: "tcp",
    protocol: "tcp",
    httpVersion: null,
    method: null,
    scheme: null,
    host: server.address.host,
    prettyHost: null,
    port: server.address.port,
    path: null,
    url: null,
    status: null,
    reason: null,
    requestSize: null,
    responseSize: null,
    requestContentType: null,
    responseContentType: null,
    requestHeaders: null,
    responseHeaders: null,
    timestampCreated: flow.timestampCreated,
    timestampStart: client.timestampStart,
    timestampEnd: server.timestampEnd ?? client.timestampEnd ?? flow.error?.timestamp ?? null,
    tls: client.tlsEstablished,
    sni: client.sni ?? null,
    client: { host: client.peername.host, port: client.peername.port },
    server: { host: server.address.host, port: server.address.port },
    live: flow.live,
    intercepted: flow.intercepted,
    replayed: flow.isReplay ?? null,
    marked: flow.marked,
    comment: flow.comment,
    error: flow.error ? flow.error.msg : null,
    killed: flow.killed,
    messageCount: flow.messages.length,
    bodies: { request: bodies.request, response: bodies.response },
  };
}

/** The fields themselves, not a copy: a summary is serialised at once and never kept. */
function fields(headers: Headers): Fields {
  return headers.fields;
}
