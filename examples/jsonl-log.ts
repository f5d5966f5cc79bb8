/**
 * jsonl-log: appends one JSON line per completed HTTP flow to a file, for
 * `jq`, a spreadsheet or a log shipper.
 *
 *   interloper -s examples/jsonl-log.ts --set jsonl_log=flows.jsonl
 *   jq -r 'select(.status >= 400) | .url' flows.jsonl
 *
 * A line: {"method","url","status","reason","error","requestSize","responseSize",
 * "timestampStart","timestampEnd"}; sizes are body bytes as sent on the wire
 * (0 for a streamed body, which interloper does not keep), timestamps are
 * Unix seconds. Failed flows have `status: null` and the `error` text.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { resolve } from "node:path";
import { defineAddon, type HTTPFlow, type Loader, type Logger, type OptionsView } from "@interloper/sdk";

export interface FlowLine {
  method: string;
  url: string;
  status: number | null;
  reason: string | null;
  error: string | null;
  requestSize: number;
  responseSize: number;
  timestampStart: number;
  timestampEnd: number;
}

function closeStream(out: WriteStream): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  // `close` comes once everything written so far is in the file and the fd is closed
  // (or once the stream failed: then there is nothing left to wait for).
  return new Promise((done) => {
    out.once("close", () => done());
    out.end();
  });
}

export default defineAddon({
  name: "jsonl-log",
  path: undefined as string | undefined,
  out: undefined as WriteStream | undefined,
  isRunning: false,
  log: undefined as Logger | undefined,

  load(loader: Loader) {
    loader.addOption<string | undefined>({
      name: "jsonlLog",
      type: "optional-string",
      default: undefined,
      help: "File to append one JSON line per completed flow to.",
    });
    this.log = loader.log;
  },

  async configure(updated: ReadonlySet<string>, options: OptionsView) {
    if (!updated.has("jsonlLog")) return;
    const value = options.get<string | undefined>("jsonlLog");
    this.path = value ? resolve(value) : undefined;
    // Before `running` the file is opened there; afterwards a change switches files now.
    if (this.isRunning) await this.reopen();
  },

  async running() {
    this.isRunning = true;
    if (!this.out) await this.reopen();
  },

  async done() {
    this.isRunning = false;
    const out = this.out;
    this.out = undefined;
    if (out) await closeStream(out);
  },

  async reopen() {
    const old = this.out;
    this.out = undefined;
    if (old) await closeStream(old);
    if (!this.path) return;
    const path = this.path;
    // Append: a restart or a hot reload must not wipe what was logged before.
    const out = createWriteStream(path, { flags: "a" });
    // Without a listener a write error (no such directory, disk full) would crash the proxy.
    out.on("error", (err) => {
      this.log?.error(`cannot write ${path}: ${err.message}; flows are no longer logged there`);
      if (this.out === out) this.out = undefined;
    });
    this.out = out;
  },

  write(flow: HTTPFlow) {
    if (!this.out) return;
    const { request, response, error } = flow;
    const now = Date.now() / 1000;
    const line: FlowLine = {
      method: request.method,
      url: request.prettyUrl,
      status: response?.status ?? null,
      reason: response?.reason ?? null,
      error: error?.msg ?? null,
      requestSize: request.body.length,
      responseSize: response?.body.length ?? 0,
      timestampStart: request.timestampStart,
      timestampEnd: response?.timestampEnd ?? error?.timestamp ?? now,
    };
    this.out.write(`${JSON.stringify(line)}\n`);
  },

  // A flow is complete when its response is (`response`) or when it failed (`error`).
  response(flow: HTTPFlow) {
    this.write(flow);
  },

  error(flow: HTTPFlow) {
    this.write(flow);
  },
});
