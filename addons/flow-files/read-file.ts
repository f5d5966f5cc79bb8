// -r / rfile: the flows of a flow file (mitmproxy's format or HAR) told to
// the addon chain one by one, as mitmproxy's readfile does: the log prints
// them, filters apply, scripts see them. A damaged file is read up to the
// damage, then one error line names the file, the byte and what was wrong.
import { FlowReadError, readFlowFile, type Addon, type AnyFlow, type Loader, type OptionHandle } from "@interloper/sdk";
import type { KeepServing, ServingWork } from "../keep-serving.ts";
import { pathSpec } from "./path-spec.ts";

export class ReadFile implements Addon, ServingWork {
  readonly name = "readfile";
  private file: OptionHandle<string | undefined> | undefined;
  private loader: Loader | undefined;
  private reading = false;
  private readFailed = false;

  constructor(private readonly keep?: KeepServing) {
    keep?.watch(this);
  }

  load(loader: Loader): void {
    this.loader = loader;
    this.file = loader.addOption<string | undefined>({
      name: "rfile",
      type: "optional-string",
      default: undefined,
      help: "Read flows from this file (mitmproxy's format or HAR) and tell them to the addons.",
    });
  }

  running(): void {
    const spec = this.file!.get();
    if (!spec) return;
    this.reading = true;
    void this.read(pathSpec(spec).path).finally(() => {
      this.reading = false;
      this.keep?.check();
    });
  }

  wanted(): boolean {
    return Boolean(this.file?.get());
  }
  busy(): boolean {
    return this.reading;
  }
  failed(): boolean {
    return this.readFailed;
  }

  private async read(path: string): Promise<void> {
    const loader = this.loader!;
    const reverse = reverseTarget(loader.options.get<string[]>("mode"));
    let count = 0;
    try {
      for await (const flow of readFlowFile(path, { onWarning: (m) => loader.log.warn(m) })) {
        if (reverse) retarget(flow, reverse);
        await loader.loadFlow(flow);
        count++;
      }
    } catch (err) {
      this.readFailed = true;
      const where = err instanceof FlowReadError ? err.message : `${path}: ${(err as Error).message}`;
      loader.log.error(`cannot read flows: ${where} (${count} flows read before it)`);
    }
  }
}

/**
 * With one mode, a reverse one, read flows go to its target (so they replay against it), as
 * mitmproxy's load_flow does. The spec is `reverse:[SCHEME://]HOST[:PORT][@[LISTEN_HOST:]PORT]`:
 * the `@` part is where the proxy listens, and a target without a scheme is https.
 */
function reverseTarget(modes: readonly string[]): URL | undefined {
  const spec = modes.length === 1 ? modes[0]! : "";
  if (!spec.startsWith("reverse:")) return undefined;
  const target = spec.slice("reverse:".length).replace(/@(?:\[[^\]]+\]:|[^:/@]*:)?\d+$/, "");
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `https://${target}`);
  } catch {
    return undefined;
  }
}

/** The request goes to `target`; its Host field (where it has one) names the new place, as mitmproxy's setters do. */
function retarget(flow: AnyFlow, target: URL): void {
  if (flow.type !== "http") return;
  const req = flow.request;
  req.scheme = target.protocol === "http:" ? "http" : "https";
  req.host = target.hostname.replace(/^\[|\]$/g, "");
  req.port = target.port ? Number(target.port) : req.scheme === "https" ? 443 : 80;
  if (req.headers.has("host")) req.headers.set("Host", req.authority);
}
