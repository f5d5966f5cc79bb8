import type { AnyFlow, TCPMessage, WebSocketMessage } from "../flow.ts";
import type { Headers } from "../headers.ts";
import { isField } from "./header-fields.ts";
import type { Matcher } from "./literal-search.ts";
import { pythonStr } from "./python-str.ts";
import { prettyHost, prettyUrl } from "./request-url.ts";
import { messageText, requestBody, requestHead, responseBody, responseHead, type Memo } from "./subjects.ts";

/** One operator, compiled: whether the flow matches. */
export type Predicate = (flow: AnyFlow, memo: Memo) => boolean;

const always: Predicate = () => true;
const never: Predicate = () => false;

/**
 * mitmproxy's asset types (`text/javascript`, `application/x-javascript`,
 * `application/javascript`, `text/css`, `image/.*`, `font/.*`,
 * `application/font.*`), searched case-sensitively in a Content-Type value:
 * looked for around each `/`, which is cheaper than a regex per response.
 */
function isAsset(value: string): boolean {
  for (let slash = value.indexOf("/"); slash !== -1; slash = value.indexOf("/", slash + 1)) {
    if (value.startsWith("image", slash - 5) || value.startsWith("font", slash - 4)) return true;
    if (value.startsWith("text", slash - 4)) {
      if (value.startsWith("javascript", slash + 1) || value.startsWith("css", slash + 1)) return true;
    } else if (value.startsWith("application", slash - 11)) {
      const type = slash + 1;
      if (value.startsWith("javascript", type) || value.startsWith("x-javascript", type)) return true;
      if (value.startsWith("font", type)) return true;
    }
  }
  return false;
}

function contentTypeMatches(test: Matcher, headers: Headers): boolean {
  for (const [name, value] of headers.fields) {
    if (isField(name, "content-type") && test(value)) return true;
  }
  return false;
}

/** Operators without an argument. */
export const FLAG_PREDICATES: Readonly<Record<string, Predicate>> = {
  "~a": (f) => f.type === "http" && f.response !== undefined && contentTypeMatches(isAsset, f.response.headers),
  "~all": always,
  "~dns": never,
  "~e": (f) => f.error !== undefined && f.error !== null,
  "~http": (f) => f.type === "http",
  "~marked": (f) => !!f.marked,
  "~q": (f) => f.type === "http" && !f.response,
  "~replay": (f) => f.isReplay !== undefined && f.isReplay !== null,
  "~replayq": (f) => f.isReplay === "request",
  "~replays": (f) => f.isReplay === "response",
  "~s": (f) => f.type === "http" && f.response !== undefined && f.response !== null,
  "~tcp": (f) => f.type === "tcp",
  "~udp": never,
  "~websocket": (f) => f.type === "http" && f.websocket !== undefined && f.websocket !== null,
};

export function statusPredicate(code: number): Predicate {
  return (f) => f.type === "http" && f.response?.status === code;
}

type Side = "both" | "client" | "server";

function messagesMatch(
  rx: Matcher,
  messages: readonly (WebSocketMessage | TCPMessage)[],
  side: Side,
  memo: Memo,
): boolean {
  for (let i = 0; i < messages.length; i++) {
    const fromClient = messages[i]!.fromClient;
    if ((side === "client" && !fromClient) || (side === "server" && fromClient)) continue;
    if (rx(messageText(messages, i, memo))) return true;
  }
  return false;
}

/**
 * `~b`, `~bq`, `~bs`: the decoded request and/or response body, then the
 * WebSocket messages (of that side); for TCP flows the messages. As in today's
 * mitmproxy an empty body is searched too (8.1.1 skipped empty bodies).
 */
function bodyPredicate(rx: Matcher, side: Side): Predicate {
  return (f, memo) => {
    if (f.type === "tcp") return messagesMatch(rx, f.messages, side, memo);
    if (side !== "server") {
      const body = requestBody(f.request, memo);
      if (body !== null && rx(body)) return true;
    }
    if (side !== "client" && f.response) {
      const body = responseBody(f.response, memo);
      if (body !== null && rx(body)) return true;
    }
    return f.websocket ? messagesMatch(rx, f.websocket.messages, side, memo) : false;
  };
}

/** A string field as text, even when JavaScript code left something else in it (as Python's str() would). */
function text(value: unknown): string {
  return typeof value === "string" ? value : value === undefined ? "" : pythonStr(value);
}

function address(a: { host: string; port: number } | undefined): string | undefined {
  return a ? `${a.host}:${a.port}` : undefined;
}

/** Operators whose argument is a regex, given it compiled (to a Matcher) for the operator's subject. */
export const REGEX_PREDICATES: Readonly<Record<string, (test: Matcher) => Predicate>> = {
  "~b": (rx) => bodyPredicate(rx, "both"),
  "~bq": (rx) => bodyPredicate(rx, "client"),
  "~bs": (rx) => bodyPredicate(rx, "server"),
  "~comment": (rx) => (f) => rx(text(f.comment)),
  "~d": (rx) => (f) => f.type === "http" && (rx(f.request.host) || rx(prettyHost(f.request))),
  "~dst": (rx) => (f) => {
    const text = address(f.server?.address);
    return text !== undefined && rx(text);
  },
  "~h": (rx) => (f, memo) =>
    f.type === "http" &&
    (rx(requestHead(f.request, memo)) || (f.response !== undefined && rx(responseHead(f.response, memo)))),
  "~hq": (rx) => (f, memo) => f.type === "http" && rx(requestHead(f.request, memo)),
  "~hs": (rx) => (f, memo) => f.type === "http" && f.response !== undefined && rx(responseHead(f.response, memo)),
  "~m": (rx) => (f) => f.type === "http" && rx(f.request.method),
  "~marker": (rx) => (f) => rx(text(f.marked)),
  "~meta": (rx) => (f) => rx(metadataText(f.metadata)),
  "~src": (rx) => (f) => {
    const text = address(f.client?.peername);
    return text !== undefined && rx(text);
  },
  "~t": (rx) => (f) =>
    f.type === "http" &&
    (contentTypeMatches(rx, f.request.headers) ||
      (f.response !== undefined && contentTypeMatches(rx, f.response.headers))),
  "~tq": (rx) => (f) => f.type === "http" && contentTypeMatches(rx, f.request.headers),
  "~ts": (rx) => (f) => f.type === "http" && f.response !== undefined && contentTypeMatches(rx, f.response.headers),
  "~u": (rx) => (f) => f.type === "http" && rx(prettyUrl(f.request)),
};

/** mitmproxy's metadata text: a `key: value` line per entry, values as Python's str() writes them. */
function metadataText(metadata: Record<string, unknown> | undefined): string {
  const lines: string[] = [];
  for (const key of Object.keys(metadata ?? {})) lines.push(`${key}: ${pythonStr(metadata![key])}`);
  return lines.join("\n");
}

/** Operators that read bodies or header blocks: their filters get a fresh Memo per evaluation. */
export const MEMO_OPERATORS: ReadonlySet<string> = new Set(["~b", "~bq", "~bs", "~h", "~hq", "~hs"]);
