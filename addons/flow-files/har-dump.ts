// hardump: the HTTP flows of the session written as a HAR 1.2 file, entry by
// entry as they end (closed into valid JSON at shutdown), as mitmproxy's
// savehar does with the same option; save_stream_filter chooses the flows
// here too.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  HarWriter,
  OptionError,
  type Addon,
  type FlowFilter,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
} from "@interloper/sdk";
import { filterFrom } from "./filter-option.ts";
import { pathSpec } from "./path-spec.ts";

export class HarDump implements Addon {
  readonly name = "savehar";
  private file: OptionHandle<string | undefined> | undefined;
  private loader: Loader | undefined;
  private writer: HarWriter | undefined;
  private filter: FlowFilter | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.writer !== undefined);
    this.loader = loader;
    this.file = loader.addOption<string | undefined>({
      name: "hardump",
      type: "optional-string",
      default: undefined,
      help: "Write the session's HTTP flows (those save_stream_filter matches) to this HAR 1.2 file (complete at shutdown).",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    // The option is the save addon's (-w); mitmproxy's savehar reads it the same way.
    const options = this.loader!.options;
    if (updated.has("saveStreamFilter") && options.has("saveStreamFilter"))
      this.filter = filterFrom("save_stream_filter", options.get<string | undefined>("saveStreamFilter"));
    if (!updated.has("hardump")) return;
    await this.close();
    const spec = this.file!.get();
    if (!spec) return;
    const { path } = pathSpec(spec);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.writer = await HarWriter.open(path);
    } catch (err) {
      throw new OptionError(`invalid value for hardump: cannot open '${path}': ${(err as Error).message}`);
    }
  }

  // No promise when there is no HAR file: a promise per flow held every response.
  response(flow: HTTPFlow): void | Promise<void> {
    if (this.writer && !flow.websocket) return this.add(flow);
  }
  error(flow: HTTPFlow): void | Promise<void> {
    if (this.writer) return this.add(flow);
  }
  websocketEnd(flow: HTTPFlow): void | Promise<void> {
    if (this.writer) return this.add(flow);
  }

  async done(): Promise<void> {
    await this.close();
  }

  private async add(flow: HTTPFlow): Promise<void> {
    if (!this.writer || (this.filter && !this.filter(flow))) return;
    try {
      await this.writer.add(flow);
    } catch (err) {
      this.loader!.log.error(`hardump: cannot write: ${(err as Error).message}`);
      this.writer = undefined;
    }
  }

  private async close(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    await w?.close();
  }
}
