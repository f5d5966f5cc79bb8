/**
 * Filter expressions over flow summaries, in the browser: the sdk's own
 * filter compiler (the CLI's parser and matchers, bundled) run on a small
 * stand-in for each flow made from its summary. Summaries carry heads, not
 * bodies, so an expression that reads bodies or metadata (`~b`, `~bq`, `~bs`,
 * `~meta`) is left to the server (`POST /api/filter/match`).
 */
import { compileFilter, FilterError, parseFilter, type AnyFlow, type FilterNode } from "@interloper/sdk";

/** The part of a flow summary (API.md's FlowSummary) a filter reads. */
export interface FilterableSummary {
  id: string;
  type: "http" | "ws" | "tcp";
  method: string | null;
  scheme: "http" | "https" | null;
  host: string;
  port: number;
  path: string | null;
  status: number | null;
  requestHeaders: [string, string][] | null;
  responseHeaders: [string, string][] | null;
  client: { host: string; port: number };
  server: { host: string; port: number } | null;
  replayed: "request" | "response" | null;
  marked: string;
  comment: string;
  error: string | null;
}

/** Operators whose subject is not in a summary: the server evaluates expressions that use them. */
export const SERVER_OPERATORS: ReadonlySet<string> = new Set(["~b", "~bq", "~bs", "~meta"]);

export type ViewFilter =
  | { kind: "all"; source: "" }
  | { kind: "local"; source: string; test: (flow: AnyFlow) => boolean }
  | { kind: "server"; source: string }
  | { kind: "error"; source: string; message: string; column: number };

/** An expression compiled for the flow list: empty matches all, a syntax error says where. */
export function compileViewFilter(expr: string): ViewFilter {
  if (expr.trim() === "") return { kind: "all", source: "" };
  try {
    const test = compileFilter(expr);
    if (usesOperator(parseFilter(expr), SERVER_OPERATORS)) return { kind: "server", source: expr };
    return { kind: "local", source: expr, test };
  } catch (err) {
    if (err instanceof FilterError) return { kind: "error", source: expr, message: err.reason, column: err.column };
    return { kind: "error", source: expr, message: err instanceof Error ? err.message : String(err), column: 1 };
  }
}

function usesOperator(node: FilterNode, operators: ReadonlySet<string>): boolean {
  switch (node.kind) {
    case "and":
    case "or":
      return node.items.some((item) => usesOperator(item, operators));
    case "not":
      return usesOperator(node.item, operators);
    case "operator":
      return operators.has(node.operator);
  }
}

/**
 * The stand-in the sdk's matchers read: the fields they use, taken from the
 * summary. Made once per summary version, then reused by every filter.
 */
export function filterable(s: FilterableSummary): AnyFlow {
  const http = s.type !== "tcp";
  const flow = {
    id: s.id,
    type: http ? "http" : "tcp",
    request: http
      ? {
          method: s.method ?? "",
          scheme: s.scheme ?? "http",
          host: s.host,
          port: s.port,
          path: s.path ?? "",
          form: "origin",
          headers: { fields: s.requestHeaders ?? [] },
        }
      : undefined,
    response:
      http && s.status !== null ? { status: s.status, headers: { fields: s.responseHeaders ?? [] } } : undefined,
    websocket: s.type === "ws" ? { messages: [] } : undefined,
    messages: [],
    error: s.error !== null ? { msg: s.error, timestamp: 0 } : undefined,
    marked: s.marked,
    comment: s.comment,
    isReplay: s.replayed ?? undefined,
    metadata: {},
    client: { peername: s.client },
    server: s.server ? { address: s.server } : undefined,
  };
  return flow as unknown as AnyFlow;
}
