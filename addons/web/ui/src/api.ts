/**
 * The REST calls of addons/web/API.md. The page's cookie (set when the
 * printed address was opened) authenticates every call; an error answer's
 * `{error}` line becomes the thrown Error's message.
 */
import type { AddonInfo, FlowDetail, FlowSummary, LogEntry, OptionInfo, ServerState } from "./types.ts";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown, raw?: BodyInit, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (signal) init.signal = signal;
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json: unknown = undefined;
  if (text !== "" && (res.headers.get("content-type") ?? "").includes("json")) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!res.ok) {
    const message = (json as { error?: unknown } | undefined)?.error;
    throw new ApiError(
      typeof message === "string" ? message : `${res.status} ${res.statusText || text.slice(0, 200)}`,
      res.status,
    );
  }
  return (json ?? text) as T;
}

const flowPath = (id: string): string => `/api/flows/${encodeURIComponent(id)}`;

export const api = {
  /** The flow list; given up after `timeoutMs` (a fetch has no bound of its own). */
  flows: (timeoutMs?: number) =>
    call<FlowSummary[]>(
      "GET",
      "/api/flows",
      undefined,
      undefined,
      timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    ),
  flow: (id: string) => call<FlowDetail>("GET", flowPath(id)),
  state: () => call<ServerState>("GET", "/api/state"),
  options: () => call<OptionInfo[]>("GET", "/api/options"),
  setOptions: (values: Record<string, unknown>) => call<{ updated: string[] }>("PUT", "/api/options", values),
  addons: () => call<AddonInfo[]>("GET", "/api/addons"),
  reloadAddon: (name: string) =>
    call<{ ok: boolean; error?: string }>("POST", `/api/addons/${encodeURIComponent(name)}/reload`),
  events: () => call<LogEntry[]>("GET", "/api/events"),
  setIntercept: (filter: string) => call<unknown>("PUT", "/api/intercept", { filter }),
  checkFilter: (expr: string) =>
    call<{ ok: boolean; error?: { message: string; position: number } }>("POST", "/api/filter/check", { expr }),
  matchFilter: (expr: string) => call<{ ids: string[] }>("POST", "/api/filter/match", { expr }),
  action: (id: string, action: "replay" | "duplicate" | "kill" | "resume" | "mark" | "comment", body?: unknown) =>
    call<unknown>("POST", `${flowPath(id)}/${action}`, body),
  edit: (id: string, change: unknown) => call<FlowSummary>("PUT", flowPath(id), change),
  remove: (id: string) => call<unknown>("DELETE", flowPath(id)),
  resumeAll: () => call<unknown>("POST", "/api/flows/resume"),
  killAll: () => call<unknown>("POST", "/api/flows/kill"),
  clear: () => call<unknown>("POST", "/api/clear"),
  exportText: (id: string, format: string) => call<string>("GET", `${flowPath(id)}/export/${format}`),
  openFile: (file: Blob) => call<{ added: number }>("POST", "/api/flows/dump", undefined, file),
};

export function contentUrl(id: string, side: "request" | "response", decode: boolean, download = false): string {
  return `${flowPath(id)}/${side}/content?decode=${decode}${download ? "&download=1" : ""}`;
}

export function exportUrl(id: string, format: string): string {
  return `${flowPath(id)}/export/${format}?download=1`;
}

export function dumpUrl(filter: string): string {
  return filter.trim() === "" ? "/api/flows/dump" : `/api/flows/dump?filter=${encodeURIComponent(filter)}`;
}

/** The first `limit` bytes of a body (a Range request), and its full size when the server says it. */
export async function fetchBody(
  id: string,
  side: "request" | "response",
  decode: boolean,
  limit: number,
): Promise<{ bytes: Uint8Array; total: number | null; contentType: string | null }> {
  const res = await fetch(contentUrl(id, side, decode), {
    credentials: "same-origin",
    headers: { Range: `bytes=0-${limit - 1}` },
  });
  if (res.status === 416) return { bytes: new Uint8Array(0), total: 0, contentType: res.headers.get("content-type") };
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const json = (await res.json()) as { error?: string };
      if (json.error) message = json.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, res.status);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const range = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
  const total = range ? Number(range[1]) : res.status === 200 ? bytes.length : null;
  return {
    bytes: bytes.length > limit ? bytes.subarray(0, limit) : bytes,
    total,
    contentType: res.headers.get("content-type"),
  };
}
