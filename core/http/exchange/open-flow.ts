// The opening steps every HTTP request takes, plain or Upgrade: the sdk
// Request from the head, the reverse-mode Host, the route to the server,
// and the flow the hooks will see.
import { HTTPFlow, type Request } from "@interloper/sdk";
import type { ProxyContext } from "../../engine/context.ts";
import type { HttpContext } from "../frontend.ts";
import { buildRequest, type RequestHead } from "./request-target.ts";
import { ServerRoute } from "./server-route.ts";

export interface OpenedFlow {
  flow: HTTPFlow;
  route: ServerRoute;
}

/**
 * The flow of a request, or the reason it is refused (logged; the caller
 * answers 400). `kill` is what the flow's `kill()` does to the connections.
 */
export function openFlow(
  proxy: ProxyContext,
  ctx: HttpContext,
  head: RequestHead,
  multiplexed: boolean,
  kill: () => void,
): OpenedFlow | string {
  const { session } = ctx;
  const request = buildRequest(
    head,
    ctx.tunnel && { address: ctx.tunnel.server.data.address, scheme: ctx.tunnel.scheme },
  );
  if (typeof request === "string") {
    session.log("warn", `bad request: ${request}`);
    return request;
  }
  rewriteReverseHost(proxy, ctx, request);
  const route = ServerRoute.for(ctx, request, multiplexed);
  return { flow: new HTTPFlow(session.client, route.conn.data, request, kill), route };
}

/** Reverse mode: the server is asked for its own name unless keep_host_header. */
function rewriteReverseHost(proxy: ProxyContext, ctx: HttpContext, request: Request): void {
  const mode = ctx.session.mode;
  if (!ctx.tunnel || mode.name !== "reverse" || !mode.target || proxy.settings.keepHostHeader) return;
  const t = mode.target;
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  const defaultPort = ctx.tunnel.scheme === "https" ? 443 : 80;
  request.headers.set("Host", t.port === defaultPort ? host : `${host}:${t.port}`);
}
