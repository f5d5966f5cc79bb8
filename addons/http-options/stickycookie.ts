import type { Addon, FlowFilter, HTTPFlow, Loader, OptionHandle } from "@interloper/sdk";
import { filterFrom } from "../flow-files/filter-option.ts";
import { CookieJar } from "./cookie-jar.ts";
import { parseSetCookie } from "./set-cookie.ts";

/**
 * `stickycookie FILTER` (`--stickycookie`): while set, the cookies responses
 * set are kept in a jar per (domain, port, path), as mitmproxy keeps them,
 * and requests the filter matches get the jar's cookies they do not carry
 * themselves. So a session a browser logged into can be used by curl or a
 * replay through the proxy. Expired cookies leave the jar.
 */
export class StickyCookie implements Addon {
  readonly name = "stickycookie";
  private option: OptionHandle<string | undefined> | undefined;
  private filter: FlowFilter | undefined;
  private readonly jar = new CookieJar();

  load(loader: Loader): void {
    loader.hooksWhen(() => this.filter !== undefined);
    this.option = loader.addOption({
      name: "stickycookie",
      type: "optional-string",
      default: undefined,
      help: "Set sticky cookie filter: requests it matches get the cookies servers set earlier. Matched against requests.",
    });
  }

  configure(updated: ReadonlySet<string>): void {
    if (this.option && updated.has("stickycookie")) this.filter = filterFrom("stickycookie", this.option.get());
  }

  response(flow: HTTPFlow): void {
    if (!this.filter || !flow.response) return;
    const { host, port } = flow.request;
    const now = Date.now();
    for (const field of flow.response.headers.getAll("set-cookie")) {
      this.jar.store(host, port, parseSetCookie(field), now);
    }
  }

  request(flow: HTTPFlow): void {
    if (!this.filter || this.jar.size === 0 || !this.filter(flow)) return;
    const { host, port, path } = flow.request;
    const sticky = this.jar.cookiesFor(host, port, path, Date.now());
    if (sticky.length === 0) return;
    const own = flow.request.headers.getAll("cookie");
    const names = new Set(own.flatMap((line) => line.split(";").map((pair) => pair.split("=", 1)[0]!.trim())));
    const added = sticky.filter(([name]) => !names.has(name)).map(([name, value]) => `${name}=${value}`);
    if (added.length === 0) return;
    flow.metadata.stickycookie = true;
    // Several Cookie fields (HTTP/2 sends them so) may be joined with "; " (RFC 9113 §8.2.3).
    const kept = own.map((line) => line.replace(/[\s;]+$/, "")).filter((line) => line !== "");
    flow.request.headers.set("Cookie", [...kept, ...added].join("; "));
  }
}
