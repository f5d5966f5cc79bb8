/**
 * add-header: marks traffic that went through interloper.
 *
 *   interloper -s examples/add-header.ts
 *
 * The server sees `Via: 1.1 interloper` on every request (so its logs show
 * which requests came through the proxy) and the client sees
 * `X-Interloper: 1` on every response (so you can tell in the browser's
 * devtools that a page was intercepted rather than cached or direct).
 */
import { defineAddon } from "@interloper/sdk";

export default defineAddon({
  name: "add-header",

  request(flow) {
    // `append`, not `set`: a chain of proxies each adds its own Via entry (RFC 9110 §7.6.3).
    flow.request.headers.append("Via", `${flow.request.httpVersion.replace(/^HTTP\//, "")} interloper`);
  },

  response(flow) {
    // `set`, not `append`: one marker, even if the server (or an earlier proxy) sent one already.
    flow.response?.headers.set("X-Interloper", "1");
  },
});
