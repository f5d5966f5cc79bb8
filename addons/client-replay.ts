// -C / client_replay: the requests of flow files sent again, through the
// addon chain as live requests (the log prints them and their new
// responses), client_replay_concurrency at a time (-1: all at once).
import {
  FlowReadError,
  OptionError,
  readFlowFile,
  type Addon,
  type AnyFlow,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
} from "@interloper/sdk";
import type { KeepServing, ServingWork } from "./keep-serving.ts";
import { pathSpec } from "./flow-files/path-spec.ts";

export class ClientReplay implements Addon, ServingWork {
  readonly name = "clientplayback";
  private files: OptionHandle<string[]> | undefined;
  private concurrency: OptionHandle<number> | undefined;
  private loader: Loader | undefined;
  private queue: HTTPFlow[] = [];
  private inFlight = 0;
  private loading = false;
  private readFailed = false;
  /** The reader waits here while the queue is full, so a large file is never held whole. */
  private space: (() => void) | undefined;

  constructor(private readonly keep?: KeepServing) {
    keep?.watch(this);
  }

  load(loader: Loader): void {
    this.loader = loader;
    this.files = loader.addOption({
      name: "clientReplay",
      type: "strings",
      default: [],
      help: "Send the requests of these flow files again (mitmproxy's or HAR).",
    });
    this.concurrency = loader.addOption({
      name: "clientReplayConcurrency",
      type: "number",
      default: 1,
      help: "How many replayed requests are in flight at once (-1: all).",
    });
  }

  configure(updated: ReadonlySet<string>): void {
    if (!updated.has("clientReplayConcurrency")) return;
    const n = this.concurrency!.get();
    // 0 would replay nothing, and a fraction is no count of requests.
    if (n !== -1 && !(Number.isInteger(n) && n >= 1))
      throw new OptionError(`invalid value for client_replay_concurrency: ${n} (expected -1 or a whole number from 1)`);
  }

  running(): void {
    const files = this.files!.get();
    if (files.length === 0) return;
    this.loading = true;
    void this.read(files).finally(() => {
      this.loading = false;
      this.pump();
    });
  }

  wanted(): boolean {
    return (this.files?.get().length ?? 0) > 0;
  }
  busy(): boolean {
    return this.loading || this.queue.length > 0 || this.inFlight > 0;
  }
  failed(): boolean {
    return this.readFailed;
  }

  private async read(files: readonly string[]): Promise<void> {
    const log = this.loader!.log;
    for (const spec of files) {
      try {
        for await (const f of readFlowFile(pathSpec(spec).path, { onWarning: (m) => log.warn(m) })) {
          const refusal = whyNotReplayable(f);
          if (refusal !== undefined) {
            log.warn(`client_replay: left out ${refusal}`);
            continue;
          }
          this.queue.push(f as HTTPFlow);
          this.pump();
          if (this.queue.length >= QUEUE_BOUND) await new Promise<void>((resolve) => (this.space = resolve));
        }
      } catch (err) {
        this.readFailed = true;
        const where = err instanceof FlowReadError ? err.message : `${spec}: ${(err as Error).message}`;
        log.error(`client_replay: cannot read flows: ${where}`);
      }
    }
  }

  private pump(): void {
    const limit = this.concurrency!.get();
    while (this.queue.length > 0 && (limit === -1 || this.inFlight < limit)) {
      const flow = this.queue.shift()!;
      this.inFlight++;
      void this.loader!.replay(flow)
        .catch((err: unknown) =>
          this.loader!.log.error(`client_replay: ${flow.request.url}: ${(err as Error).message}`),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
    if (this.space && this.queue.length < QUEUE_BOUND) {
      const resume = this.space;
      this.space = undefined;
      resume();
    }
    this.keep?.check();
  }
}

/** Flows read ahead of the ones in flight: enough to keep any concurrency busy, few enough to stay small. */
const QUEUE_BOUND = 64;

/**
 * Why a recorded flow cannot be sent again as it was (mitmproxy leaves the same ones out):
 * sending a request whose body was streamed, and so not kept, would send another request.
 */
function whyNotReplayable(flow: AnyFlow): string | undefined {
  if (flow.type !== "http") return `a ${flow.type.toUpperCase()} flow: only HTTP requests are replayed`;
  const url = flow.request.url;
  if (flow.request.stream) return `${url}: its request body was streamed, not recorded`;
  if (flow.websocket) return `${url}: a WebSocket connection cannot be replayed`;
  return undefined;
}
