// Whether a body is buffered, and within what: stream_large_bodies and
// body_size_limit per body, buffer_budget over all bodies at once. A body
// the budget cannot take is streamed instead (one info line), so the proxy
// keeps serving; body_size_limit still refuses.
import type { Readable } from "node:stream";
import { formatSize, type Headers, type LogLevel, type Request } from "@interloper/sdk";
import type { CoreSettings } from "../../engine/context.ts";
import type { BufferBudget } from "../buffer-budget.ts";
import { readBody } from "../body.ts";

export type Buffering =
  | { kind: "whole"; body: Buffer }
  /** Streamed from here on: the chunks read so far go first. */
  | { kind: "stream"; chunks: Buffer[] }
  /** Larger than body_size_limit. */
  | { kind: "too-large" };

export class BodyBuffering {
  /** Bytes this exchange holds of the budget. */
  private held = 0;
  /** What the over-budget line was written for (made only when it is: one per request otherwise). */
  private told: Set<string> | undefined;

  constructor(
    private readonly settings: () => Pick<CoreSettings, "streamLargeBodies" | "bodySizeLimit" | "idleTimeoutMs">,
    private readonly budget: BufferBudget,
    private readonly log: (level: LogLevel, message: string) => void,
  ) {}

  /** Reads `stream` whole within the limits; rejects as readBody does when the sender fails or goes quiet. */
  /** `what`: "request" or "response"; `of`: the request it belongs to, for the log. */
  async read(
    stream: Readable,
    headers: Headers,
    what: "request" | "response",
    of: Pick<Request, "method" | "prettyUrl">,
  ): Promise<Buffering> {
    const s = this.settings();
    const max = s.streamLargeBodies ?? s.bodySizeLimit ?? Infinity;
    const declared = declaredLength(headers);
    let overBudget = false;
    let admit: ((n: number) => boolean) | undefined;
    if (declared !== undefined && declared <= max) {
      if (!this.hold(declared)) {
        this.tellOverBudget(what, of, declared);
        return { kind: "stream", chunks: [] };
      }
    } else {
      admit = (n) => {
        if (this.hold(n)) return true;
        overBudget = true;
        this.tellOverBudget(what, of, undefined);
        return false;
      };
    }
    const read = await readBody(stream, max, s.idleTimeoutMs, { expected: declared, admit });
    if (read.complete) return { kind: "whole", body: read.body };
    if (s.streamLargeBodies !== undefined || overBudget) return { kind: "stream", chunks: read.chunks };
    return { kind: "too-large" };
  }

  /** Gives back what this exchange held (its bodies are written or dropped). */
  release(): void {
    this.budget.give(this.held);
    this.held = 0;
  }

  private hold(bytes: number): boolean {
    if (!this.budget.take(bytes)) return false;
    this.held += bytes;
    return true;
  }

  private tellOverBudget(what: string, of: Pick<Request, "method" | "prettyUrl">, size: number | undefined): void {
    this.told ??= new Set();
    if (this.told.has(what)) return;
    this.told.add(what);
    const body = size === undefined ? "body" : `body (${formatSize(size)})`;
    const budget = formatSize(this.budget.limit);
    this.log(
      "info",
      `buffer_budget (${budget}) is taken by other bodies: streaming the ${what} ${body} of ${of.method} ${of.prettyUrl}`,
    );
  }
}

/** The one Content-Length of a message, when it has exactly one valid one. */
export function declaredLength(headers: Headers): number | undefined {
  const all = headers.getAll("content-length");
  if (all.length !== 1 || headers.has("transfer-encoding")) return undefined;
  const v = all[0]!.trim();
  return /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}
