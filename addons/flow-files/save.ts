// -w / save_stream_file: every finished flow is appended to a flow file in
// mitmproxy's format as it ends (a crash loses at most the flow being
// written), those matching save_stream_filter only. Flows still running at
// shutdown are written then, as mitmproxy does. Opening, rotating, writing
// and closing run one after another: flows that end together while the file
// rotates must not each open (and truncate) the next file.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  FlowWriter,
  OptionError,
  type Addon,
  type AnyFlow,
  type FlowFilter,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
  type TCPFlow,
} from "@interloper/sdk";
import { filterFrom } from "./filter-option.ts";
import { formatPathTime, pathSpec } from "./path-spec.ts";
import { UnfinishedFlows } from "./unfinished-flows.ts";

export class SaveFlows implements Addon {
  readonly name = "save";
  private file: OptionHandle<string | undefined> | undefined;
  private filterExpr: OptionHandle<string | undefined> | undefined;
  private loader: Loader | undefined;
  private filter: FlowFilter | undefined;
  private writer: FlowWriter | undefined;
  private currentPath: string | undefined;
  /** save_stream_file parsed when it changes (flows read it: once per option change, not per flow). */
  private target: { path: string; append: boolean; timed: boolean } | undefined;
  /** Flows begun but not ended: written at shutdown. */
  private readonly unfinished = new UnfinishedFlows();
  /** The end of the last file step queued (see `serial`). */
  private queue: Promise<unknown> = Promise.resolve();
  /** File steps queued and not ended: while there are any, writes queue behind them. */
  private queued = 0;

  load(loader: Loader): void {
    loader.hooksWhen(() => Boolean(this.file?.get()));
    this.loader = loader;
    this.file = loader.addOption<string | undefined>({
      name: "saveStreamFile",
      type: "optional-string",
      default: undefined,
      help: "Write flows to this file as they end (mitmproxy's format); +PATH appends; strftime fields (%Y-%m-%d) start a new file when they change.",
    });
    this.filterExpr = loader.addOption<string | undefined>({
      name: "saveStreamFilter",
      type: "optional-string",
      default: undefined,
      help: "Write only the flows matching this filter expression.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (updated.has("saveStreamFilter")) this.filter = filterFrom("save_stream_filter", this.filterExpr!.get());
    if (!updated.has("saveStreamFile")) return;
    const spec = this.file!.get();
    const parsed = spec ? pathSpec(spec) : undefined;
    this.target = parsed && { path: parsed.path, append: parsed.append, timed: parsed.path.includes("%") };
    await this.serial(async () => {
      await this.closeFile();
      if (this.target) await this.openFile(new Date());
    });
  }

  requestheaders(flow: HTTPFlow): void {
    if (this.saving()) this.unfinished.add(flow);
  }
  // The flow hooks return a promise only when the client must wait (the file is behind, or
  // being opened or rotated): a promise per flow held every response (bench W: -w cost 47%).
  response(flow: HTTPFlow): void | Promise<void> {
    // A WebSocket flow is written when its connection ends.
    if (!flow.websocket) return this.save(flow);
  }
  error(flow: HTTPFlow): void | Promise<void> {
    return this.response(flow);
  }
  websocketEnd(flow: HTTPFlow): void | Promise<void> {
    return this.save(flow);
  }
  tcpStart(flow: TCPFlow): void {
    if (this.saving()) this.unfinished.add(flow);
  }
  tcpEnd(flow: TCPFlow): void | Promise<void> {
    return this.save(flow);
  }
  tcpError(flow: TCPFlow): void | Promise<void> {
    return this.save(flow);
  }

  async done(): Promise<void> {
    for (const flow of this.unfinished.list()) await this.save(flow);
    await this.serial(() => this.closeFile());
  }

  /** Whether flows are saved (the option, not the writer: that is unset for a moment while the file rotates). */
  private saving(): boolean {
    return this.target !== undefined;
  }

  /** Runs `step` once every step queued before it has ended, however that one ended. */
  private serial<T>(step: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.queue.then(step).finally(() => this.queued--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private save(flow: AnyFlow): void | Promise<void> {
    this.unfinished.delete(flow);
    if (!this.saving() || (this.filter && !this.filter(flow))) return;
    // The usual case: the file is open, no step is queued, no new file is due: write at once.
    if (this.writer && this.queued === 0 && !this.rotationDue()) {
      let more: boolean;
      try {
        more = this.writer.write(flow);
      } catch (err) {
        return this.failed(err);
      }
      if (!more) return this.serial(() => this.drained());
      return;
    }
    return this.serial(() => this.write(flow));
  }

  private async write(flow: AnyFlow): Promise<void> {
    // Closed meanwhile (shutdown, the option unset, or a failed write).
    if (!this.writer) return;
    try {
      await this.rotate(new Date());
      await this.writer.add(flow);
    } catch (err) {
      this.failed(err);
    }
  }

  /** The output is behind: the next writes wait for it, and so does this flow's client. */
  private async drained(): Promise<void> {
    try {
      await this.writer?.drained();
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (!this.writer) return;
    // Traffic must not go on unrecorded without a word: as mitmproxy, stop.
    this.loader!.log.error(`save_stream_file: cannot write to ${this.currentPath}: ${(err as Error).message}`);
    this.writer = undefined;
    this.loader!.shutdown(1);
  }

  /** Whether the path's time fields (%Y…) now name another file than the one open. */
  private rotationDue(): boolean {
    const target = this.target;
    return target !== undefined && target.timed && formatPathTime(target.path, new Date()) !== this.currentPath;
  }

  private async rotate(now: Date): Promise<void> {
    const target = this.target;
    if (target && formatPathTime(target.path, now) !== this.currentPath) {
      await this.closeFile();
      await this.openFile(now);
    }
  }

  private async openFile(now: Date): Promise<void> {
    const { path, append } = this.target!;
    const target = formatPathTime(path, now);
    try {
      mkdirSync(dirname(target), { recursive: true });
      this.writer = await FlowWriter.open(target, { append });
    } catch (err) {
      throw new OptionError(`invalid value for save_stream_file: cannot open '${target}': ${(err as Error).message}`);
    }
    this.currentPath = target;
  }

  private async closeFile(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    this.currentPath = undefined;
    await writer?.close();
  }
}
