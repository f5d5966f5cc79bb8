import { Response, type Addon, type HTTPFlow, type Loader, type OptionHandle } from "@interloper/sdk";
import { NO_RESPONSE, parseBlockSpec, type BlockSpec } from "./block-spec.ts";

/**
 * `block_list` (`--set block_list=/~d ads\.example/404`, repeatable): matching
 * requests are answered by the proxy with an empty response of that status,
 * or, for 444, their client connection is closed without a response. The
 * server is never contacted. Flows it blocked carry `metadata.blocklisted`.
 */
export class BlockList implements Addon {
  readonly name = "blocklist";
  private option: OptionHandle<string[]> | undefined;
  private specs: BlockSpec[] = [];

  load(loader: Loader): void {
    loader.hooksWhen(() => this.specs.length > 0);
    this.option = loader.addOption({
      name: "blockList",
      type: "strings",
      default: [],
      help:
        "Block matching requests with an empty response of this status: /flow-filter/status-code " +
        "(the first character is the separator). Status 444 closes the connection without a response. Repeatable.",
    });
  }

  configure(updated: ReadonlySet<string>): void {
    // Every spec is parsed before any is used: one bad spec refuses the whole change.
    if (this.option && updated.has("blockList")) this.specs = this.option.get().map(parseBlockSpec);
  }

  request(flow: HTTPFlow): void {
    if (flow.response || flow.error || !flow.live) return;
    const spec = this.specs.find((s) => s.filter(flow));
    if (!spec) return;
    flow.metadata.blocklisted = true;
    if (spec.status === NO_RESPONSE) flow.kill();
    else flow.response = Response.make(spec.status, "", { Server: "interloper" });
  }
}
