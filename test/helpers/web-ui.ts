// The web UI's API from a test: requests with the token (or without, or with another Host),
// and the live updates over its WebSocket, every wait bounded and woken by what arrives.
import * as http from "node:http";
import WebSocket from "ws";
import type { RowBatch } from "../../addons/web/api-types.ts";
import { summariesOfRows } from "../../addons/web/ui/lib/summary-row.ts";
import type { ProxyProcess } from "./harness.ts";
import { WAIT_MS } from "./harness.ts";

export interface WebUi {
  port: number;
  token: string;
  /** The printed address, with its token. */
  url: string;
}

/** The UI's address as the proxy printed it (`Web UI at http://127.0.0.1:PORT/?token=…`). */
export async function webUiOf(proxy: ProxyProcess): Promise<WebUi> {
  const m = await proxy.waitForOutput(/Web UI at (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+))/);
  return { url: m[1]!, port: Number(m[2]), token: m[3]! };
}

export interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = unknown>(): T;
}

export interface ApiOptions {
  body?: unknown;
  /** Raw bytes to send as they are. */
  raw?: Buffer;
  /** `bearer` (default), `none`, or a cookie header value. */
  auth?: "bearer" | "none" | { cookie: string };
  host?: string;
  headers?: http.OutgoingHttpHeaders;
}

/** One request to the UI's server. */
export function api(ui: WebUi, method: string, path: string, opts: ApiOptions = {}): Promise<ApiAnswer> {
  const headers: http.OutgoingHttpHeaders = { Host: opts.host ?? `127.0.0.1:${ui.port}`, ...opts.headers };
  const auth = opts.auth ?? "bearer";
  if (auth === "bearer") headers.Authorization = `Bearer ${ui.token}`;
  else if (auth !== "none") headers.Cookie = auth.cookie;
  let payload: Buffer | undefined = opts.raw;
  if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers["Content-Type"] = "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: ui.port, method, path, headers, agent: false, setHost: false });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} timed out`)), WAIT_MS);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body,
          json: <T>() => JSON.parse(body.toString("utf8")) as T,
        });
      });
    });
    req.end(payload);
  });
}

export interface Update {
  type: string;
  data: Record<string, unknown>;
}

/** A connection to `/api/updates` that records every update it receives (each row of `flows/rows` as a `flows/row` of its summary, made as the browser makes it). */
export class UpdatesClient {
  readonly updates: Update[] = [];
  /** How many WebSocket messages brought them. */
  messages = 0;
  closed: { code: number } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.messages++;
      for (const u of JSON.parse(data.toString("utf8")) as Update[]) {
        if (u.type !== "flows/rows") this.updates.push(u);
        else
          for (const summary of summariesOfRows(u.data as unknown as RowBatch))
            this.updates.push({ type: "flows/row", data: { ...summary } });
      }
      this.wake();
    });
    ws.on("close", (code: number) => {
      this.closed = { code };
      this.wake();
    });
  }

  /** Opens it (with the token as a Bearer header unless `auth` says otherwise); rejects with the refusal. */
  static open(
    ui: WebUi,
    opts: { origin?: string; auth?: "bearer" | "none"; host?: string } = {},
  ): Promise<UpdatesClient> {
    const headers: Record<string, string> = {};
    if ((opts.auth ?? "bearer") === "bearer") headers.Authorization = `Bearer ${ui.token}`;
    if (opts.host) headers.Host = opts.host;
    const ws = new WebSocket(`ws://127.0.0.1:${ui.port}/api/updates`, {
      headers,
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new UpdatesClient(ws)));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  /** Waits (bounded) for an update from the `since`-th on that `match` accepts, and returns it. */
  waitFor(match: (u: Update) => boolean, what: string, since = 0, timeoutMs = WAIT_MS): Promise<Update> {
    return new Promise((resolve, reject) => {
      let seen = since;
      const check = () => {
        for (; seen < this.updates.length; seen++) {
          if (match(this.updates[seen]!)) {
            finish();
            return resolve(this.updates[seen]!);
          }
        }
        if (this.closed) {
          finish();
          reject(new Error(`the updates closed (${this.closed.code}) before ${what}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * Asks `check` (an API call) again and again until it gives a value, bounded by WAIT_MS:
 * for the UI's state that no update announces to a test without a WebSocket.
 */
export async function until<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
