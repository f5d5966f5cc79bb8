// hardump: the HTTP flows of the session written as a HAR 1.2 file, entry by
// entry as they end (closed into valid JSON at shutdown), as mitmproxy's
// savehar does with the same option.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HarWriter, OptionError, type Addon, type HTTPFlow, type Loader, type OptionHandle } from "@interloper/sdk";
import { pathSpec } from "./path-spec.ts";

export class HarDump implements Addon {
  readonly name = "savehar";
  private file: OptionHandle<string | undefined> | undefined;
  private loader: Loader | undefined;
  private writer: HarWriter | undefined;

  load(loader: Loader): void {
    this.loader = loader;
    this.file = loader.addOption<string | undefined>({
      name: "hardump",
      type: "optional-string",
      default: undefined,
      help: "Write the session's HTTP flows to this HAR 1.2 file (complete at shutdown).",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
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

  async response(flow: HTTPFlow): Promise<void> {
    if (!flow.websocket) await this.add(flow);
  }
  async error(flow: HTTPFlow): Promise<void> {
    await this.add(flow);
  }
  async websocketEnd(flow: HTTPFlow): Promise<void> {
    await this.add(flow);
  }

  async done(): Promise<void> {
    await this.close();
  }

  private async add(flow: HTTPFlow): Promise<void> {
    if (!this.writer) return;
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
