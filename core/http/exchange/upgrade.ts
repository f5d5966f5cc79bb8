import type * as http from "node:http";
import type * as net from "node:net";
import type { Readable } from "node:stream";
import { Headers, Response, formatSize, type HTTPFlow } from "@interloper/sdk";
import type { ProxyContext } from "../../engine/context.ts";
import type { ServerConn } from "../../connection/server-conn.ts";
import { readBody } from "../body.ts";
import type { HttpContext } from "../frontend.ts";
import type { H1Exchange, H1Result } from "../h1-client.ts";
import { rawHead, textResponse } from "../raw.ts";
import { startHttp1Request } from "../upstream.ts";
import { relay } from "../../layers/passthrough.ts";
import { relayWebSocket } from "../../websocket/relay.ts";
import { openFlow } from "./open-flow.ts";
import { errorText, type ServerRoute } from "./server-route.ts";
import { NoAnswer } from "../no-answer.ts";
import { clientWaits, type ClientHook } from "./waits.ts";

/**
 * An HTTP/1.1 `Upgrade` request (WebSocket, mostly): the request hooks, the
 * request to the server, and on `101 Switching Protocols` the connection is
 * relayed — message by message for WebSockets, byte for byte otherwise.
 */
export async function handleUpgrade(
  proxy: ProxyContext,
  ctx: HttpContext,
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => {});
  let upstream: H1Exchange | undefined;
  const opened = openFlow(proxy, ctx, req, false, () => {
    upstream?.destroy();
    socket.destroy();
  });
  if (typeof opened === "string") return void socket.end(textResponse(400, "Bad Request", opened));
  const { flow } = opened;
  try {
    const { session } = ctx;
    const waitFor = (hook: ClientHook) =>
      clientWaits(proxy.host, proxy.settings.idleTimeoutMs, (l, m) => session.log(l, m), hook, flow);
    const fail = async (msg: string, status = 502) => {
      flow.error = { msg, timestamp: Date.now() / 1000 };
      if (socket.writable) socket.end(textResponse(status, status === 504 ? "Gateway Timeout" : "Bad Gateway", msg));
      await proxy.host.trigger("error", flow);
    };
    await waitFor("requestheaders");
    if (!flow.response && !flow.killed) await waitFor("request");
    if (flow.killed) return;
    if (flow.response) {
      await waitFor("responseheaders");
      await waitFor("response");
      const r = flow.response;
      if (socket.writable) socket.end(Buffer.concat([rawHead(r.status, r.reason, r.headers.fields), r.body]));
      return;
    }
    // The hooks may have pointed the request elsewhere: the route goes there, flow.server follows.
    const route = opened.route.forRequest(flow.request);
    if (typeof route === "string") return fail(route);
    flow.server = route.server;
    const failure = route.failure();
    if (failure !== undefined) return fail(failure);
    let conn: ServerConn;
    try {
      conn = await http1ConnFor(route, session);
    } catch (err) {
      return fail(errorText(err));
    }
    let outcome: H1Result;
    try {
      const headers = upgradeHeaders(flow, route);
      upstream = startHttp1Request(conn, flow.request, headers, route.viaProxy, proxy.settings.idleTimeoutMs, true);
      upstream.end(flow.request.body);
      outcome = await upstream.response;
    } catch (err) {
      if (err instanceof NoAnswer) upstream?.destroy();
      return err instanceof NoAnswer ? fail(err.message, 504) : fail(errorText(err));
    }
    flow.response = new Response({
      status: outcome.head.status,
      reason: outcome.head.reason,
      headers: Headers.fromRaw(outcome.head.rawHeaders),
      httpVersion: outcome.head.httpVersion,
    });
    await waitFor("responseheaders");
    if (flow.killed) {
      if (outcome.kind === "upgrade") outcome.socket.destroy();
      else upstream.destroy();
      return;
    }
    if (outcome.kind === "response") return declined(proxy, flow, upstream, outcome.body, socket, fail, waitFor);
    await waitFor("response");
    if (flow.killed) return void outcome.socket.destroy();
    outcome.socket.on("error", () => {});
    const response = flow.response;
    socket.write(rawHead(response.status, response.reason, response.headers.fields));
    const isWebSocket = (flow.request.headers.get("upgrade") ?? "").toLowerCase().includes("websocket");
    if (isWebSocket && response.status === 101) {
      await relayWebSocket(session, flow, socket, outcome.socket, head, outcome.rest);
    } else {
      await relay(socket, outcome.socket, head, outcome.rest);
    }
  } finally {
    // Done: a kept flow must not keep the connections (a kill now has nothing to close).
    flow.detachConnection();
  }
}

/** A server connection that speaks HTTP/1 (an Upgrade cannot go over HTTP/2). */
async function http1ConnFor(route: ServerRoute, session: HttpContext["session"]): Promise<ServerConn> {
  await route.prepare();
  let conn = route.conn;
  if (conn.data.alpn === "h2") {
    // The server chose HTTP/2 for this connection; an HTTP/1.1 Upgrade needs a connection of its own.
    const own = session.newServer(conn.data.address);
    await own.connect();
    await own.startTls({ sni: conn.data.sni, alpn: ["http/1.1"] });
    conn = own;
  }
  await conn.readyForHttp1();
  return conn;
}

/** Compression extensions are negotiated off, so every message can be read and changed. */
function upgradeHeaders(flow: HTTPFlow, route: ServerRoute): Headers {
  const headers = new Headers(flow.request.headers);
  headers.delete("sec-websocket-extensions");
  headers.delete("proxy-connection");
  headers.delete("proxy-authorization");
  if (!headers.has("host")) headers.fields.unshift(["Host", flow.request.authority]);
  route.addProxyAuth(headers);
  return headers;
}

/** The server declined the upgrade: its answer goes on (within body_size_limit); the connection ends with it. */
async function declined(
  proxy: ProxyContext,
  flow: HTTPFlow,
  upstream: H1Exchange,
  body: Readable,
  socket: net.Socket,
  fail: (msg: string) => Promise<void>,
  waitFor: (hook: ClientHook) => void | Promise<void>,
): Promise<void> {
  const limit = proxy.settings.bodySizeLimit;
  const read = await readBody(body, limit ?? Infinity).catch(() => undefined);
  if (!read?.complete) {
    upstream.destroy();
    return fail(
      read
        ? `response body larger than body_size_limit (${formatSize(limit!)})`
        : "server connection failed while reading the response",
    );
  }
  const response = flow.response!;
  response.body = read.body;
  await waitFor("response");
  if (flow.killed) return;
  // The connection ends with this answer: its body goes out whole, framed by its length.
  const headers = new Headers(response.headers);
  headers.delete("transfer-encoding");
  headers.set("Content-Length", String(response.body.length));
  if (socket.writable)
    socket.end(Buffer.concat([rawHead(response.status, response.reason, headers.fields), response.body]));
}
