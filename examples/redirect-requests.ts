/**
 * redirect-requests: sends the requests for one host to another server
 * (mitmproxy's examples/addons/http-redirect-requests.py).
 *
 *   interloper -s examples/redirect-requests.ts
 *   interloper -s examples/redirect-requests.ts --set redirect_from=api.example.com --set redirect_to=127.0.0.1:8080
 *
 * By default, as in mitmproxy's example, requests for example.org go to
 * mitmproxy.org. Changing `flow.request.host` (or `port`, `scheme`, `url`) in
 * `request` is what sends a request elsewhere: interloper connects to the new
 * server (TLS if the scheme is https, with the new name as SNI) and the
 * client never knows. The scheme stays as the client used it.
 */
import { defineAddon, OptionError, type HTTPFlow, type Loader, type OptionsView } from "@interloper/sdk";

/** `Example.ORG.` and `example.org` are the same name. */
function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** Where redirected requests go; no port: the request's own. */
export interface Target {
  host: string;
  port?: number;
}

/** `host`, `host:port` or `[v6]:port`; undefined when it is none of these. */
export function parseTarget(text: string): Target | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? normalise(m[2]!);
  if (host === "") return undefined;
  if (m[3] === undefined) return { host };
  const port = Number(m[3]);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}

const DEFAULT_TARGET: Target = { host: "mitmproxy.org" };

export default defineAddon({
  name: "redirect-requests",
  from: "example.org",
  to: DEFAULT_TARGET,

  load(loader: Loader) {
    loader.addOption<string>({
      name: "redirectFrom",
      type: "string",
      default: "example.org",
      help: "Requests for this host (by the Host header, so transparent mode works too) are redirected.",
    });
    loader.addOption<string>({
      name: "redirectTo",
      type: "string",
      default: "mitmproxy.org",
      help: "Where redirected requests go: host, host:port or [IPv6]:port.",
    });
  },

  configure(updated: ReadonlySet<string>, options: OptionsView) {
    if (updated.has("redirectFrom")) {
      const from = normalise(options.get<string>("redirectFrom"));
      // Refused with one line (the old value stays): a URL here would silently match nothing.
      if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(from) && !/^[0-9a-f:.]+$/.test(from))
        throw new OptionError(`invalid redirect_from '${from}': expected a host name such as example.org`);
      this.from = from;
    }
    if (updated.has("redirectTo")) {
      const text = options.get<string>("redirectTo");
      const to = parseTarget(text);
      if (!to) throw new OptionError(`invalid redirect_to '${text}': expected host, host:port or [IPv6]:port`);
      this.to = to;
    }
  },

  request(flow: HTTPFlow) {
    // prettyHost reads the Host header: in transparent mode `host` is only the address connected to.
    if (normalise(flow.request.prettyHost) !== this.from) return;
    const request = flow.request;
    request.host = this.to.host;
    if (this.to.port !== undefined) request.port = this.to.port;
    // The host setter renamed the Host header (as mitmproxy's); with a port, the new server is asked
    // for its own authority.
    if (request.headers.has("host")) request.headers.set("Host", request.authority);
  },
});
