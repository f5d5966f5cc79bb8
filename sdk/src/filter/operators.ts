/** What follows an operator: nothing, a regular expression, or a whole number. */
export type FilterArgumentKind = "none" | "regex" | "integer";

/** One line of the filter language's help (for `--help` and the web UI). */
export interface FilterOperatorHelp {
  /** `~d`, or one of the combinators `!`, `&`, `|`, `(...)`. */
  readonly operator: string;
  readonly argument: FilterArgumentKind;
  readonly help: string;
}

/**
 * How an operator's regex reads its subject, as in mitmproxy: `bytes` ones
 * search raw bytes (bodies, header lines, the method; ASCII-only case folding
 * and `\w`), the others search text (host, URL, addresses, comment...). Some
 * add Python's MULTILINE or DOTALL flag.
 */
export interface RegexSubject {
  readonly bytes: boolean;
  readonly multiline: boolean;
  readonly dotall: boolean;
}

export interface OperatorSpec extends FilterOperatorHelp {
  readonly regex?: RegexSubject;
}

const BYTES: RegexSubject = { bytes: true, multiline: false, dotall: false };
const BYTE_BODY: RegexSubject = { bytes: true, multiline: false, dotall: true };
const BYTE_LINES: RegexSubject = { bytes: true, multiline: true, dotall: false };
const TEXT: RegexSubject = { bytes: false, multiline: false, dotall: false };
const TEXT_LINES: RegexSubject = { bytes: false, multiline: true, dotall: false };

function flag(operator: string, help: string): OperatorSpec {
  return { operator, argument: "none", help };
}

function rex(operator: string, regex: RegexSubject, help: string): OperatorSpec {
  return { operator, argument: "regex", help, regex };
}

// The operators of mitmproxy's current flowfilter.py, with help texts of our own. Since 8.1.1 it
// gained ~udp; its regexes all ignore case now (8.1.1: only ~d and ~m), and the body operators
// search empty bodies too (8.1.1 skipped them). We follow today's.
const SPECS: readonly OperatorSpec[] = [
  flag("~a", "Asset in the response: JavaScript, CSS, image or font (by its Content-Type)"),
  flag("~all", "Every flow"),
  rex("~b", BYTE_BODY, "Body of the request or response (decoded), or any WebSocket or TCP message"),
  rex("~bq", BYTE_BODY, "Request body (decoded), or a WebSocket or TCP message from the client"),
  rex("~bs", BYTE_BODY, "Response body (decoded), or a WebSocket or TCP message from the server"),
  { operator: "~c", argument: "integer", help: "Response status code" },
  rex("~comment", TEXT_LINES, "The flow's comment"),
  rex("~d", TEXT, "Domain: the request's host or its Host header"),
  flag("~dns", "DNS flows (interloper has none: never matches)"),
  rex("~dst", TEXT, "Destination address, host:port"),
  flag("~e", "Flows with an error"),
  rex("~h", BYTE_LINES, 'A header line ("name: value") of the request or response'),
  rex("~hq", BYTE_LINES, 'A request header line ("name: value")'),
  rex("~hs", BYTE_LINES, 'A response header line ("name: value")'),
  flag("~http", "HTTP flows (WebSocket flows included)"),
  rex("~m", BYTES, "Request method"),
  flag("~marked", "Marked flows"),
  rex("~marker", TEXT, "The mark of a marked flow (e.g. :default:)"),
  rex("~meta", TEXT_LINES, 'Flow metadata, one "key: value" line per entry'),
  flag("~q", "HTTP flows without a response yet"),
  flag("~replay", "Flows made by client or server replay"),
  flag("~replayq", "Requests sent by client replay"),
  flag("~replays", "Responses given by server replay"),
  flag("~s", "HTTP flows with a response"),
  rex("~src", TEXT, "Client (source) address, host:port"),
  rex("~t", BYTES, "Content-Type of the request or response"),
  flag("~tcp", "TCP flows"),
  rex("~tq", BYTES, "Content-Type of the request"),
  rex("~ts", BYTES, "Content-Type of the response"),
  rex("~u", TEXT, "URL (a regex on its own means the same)"),
  flag("~udp", "UDP flows (interloper has none: never matches)"),
  flag("~websocket", "WebSocket flows"),
];

/** Operators by name (`~d`). */
export const OPERATOR_SPECS: ReadonlyMap<string, OperatorSpec> = new Map(SPECS.map((s) => [s.operator, s]));

const COMBINATORS: readonly FilterOperatorHelp[] = [
  { operator: "!", argument: "none", help: "Not: the expression that follows does not match" },
  { operator: "&", argument: "none", help: "And (binds tighter than |; expressions side by side also mean and)" },
  { operator: "|", argument: "none", help: "Or" },
  { operator: "(...)", argument: "none", help: "Grouping" },
];

/**
 * Every operator of the filter language with its argument and a one-line
 * help, operators first (sorted, as mitmproxy lists them), then `!`, `&`, `|`
 * and `(...)`. For `--help` and the web UI.
 */
export const FILTER_OPERATORS: readonly FilterOperatorHelp[] = Object.freeze(
  [
    ...[...SPECS]
      .sort((a, b) => (a.operator < b.operator ? -1 : 1))
      .map(({ operator, argument, help }) => ({ operator, argument, help })),
    ...COMBINATORS,
  ].map((entry) => Object.freeze(entry)),
);
