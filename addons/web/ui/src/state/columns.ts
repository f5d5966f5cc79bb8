/** The flow list's columns: title, width, the text of a cell and the key it sorts by. */
import { formatDuration, formatSize, formatTime } from "../../lib/format.ts";
import type { SortKey } from "../../lib/sort.ts";
import type { FlowSummary } from "../types.ts";

export type ColumnId =
  "markers" | "time" | "method" | "host" | "path" | "status" | "type" | "protocol" | "tls" | "size" | "duration";

export interface Column {
  id: ColumnId;
  title: string;
  /** CSS width (the path column takes what is left). */
  width: string;
  align?: "right" | "center";
  text: (s: FlowSummary) => string;
  sortKey: (s: FlowSummary) => SortKey;
}

export function duration(s: FlowSummary): number | null {
  return s.timestampEnd === null ? null : s.timestampEnd - s.timestampStart;
}

export function typeLabel(s: FlowSummary): string {
  return s.type === "ws" ? "websocket" : s.type;
}

export function protocolLabel(s: FlowSummary): string {
  return s.type === "ws" ? "ws" : s.protocol;
}

/** Markers as a sort key: intercepted first, then errored, marked, replayed. */
function markerRank(s: FlowSummary): number {
  return (s.intercepted ? 8 : 0) + (s.error !== null ? 4 : 0) + (s.marked ? 2 : 0) + (s.replayed ? 1 : 0);
}

export const COLUMNS: readonly Column[] = [
  { id: "markers", title: "", width: "34px", align: "center", text: () => "", sortKey: (s) => -markerRank(s) },
  {
    id: "time",
    title: "Time",
    width: "100px",
    text: (s) => formatTime(s.timestampStart),
    sortKey: (s) => s.timestampStart,
  },
  { id: "method", title: "Method", width: "70px", text: (s) => s.method ?? "TCP", sortKey: (s) => s.method ?? "" },
  { id: "host", title: "Host", width: "190px", text: (s) => hostText(s), sortKey: (s) => hostText(s) },
  { id: "path", title: "Path", width: "auto", text: (s) => s.path ?? "", sortKey: (s) => s.path ?? "" },
  {
    id: "status",
    title: "Status",
    width: "56px",
    align: "right",
    text: (s) => (s.status !== null ? String(s.status) : s.intercepted ? "held" : s.error !== null ? "ERR" : ""),
    sortKey: (s) => s.status,
  },
  {
    id: "type",
    title: "Type",
    width: "76px",
    text: (s) => contentTypeShort(s) || typeLabel(s),
    sortKey: (s) => contentTypeShort(s) || typeLabel(s),
  },
  { id: "protocol", title: "Proto", width: "52px", align: "center", text: protocolLabel, sortKey: protocolLabel },
  {
    id: "tls",
    title: "TLS",
    width: "40px",
    align: "center",
    text: (s) => (s.tls ? "✓" : ""),
    sortKey: (s) => (s.tls ? 1 : 0),
  },
  {
    id: "size",
    title: "Size",
    width: "72px",
    align: "right",
    text: (s) => formatSize(s.responseSize ?? (s.type === "tcp" ? s.requestSize : null)),
    sortKey: (s) => s.responseSize,
  },
  {
    id: "duration",
    title: "Duration",
    width: "72px",
    align: "right",
    text: (s) => formatDuration(duration(s)),
    sortKey: duration,
  },
];

/** Columns given up first when the list is narrow (the detail pane open, a small window). */
const DROP_ORDER: ColumnId[] = ["time", "tls", "protocol", "type", "duration", "host"];
const PATH_MIN = 160;

/** The columns that fit `width` pixels, the path keeping at least PATH_MIN. */
export function fitColumns(width: number): readonly Column[] {
  let columns = [...COLUMNS];
  const fixed = (): number =>
    columns.reduce((sum, c) => sum + (c.width === "auto" ? PATH_MIN : parseInt(c.width, 10)), 0);
  for (const id of DROP_ORDER) {
    if (fixed() <= width) break;
    columns = columns.filter((c) => c.id !== id);
  }
  return columns;
}

function hostText(s: FlowSummary): string {
  const host = s.prettyHost ?? s.host;
  const def = s.scheme === "https" ? 443 : 80;
  return s.port === def || s.type === "tcp" ? (s.type === "tcp" ? `${host}:${s.port}` : host) : `${host}:${s.port}`;
}

/** The response's media subtype, short (`json`, `html`, `png`), for the Type column. */
export function contentTypeShort(s: FlowSummary): string {
  const type = (s.responseContentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "") return "";
  const sub = type.split("/")[1] ?? type;
  return sub
    .replace(/^x-/, "")
    .replace(/\+.*$/, "")
    .replace(/^vnd\..*/, "binary");
}
