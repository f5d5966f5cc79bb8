import type * as http from "node:http";
import type * as net from "node:net";
import { Headers, HTTPFlow, logText, Request } from "@interloper/sdk";
import type { ProxyContext } from "../engine/context.ts";
import { runLayers, type LayerRoutes } from "../layers/run-layers.ts";
import type { HttpContext } from "./frontend.ts";
import { rawHead, textResponse } from "./raw.ts";

/**
 * A CONNECT request: the `httpConnect` hook, the server connection (eager:
 * before answering, so the resolved address is known), `200`, then the
 * tunnel's first bytes decide what it carries.
 */
export async function handleConnect(
  proxy: ProxyContext,
  routes: LayerRoutes,
  ctx: HttpContext,
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
): Promise<void> {
  const { session } = ctx;
  socket.on("error", () => {});
  // Connecting, the tunnel's first bytes and any TLS handshake in it must finish in bounded time.
  session.expectSetup("CONNECT tunnel set-up");
  const target = parseAuthority(req.url ?? "");
  if (!target) {
    session.log("warn", `bad CONNECT target '${logText(req.url ?? "")}'`);
    socket.end(
      textResponse(400, "Bad Request", `invalid CONNECT target '${logText(req.url ?? "")}': expected host:port`),
    );
    return;
  }
  const request = new Request({
    method: "CONNECT",
    host: target.host,
    port: target.port,
    path: "",
    form: "authority",
    headers: Headers.fromRaw(req.rawHeaders),
    httpVersion: `HTTP/${req.httpVersion}`,
  });
  const conn = session.newServer(target);
  const flow = new HTTPFlow(session.client, conn.data, request, () => socket.destroy());
  await proxy.host.trigger("httpConnect", flow);
  // The hooks have had their say; the tunnel that follows is not this flow's to kill.
  flow.detachConnection();
  if (flow.killed || socket.destroyed) return;
  if (flow.response && (flow.response.status < 200 || flow.response.status > 299)) {
    const r = flow.response;
    session.log("info", `CONNECT ${logText(request.url)} answered with ${r.status} ${logText(r.reason)}`);
    socket.end(Buffer.concat([rawHead(r.status, r.reason, r.headers.fields), r.body]));
    return;
  }
  // As in mitmproxy, a 2xx an addon answered with opens the tunnel without connecting to the server
  // first (the onboarding page answers what comes through it; its host may not even resolve).
  if (!flow.response && proxy.settings.connectionStrategy === "eager") {
    // The connect has its own bound (idle_timeout) and its failure an answer: the set-up timer
    // closed the client without one when a server's accept queue was full (soak, fuzz chunked).
    session.setupDone();
    try {
      await conn.connect();
    } catch (err) {
      socket.end(textResponse(502, "Bad Gateway", (err as Error).message));
      return;
    }
    session.expectSetup("CONNECT tunnel set-up");
  }
  if (socket.destroyed) {
    conn.close();
    return;
  }
  socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
  await runLayers(routes, session, socket, conn, { stage: "outer", head });
}

/** `host:port` or `[v6]:port`; the port is required. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:\s/?#@[\]]+)):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}
