/**
 * FlowSummaries from the rows the live updates carry (`flows/rows`, RowBatch in api-types.ts).
 * The proxy writes a finished flow's row straight from its packed form, without making the flow
 * or the summary object, and the browser does the rest here. Rows share their connections' facts,
 * and their times count from the batch's base, which makes them cheap to write and to parse
 * (~190 bytes and ~0.9 µs of JSON.parse a row, against ~310 and ~1.6 µs with every field spelt
 * out: bench V). Fed the same flow, this and the server's summarize() give equal summaries
 * (web-summary-row test).
 */
import type { Address, BodyState, Fields, FlowSummary, RowBatch, RowTime, SummaryRow } from "../../api-types.ts";

/** Between the parts of a row's heads (a byte no method, URL, version, reason or field holds: RFC 9110 §5.5). */
export const HEADS_SEPARATOR = "\x7f";

/** A row's body states, by their index. */
export const BODY_STATES: readonly BodyState[] = ["none", "memory", "disk", "streamed", "dropped"];

/** A connection's facts as the summaries of one batch share them. */
interface Connection {
  tls: boolean;
  sni: string | null;
  client: Address;
  server: Address;
}

/** The summaries of a batch's rows, in order. */
export function summariesOfRows(batch: RowBatch): FlowSummary[] {
  const conns: Connection[] = batch.conns.map(([tls, sni, clientHost, clientPort, serverHost, serverPort]) => ({
    tls,
    sni,
    client: { host: clientHost, port: clientPort },
    server: { host: serverHost, port: serverPort },
  }));
  return batch.rows.map((row) => summaryOfRow(row, batch.base, conns[row[13]]!));
}

function summaryOfRow(row: SummaryRow, base: number, conn: Connection): FlowSummary {
  const [id, heads, requestFields, responseFields, port, status] = row;
  const parts = heads.split(HEADS_SEPARATOR);
  const method = parts[0]!;
  const scheme = parts[1] as "http" | "https";
  const host = parts[2]!;
  const path = parts[3]!;
  const form = parts[4]!;
  const httpVersion = parts[5]!;
  const requestHeaders = pairs(parts, 6, requestFields);
  const from = 6 + 2 * requestFields;
  const responseHeaders = responseFields >= 0 ? pairs(parts, from + 2, responseFields) : null;
  const prettyHost = prettyHostOf(host, fieldValue(requestHeaders, "host"));
  const rare = row[14];
  return {
    id,
    type: "http",
    protocol: httpVersion.startsWith("HTTP/2") ? "h2" : "h1",
    httpVersion,
    method,
    scheme,
    host,
    prettyHost,
    port,
    path,
    url: prettyUrl(method, form, scheme, host, prettyHost, port, path),
    status,
    reason: responseHeaders ? parts[from]! : null,
    requestSize: row[9],
    responseSize: row[10],
    requestContentType: fieldValue(requestHeaders, "content-type"),
    responseContentType: responseHeaders ? fieldValue(responseHeaders, "content-type") : null,
    requestHeaders,
    responseHeaders,
    // A time that is not finite is null here as in /api/flows' JSON, whatever the type says.
    timestampCreated: timeOf(row[6], base) as number,
    timestampStart: timeOf(row[7], base) as number,
    timestampEnd: timeOf(row[8], base),
    tls: conn.tls,
    sni: conn.sni,
    client: conn.client,
    server: conn.server,
    live: false,
    intercepted: false,
    replayed: rare?.replayed ?? null,
    marked: rare?.marked ?? "",
    comment: rare?.comment ?? "",
    error: rare?.error ?? null,
    killed: rare?.killed ?? false,
    messageCount: 0,
    bodies: { request: BODY_STATES[row[11]]!, response: BODY_STATES[row[12]]! },
  };
}

/** Seconds since the epoch, as the proxy had them (see RowTime). */
function timeOf(t: RowTime, base: number): number | null {
  if (t === null) return null;
  return typeof t === "number" ? (base + t) / 1000 : Number(t);
}

/**
 * `request.prettyUrl` of the sdk from the request's parts and its pretty host: the URL the log
 * prints, with the Host header's name in place of the address.
 */
export function prettyUrl(
  method: string,
  form: string,
  scheme: string,
  host: string,
  prettyHost: string,
  port: number,
  path: string,
): string {
  if (method === "CONNECT" && form === "authority") return `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const shown = prettyHost.includes(":") ? `[${prettyHost}]` : prettyHost;
  const def = scheme === "https" ? 443 : 80;
  return `${scheme}://${shown}${port === def ? "" : `:${port}`}${path}`;
}

/**
 * `request.prettyHost` of the sdk: the Host header's name (an IPv6 literal without brackets),
 * else the host. By hand, not by a regular expression: it runs for every row the browser gets.
 */
export function prettyHostOf(host: string, hostField: string | null): string {
  if (!hostField) return host;
  if (hostField.startsWith("[")) {
    const close = hostField.indexOf("]");
    if (close > 1) return hostField.slice(1, close);
  }
  const colon = hostField.indexOf(":");
  if (colon === 0) return host;
  return colon < 0 ? hostField : hostField.slice(0, colon);
}

/** `headers.get(name)` of the sdk: every value of the field, joined by ", "; null when absent. */
function fieldValue(fields: Fields, lowerName: string): string | null {
  let found: string | null = null;
  for (const [k, v] of fields)
    if (k.length === lowerName.length && k.toLowerCase() === lowerName) found = found === null ? v : `${found}, ${v}`;
  return found;
}

function pairs(parts: string[], at: number, count: number): Fields {
  const out: Fields = new Array<[string, string]>(count);
  for (let i = 0; i < count; i++) out[i] = [parts[at + 2 * i]!, parts[at + 2 * i + 1]!];
  return out;
}
