// Loaded into every proxy the soak harness starts (`-s soak/lib/guard-addon.ts`):
//  - serverConnect: refuses any destination that is not a loopback literal or
//    `localhost`, before a name is resolved, so that fuzzed host names never
//    leave the machine (not even as a DNS query);
//  - `GET http://soak.invalid/__soak/ping`: answered here at once (the stall monitor);
//  - `GET http://soak.invalid/__soak/heap`: answered here with the proxy's
//    process.memoryUsage() after two full GCs (the proxy runs with --expose-gc),
//    so leaks can be told from the allocator keeping freed memory.
import { Response, type HTTPFlow, type ServerConnectionHookData } from "@interloper/sdk";

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost)$/i;
let refused = 0;

export default {
  name: "soak-guard",
  serverConnect(data: ServerConnectionHookData) {
    const host = data.server.address.host;
    if (!LOOPBACK.test(host)) {
      refused++;
      data.server.error = `soak guard: refused non-loopback destination ${JSON.stringify(host.slice(0, 60))}`;
    }
  },
  request(flow: HTTPFlow) {
    if (flow.request.host !== "soak.invalid") return;
    // The harness's stall monitor: answered at once, so its latency is the proxy's responsiveness.
    if (flow.request.path.startsWith("/__soak/ping")) {
      flow.response = Response.make(200, "pong");
      return;
    }
    if (!flow.request.path.startsWith("/__soak/heap")) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    flow.response = Response.make(200, JSON.stringify({ ...process.memoryUsage(), gc: Boolean(gc), refused }), {
      "content-type": "application/json",
    });
  },
};
