/**
 * block-hosts: answers requests to listed hosts (and their subdomains) with a
 * 403 page; the server is never contacted.
 *
 *   interloper -s examples/block-hosts.ts --set blocked_hosts=ads.example --set blocked_hosts=tracker.test
 *
 * HTTPS requests are blocked too, but only once interloper has terminated TLS:
 * the client must trust interloper's CA to see the page (an ignored host is
 * never seen here at all).
 */
import { isIP } from "node:net";
import { defineAddon, OptionError, Response, type HTTPFlow, type Loader, type OptionsView } from "@interloper/sdk";

/** `Example.COM.` and `example.com` are the same name. */
function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export default defineAddon({
  name: "block-hosts",
  blocked: new Set<string>(),

  load(loader: Loader) {
    loader.addOption<string[]>({
      name: "blockedHosts",
      type: "strings",
      default: [],
      help: "Host names whose requests (subdomains included) are answered with 403 without contacting the server.",
    });
  },

  configure(updated: ReadonlySet<string>, options: OptionsView) {
    if (!updated.has("blockedHosts")) return;
    const names = options
      .get<string[]>("blockedHosts")
      .map(normalise)
      .filter((n) => n !== "");
    // Throwing OptionError refuses the value and keeps the old list: a typo such as
    // `https://ads.example/` would otherwise silently block nothing.
    const bad = names.find((n) => !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(n) && !/^[0-9a-f:]+$/.test(n));
    if (bad !== undefined)
      throw new OptionError(`invalid blocked_hosts entry '${bad}': expected a host name such as ads.example.com`);
    this.blocked = new Set(names);
  },

  isBlocked(host: string): boolean {
    // Walk up the labels: cdn.ads.example → ads.example → example.
    let name = normalise(host);
    // An IP address has no parent domains: 203.0.113.7 is not "under" 113.7.
    if (isIP(name)) return this.blocked.has(name);
    for (;;) {
      if (this.blocked.has(name)) return true;
      const dot = name.indexOf(".");
      if (dot < 0) return false;
      name = name.slice(dot + 1);
    }
  },

  // `requestheaders`, not `request`: answering before the body is read means a blocked
  // upload is never buffered.
  requestheaders(flow: HTTPFlow) {
    if (this.blocked.size === 0) return;
    // `host` is where the request goes (an IP in transparent mode); the Host header names it.
    const { host, prettyHost } = flow.request;
    if (!this.isBlocked(host) && !this.isBlocked(prettyHost)) return;
    const name = escapeHtml(prettyHost);
    flow.response = Response.make(
      403,
      `<!doctype html>\n<title>Blocked</title>\n<h1>Blocked</h1>\n<p>Requests to <b>${name}</b> are blocked by interloper.</p>\n`,
      { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
    );
  },
});
