import type { Addon, FlowFilter, HTTPFlow, Loader, OptionHandle } from "@interloper/sdk";
import { filterFrom } from "../flow-files/filter-option.ts";

/**
 * `stickyauth FILTER` (`--stickyauth`): while set, the `Authorization` field
 * of every request is remembered per host, and later requests the filter
 * matches that have none get the host's last one. So a server that wants
 * HTTP authentication can be used through the proxy by a client that never
 * authenticated (curl, wget, a replay), as in mitmproxy.
 */
export class StickyAuth implements Addon {
  readonly name = "stickyauth";
  private option: OptionHandle<string | undefined> | undefined;
  private filter: FlowFilter | undefined;
  /** Host (as the request is addressed) → the last Authorization value seen for it. */
  private readonly byHost = new Map<string, string>();

  load(loader: Loader): void {
    loader.hooksWhen(() => this.filter !== undefined);
    this.option = loader.addOption({
      name: "stickyauth",
      type: "optional-string",
      default: undefined,
      help: "Set sticky auth filter: requests it matches that lack Authorization get the host's last one.",
    });
  }

  configure(updated: ReadonlySet<string>): void {
    if (this.option && updated.has("stickyauth")) this.filter = filterFrom("stickyauth", this.option.get());
  }

  request(flow: HTTPFlow): void {
    if (!this.filter) return;
    const host = flow.request.host;
    const seen = flow.request.headers.get("authorization");
    if (seen !== null) {
      // Refreshing the entry also moves it last, so the oldest host is the one dropped at the bound.
      this.byHost.delete(host);
      this.byHost.set(host, seen);
      if (this.byHost.size > MAX_HOSTS) this.byHost.delete(this.byHost.keys().next().value!);
    } else if (this.filter(flow)) {
      const remembered = this.byHost.get(host);
      if (remembered !== undefined) flow.request.headers.set("Authorization", remembered);
    }
  }
}

/** Hosts remembered at most: enough for any session, a bound for a client that invents hosts. */
const MAX_HOSTS = 10_000;
