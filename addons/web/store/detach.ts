// The flow the store keeps once the proxy is done with it: a new flow object sharing the
// finished flow's parts (connections, messages, headers) but not its tie to the connection
// that carried it (a live flow's `kill` holds the whole exchange: sockets, streams, parsers).
// A body the store keeps elsewhere (on disk) is left out of the kept messages.
import { HTTPFlow, Request, Response, TCPFlow, type AnyFlow } from "@interloper/sdk";

/** Which bodies the kept flow should leave out. */
export interface LeaveOut {
  requestBody: boolean;
  responseBody: boolean;
}

const KEEP_ALL: LeaveOut = { requestBody: false, responseBody: false };

/** The kept form of `flow`: same id and state, not live, no connection behind it. */
export function detach(flow: AnyFlow, leaveOut: LeaveOut = KEEP_ALL): AnyFlow {
  if (flow.type === "tcp") {
    const kept = new TCPFlow(flow.client, flow.server);
    kept.messages.push(...flow.messages);
    return copyState(flow, kept);
  }
  const request = leaveOut.requestBody ? requestWithBody(flow.request, undefined) : flow.request;
  const kept = new HTTPFlow(flow.client, flow.server, request);
  const response = flow.response;
  kept.response = response && leaveOut.responseBody ? responseWithBody(response, undefined) : response;
  kept.websocket = flow.websocket;
  return copyState(flow, kept);
}

/** A copy of `request` with `body` instead of its own (its fields and framing as they are). */
export function requestWithBody(request: Request, body: Buffer | undefined): Request {
  const { method, scheme, host, port, path, form, headers, httpVersion } = request;
  const out = new Request({ method, scheme, host, port, path, form, headers, httpVersion, body });
  out.trailers = request.trailers;
  out.stream = request.stream;
  out.timestampStart = request.timestampStart;
  out.timestampEnd = request.timestampEnd;
  return out;
}

/** A copy of `response` with `body` instead of its own. */
export function responseWithBody(response: Response, body: Buffer | undefined): Response {
  const { status, reason, headers, httpVersion } = response;
  const out = new Response({ status, reason, headers, httpVersion, body });
  out.trailers = response.trailers;
  out.stream = response.stream;
  out.timestampStart = response.timestampStart;
  out.timestampEnd = response.timestampEnd;
  return out;
}

/** The same flow with other message objects (bodies put back from disk): a shell, not live. */
export function withMessages(flow: HTTPFlow, request: Request, response: Response | undefined): HTTPFlow {
  const out = new HTTPFlow(flow.client, flow.server, request);
  out.response = response;
  out.websocket = flow.websocket;
  return copyState(flow, out);
}

function copyState<T extends AnyFlow>(from: AnyFlow, to: T): T {
  to.id = from.id;
  to.error = from.error;
  to.metadata = from.metadata;
  to.live = false;
  to.killed = from.killed;
  to.marked = from.marked;
  to.comment = from.comment;
  to.isReplay = from.isReplay;
  to.timestampCreated = from.timestampCreated;
  to.carried = from.carried;
  return to;
}
