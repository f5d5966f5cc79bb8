import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import { Headers, HTTPFlow, Request, Response, formatSize, type LogLevel } from "@interloper/sdk";
import type { ProxyContext } from "../engine/context.ts";
import type { ServerConn } from "../connection/server-conn.ts";
import { ServerConnectError, type UpstreamProxy } from "../connection/server-conn.ts";
import { describeNetError } from "../connection/net-errors.ts";
import { BodyStalled, readBody, streamBody, type BodyRead } from "./body.ts";
import type { HttpContext } from "./frontend.ts";
import { relay } from "../layers/passthrough.ts";
import { spliceBytes, TransferError } from "../platform/splice.ts";
import { relayWebSocket } from "../websocket/relay.ts";
import {
  CONNECTION_SPECIFIC,
  sendHttp1,
  sendHttp2,
  startHttp1Request,
  type UpstreamExchange,
  type UpstreamResponse,
} from "./upstream.ts";
import type { H1Exchange, H1Result } from "./h1-client.ts";
import { rawHead, textResponse } from "./raw.ts";
import { Turns } from "./turns.ts";

/** Hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1), besides those named in Connection. */
const HOP_BY_HOP = new Set(["proxy-connection", "proxy-authorization", "keep-alive", "te", "upgrade"]);

/**
 * One HTTP exchange: the request and response hooks, buffering or
 * streaming both bodies, and the round trip to the server, or a local answer.
 */
export async function handleRequest(
  proxy: ProxyContext,
  ctx: HttpContext,
  req: ClientRequest,
  res: ClientResponse,
): Promise<void> {
  if (isH2(res)) return exchange(proxy, ctx, req, res);
  // Pipelined requests are handled one after the other: a buffered PUT whose hooks take longer must
  // still reach the server before the GET that followed it on the same connection.
  const turn = pipelined.take(req.socket);
  if (turn.wait) await turn.wait;
  try {
    await exchange(proxy, ctx, req, res);
  } finally {
    turn.release();
  }
}

/** The requests of one HTTP/1 client connection, in their order. */
const pipelined = new Turns<object>();
/** HTTP/2 clients' requests that share one HTTP/1 server connection (one request at a time on it). */
const sharedHttp1 = new Turns<ServerConn>();

async function exchange(proxy: ProxyContext, ctx: HttpContext, req: ClientRequest, res: ClientResponse): Promise<void> {
  const { session } = ctx;
  res.sendDate = false;
  const request = buildRequest(ctx, req);
  if (typeof request === "string") {
    session.log("warn", `bad request: ${request}`);
    sendError(res, 400, request, true);
    return;
  }
  const isTunnel = ctx.tunnel !== undefined;
  rewriteReverseHost(proxy, ctx, request);
  const { conn, viaProxy } = serverFor(ctx, request);
  let upstreamRequest: UpstreamExchange | undefined;
  const flow = new HTTPFlow(session.client, conn.data, request, () => {
    upstreamRequest?.destroy();
    // HTTP/2: only this stream dies; HTTP/1: the connection.
    if (isH2(res)) res.stream.close(http2.constants.NGHTTP2_CANCEL);
    else {
      res.destroy();
      req.socket.destroy();
    }
  });
  const { host } = proxy;
  try {
    await clientWaits(proxy, session, "requestheaders", flow);
    if (flow.killed) return void (await host.trigger("error", flow));
    const limit = proxy.settings.streamLargeBodies;
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (limit !== undefined && declared > limit) request.stream = true;

    let pendingChunks: Buffer[] | undefined;
    if (!flow.response && !request.stream) {
      const read = await readBody(
        req,
        limit ?? proxy.settings.bodySizeLimit ?? Infinity,
        proxy.settings.idleTimeoutMs,
      ).catch((err: unknown) => err as Error);
      if (read instanceof Error) {
        // The client's doing (it went away, went quiet, or its framing broke: Node's parser answered 400 then).
        const msg =
          read instanceof BodyStalled
            ? `client sent no more of its request body: ${read.message}`
            : `client closed the connection before its request body was complete (${describeNetError(read)})`;
        session.log("info", `${msg}: ${request.method} ${request.prettyUrl}`);
        flow.error = { msg, timestamp: Date.now() / 1000 };
        destroyResponse(res);
        await host.trigger("error", flow);
        return;
      }
      if (read.complete) {
        request.body = read.body;
      } else if (limit !== undefined) {
        request.stream = true;
        pendingChunks = read.chunks;
      } else {
        session.log("warn", `request body larger than body_size_limit: ${request.method} ${request.prettyUrl}`);
        sendError(
          res,
          413,
          `request body larger than body_size_limit (${formatSize(proxy.settings.bodySizeLimit!)})`,
          true,
        );
        return;
      }
    }
    request.timestampEnd = request.stream ? undefined : Date.now() / 1000;
    if (!flow.response) await clientWaits(proxy, session, "request", flow);
    if (flow.killed) return void (await host.trigger("error", flow));

    if (flow.response) {
      // Answered by an addon: the server is never contacted.
      req.resume();
      await clientWaits(proxy, session, "responseheaders", flow);
      await clientWaits(proxy, session, "response", flow);
      if (flow.killed) return void (await host.trigger("error", flow));
      sendBuffered(res, flow.response, request.method);
      return;
    }

    // Streams of an HTTP/2 client take turns on an HTTP/1 server connection: each then finds it ready
    // (reconnected if the response before said `Connection: close`) instead of queued behind a close.
    const turn = isH2(res) && conn.data.alpn !== "h2" ? sharedHttp1.take(conn) : undefined;
    if (turn?.wait) await turn.wait;
    let outcome: "ok" | "error";
    try {
      outcome = await roundTrip(
        proxy,
        conn,
        flow,
        req,
        res,
        pendingChunks,
        (u) => (upstreamRequest = u),
        isTunnel,
        viaProxy,
      );
    } finally {
      turn?.release();
    }
    if (outcome === "error") await host.trigger("error", flow);
  } catch (err) {
    // A bug, not a network failure: keep its stack, end this exchange only.
    proxy.host.log(
      "error",
      `${session.prefix}: internal error handling ${request.method} ${request.prettyUrl}: ${(err as Error).stack ?? err}`,
    );
    upstreamRequest?.destroy();
    if (!res.headersSent) sendError(res, 502, "interloper internal error", true);
    else res.destroy();
  }
}

async function roundTrip(
  proxy: ProxyContext,
  conn: ServerConn,
  flow: HTTPFlow,
  req: ClientRequest,
  res: ClientResponse,
  pendingChunks: Buffer[] | undefined,
  setUpstream: (u: UpstreamExchange) => void,
  isTunnel: boolean,
  /** Upstream mode, plain HTTP: the request goes to this proxy in absolute form. */
  viaProxy: UpstreamProxy | undefined,
): Promise<"ok" | "error"> {
  const { host } = proxy;
  const request = flow.request;
  const fail = (msg: string, status: number, closeClient: boolean) => {
    flow.error = { msg, timestamp: Date.now() / 1000 };
    if (!res.headersSent) sendError(res, status, msg, closeClient);
    else destroyResponse(res);
    return "error" as const;
  };

  // A tunnel whose server never came up (or whose TLS failed) answers every request with 502.
  if (isTunnel && conn.connectFailed && !conn.connected && conn.data.error) return fail(conn.data.error, 502, false);
  // Absolute-form requests for https (and https upstream proxies) are spoken over TLS.
  if (!isTunnel && conn.data.tls && !conn.data.tlsEstablished) {
    try {
      await conn.connect();
      if (!conn.data.tlsEstablished) await conn.startTls({ sni: sniFor(conn.data.address.host), alpn: ["http/1.1"] });
    } catch (err) {
      return fail(errorText(err), 502, false);
    }
  }

  const headers = forwardHeaders(request.headers);
  if (viaProxy?.auth) headers.set("Proxy-Authorization", `Basic ${Buffer.from(viaProxy.auth).toString("base64")}`);
  let upstream: UpstreamExchange;
  try {
    if (conn.data.alpn === "h2" && !viaProxy) {
      upstream = await sendHttp2(conn, request, headers);
    } else {
      // An HTTP/2 client's request to an HTTP/1 server needs a Host header.
      if (!headers.has("host")) headers.fields.unshift(["Host", request.authority]);
      await conn.readyForHttp1();
      upstream = sendHttp1(conn, request, headers, viaProxy);
    }
  } catch (err) {
    return fail(errorText(err), 502, false);
  }
  setUpstream(upstream);
  // A client that goes away takes the server request with it.
  const onClientGone = () => {
    if (!res.writableFinished) upstream.destroy();
  };
  res.once("close", onClientGone);

  // Set when the server answered before it had the whole streamed upload (a 413, a redirect): the answer
  // goes to the client, then the upload is abandoned and both connections end.
  let answeredEarly = false;
  let uploaded = !request.stream;
  if (request.stream) {
    const sending = streamBody(pendingChunks ?? [], req, upstream.stream()).then(
      () => void (uploaded = true),
      (err: unknown) => err ?? new Error("upload failed"),
    );
    const first = await Promise.race([
      sending.then((err) => ({ sent: true as const, err })),
      upstream.response.then(
        () => ({ sent: false as const, answered: true }),
        () => ({ sent: false as const, answered: false }),
      ),
    ]);
    if (first.sent) {
      if (first.err) return fail(`error sending request: ${errorText(first.err)}`, 502, true);
    } else if (first.answered) {
      answeredEarly = true;
    } else {
      // The response failed first; the upload's own outcome says best what went wrong, if it did.
      const err = await sending;
      if (err) return fail(`error sending request: ${errorText(err)}`, 502, true);
    }
  } else {
    upstream.end(request.body);
  }
  if (answeredEarly) {
    // Once the whole response is out (HTTP/2: its stream's writable side; the response object itself
    // finishes only when the stream closes, which the client's upload holds up).
    (isH2(res) ? res.stream : res).once("finish", () => {
      // The upload ended meanwhile after all: both connections go on as usual.
      if (uploaded) return;
      // What is left of the upload is never read: neither connection can carry another request.
      upstream.destroy();
      closeClient(res);
    });
  }

  let upRes: UpstreamResponse;
  try {
    upRes = await answerWithin(upstream.response, proxy.settings.idleTimeoutMs);
  } catch (err) {
    if (res.destroyed) return fail("client disconnected", 502, true);
    if (err instanceof NoAnswer) {
      upstream.destroy();
      return fail(err.message, 504, false);
    }
    return fail(errorText(err), 502, false);
  }

  const response = new Response({
    status: upRes.status,
    reason: upRes.reason,
    headers: Headers.fromRaw(upRes.rawHeaders),
    httpVersion: upRes.httpVersion,
  });
  flow.response = response;
  await clientWaits(proxy, conn.session, "responseheaders", flow);
  if (flow.killed) return "error";

  const limit = proxy.settings.streamLargeBodies;
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (limit !== undefined && declared > limit) response.stream = true;

  let firstChunks: Buffer[] = [];
  if (!response.stream) {
    try {
      const max = limit ?? proxy.settings.bodySizeLimit ?? Infinity;
      const read: BodyRead =
        upRes.complete !== undefined && upRes.complete.length <= max
          ? { complete: true, body: upRes.complete }
          : await readBody(upRes.body, max, proxy.settings.idleTimeoutMs);
      if (read.complete) {
        response.body = read.body;
        const trailers = upRes.trailers();
        if (trailers) response.trailers = Headers.fromRaw(trailers);
      } else if (limit !== undefined) {
        response.stream = true;
        firstChunks = read.chunks;
      } else {
        upstream.destroy();
        flow.response = undefined;
        return fail(
          `response body larger than body_size_limit (${formatSize(proxy.settings.bodySizeLimit!)})`,
          502,
          false,
        );
      }
    } catch (err) {
      flow.response = undefined;
      return fail(`server connection failed while reading the response: ${errorText(err)}`, 502, true);
    }
  }

  if (!response.stream) {
    response.timestampEnd = Date.now() / 1000;
    await clientWaits(proxy, conn.session, "response", flow);
    if (flow.killed) return "error";
    sendBuffered(res, flow.response ?? response, request.method);
    return "ok";
  }

  writeHead(res, response);
  const interrupted = (err: unknown) => {
    destroyResponse(res);
    flow.error = { msg: `stream interrupted: ${errorText(err)}`, timestamp: Date.now() / 1000 };
    return "error" as const;
  };
  const inKernel = await spliceBody(res, req.method ?? request.method, response, upRes, firstChunks);
  if (inKernel === undefined) {
    try {
      await streamBody(firstChunks, upRes.body, res, undefined, () => {
        const trailers = upRes.trailers();
        if (trailers) {
          response.trailers = Headers.fromRaw(trailers);
          addTrailers(res, response.trailers);
        }
      });
    } catch (err) {
      return interrupted(err);
    }
  } else if (inKernel !== "ok") {
    return interrupted(inKernel.error);
  }
  response.timestampEnd = Date.now() / 1000;
  await host.trigger("response", flow);
  return "ok";
}

/**
 * A streamed HTTP/1 body with a Content-Length, between two plain TCP
 * sockets, is moved by the splice worker thread fd to fd instead of chunk by
 * chunk through JS streams: "ok" when it
 * did, `{ error }` when that failed (the server connection is closed; the
 * caller closes the client's), undefined when it could not be tried (the
 * caller streams it). The head must have been written.
 */
async function spliceBody(
  res: ClientResponse,
  method: string,
  response: Response,
  upRes: UpstreamResponse,
  firstChunks: Buffer[],
): Promise<"ok" | { error: unknown } | undefined> {
  if (isH2(res) || !upRes.takeBody) return undefined;
  // No body goes to the client for HEAD, 1xx, 204 and 304 (an addon may have changed the method or the
  // status): Node's response drops what is written, which only the JS path goes through.
  if (bodyLength(response, method) === undefined) return undefined;
  const client = res.socket;
  if (!client || client instanceof tls.TLSSocket) return undefined;
  // The client must be told the same framing: the server's bytes go out as they came. (An addon that
  // dropped the Content-Length gets Node's chunked framing, which only the JS path writes.)
  const declared = response.headers.getAll("content-length");
  if (declared.length !== 1 || response.headers.has("transfer-encoding")) return undefined;
  const taken = upRes.takeBody();
  if (!taken) return undefined;
  let length = taken.length;
  for (const c of firstChunks) length += c.length;
  if (declared[0]!.trim() !== String(length)) {
    taken.giveBack();
    return undefined;
  }
  res.flushHeaders();
  const moving = spliceBytes(
    taken.socket,
    client,
    length,
    firstChunks.length > 0 ? [...firstChunks, ...taken.first] : taken.first,
  );
  if (!moving) {
    taken.giveBack();
    return undefined;
  }
  try {
    await moving;
  } catch (error) {
    taken.done(false);
    // Say it as the JS path does: the user reads about the server, not about the mechanism.
    const e = error as NodeJS.ErrnoException;
    if (e.code) return { error: e };
    if (e instanceof TransferError && e.srcEnded)
      return { error: new Error("server closed the connection before the body was complete") };
    return {
      error: new Error(
        e.message
          .replace(/^spliceBytes: /, "")
          .replace(/\bsrc\b/g, "server")
          .replace(/\bdst\b/g, "client"),
      ),
    };
  }
  taken.done(true);
  res.end();
  return "ok";
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

/**
 * The server connection a request goes over: the tunnel's; or, for an
 * absolute-form request, one per authority (in upstream mode: the upstream
 * proxy for plain HTTP, a CONNECT tunnel through it for https).
 */
function serverFor(ctx: HttpContext, request: Request): { conn: ServerConn; viaProxy: UpstreamProxy | undefined } {
  if (ctx.tunnel) return { conn: ctx.tunnel.server, viaProxy: undefined };
  const { session } = ctx;
  const upstream = session.upstreamProxy();
  if (upstream && request.scheme === "http") {
    return {
      conn: session.serverFor({ host: upstream.host, port: upstream.port }, upstream.scheme === "https"),
      viaProxy: upstream,
    };
  }
  return {
    conn: session.serverFor({ host: request.host, port: request.port }, request.scheme === "https", upstream),
    viaProxy: undefined,
  };
}

function buildRequest(ctx: HttpContext, req: ClientRequest): Request | string {
  const method = req.method ?? "GET";
  const target = req.url ?? "/";
  const httpVersion = req.httpVersionMajor === 2 ? "HTTP/2.0" : `HTTP/${req.httpVersion}`;
  let headers: Headers;
  if (req.httpVersionMajor === 2) {
    // Pseudo-headers become the request's fields; :authority stands in as Host (what HTTP/1 servers need).
    headers = new Headers();
    let authority: string | undefined;
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i] === ":authority") authority = raw[i + 1];
      else if (!raw[i]!.startsWith(":")) headers.fields.push([raw[i]!, raw[i + 1]!]);
    }
    if (authority && !headers.has("host")) headers.fields.unshift(["host", authority]);
  } else {
    headers = Headers.fromRaw(req.rawHeaders);
  }
  if (ctx.tunnel) {
    const { address } = ctx.tunnel.server.data;
    if (target.startsWith("/") || target === "*") {
      return new Request({
        method,
        scheme: ctx.tunnel.scheme,
        host: address.host,
        port: address.port,
        path: target,
        form: "origin",
        headers,
        httpVersion,
      });
    }
    const parsed = parseAbsolute(target);
    if (!parsed) return `invalid request target '${truncate(target)}'`;
    return new Request({
      method,
      scheme: ctx.tunnel.scheme,
      host: address.host,
      port: address.port,
      path: parsed.path,
      form: "absolute",
      headers,
      httpVersion,
    });
  }
  if (target.startsWith("/") || target === "*") {
    return `invalid HTTP request form (expected authority or absolute, got origin: '${truncate(target)}'); is this a proxy client?`;
  }
  const parsed = parseAbsolute(target);
  if (!parsed) return `invalid request target '${truncate(target)}'`;
  return new Request({ method, ...parsed, form: "absolute", headers, httpVersion });
}

function parseAbsolute(
  target: string,
): { scheme: "http" | "https"; host: string; port: number; path: string } | undefined {
  const m = /^(https?):\/\//i.exec(target);
  if (!m) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  const scheme = m[1]!.toLowerCase() as "http" | "https";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (!host) return undefined;
  // Keep the path exactly as the client wrote it (URL would normalise it).
  const afterAuthority = target.slice(m[0].length).replace(/^[^/?#]*/, "");
  const path = afterAuthority.replace(/#.*$/, "") || "/";
  return {
    scheme,
    host,
    port: url.port ? Number(url.port) : scheme === "https" ? 443 : 80,
    path: path.startsWith("/") ? path : `/${path}`,
  };
}

/** The request's fields minus hop-by-hop ones; the wire order and spelling of the rest stay. */
function forwardHeaders(headers: Headers): Headers {
  const connectionTokens = new Set(
    headers.getAll("connection").flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase())),
  );
  let drop = false;
  for (const [name] of headers.fields) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (connectionTokens.has(lower) && lower !== "close" && lower !== "keep-alive")) {
      drop = true;
      break;
    }
  }
  if (!drop) return headers;
  const out = new Headers();
  for (const [name, value] of headers.fields) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (connectionTokens.has(lower) && lower !== "close" && lower !== "keep-alive") continue;
    out.fields.push([name, value]);
  }
  return out;
}

type ClientRequest = http.IncomingMessage | http2.Http2ServerRequest;
type ClientResponse = http.ServerResponse | http2.Http2ServerResponse;

function isH2(res: ClientResponse): res is http2.Http2ServerResponse {
  return res instanceof http2.Http2ServerResponse;
}

/**
 * Writes the status line and fields: HTTP/1 keeps the reason and spelling;
 * HTTP/2 drops what it forbids. `length`: the body that will follow, when
 * known; a Content-Length that disagrees with it (an addon assigned `body`
 * directly) is corrected, as a wrong one would desynchronise the client.
 */
function writeHead(res: ClientResponse, response: Response, length?: number): void {
  let fields: ReadonlyArray<readonly [string, string]> = response.headers.fields;
  if (length !== undefined && needsLengthFix(fields, length)) {
    const value = String(length);
    let seen = false;
    const fixed: Array<[string, string]> = [];
    for (const [name, v] of response.headers.fields) {
      if (name.toLowerCase() !== "content-length") fixed.push([name, v]);
      else if (!seen) {
        seen = true;
        fixed.push([name, value]);
      }
    }
    fields = fixed;
  }
  if (isH2(res)) {
    const raw: string[] = [];
    for (const [name, value] of fields) {
      if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) raw.push(name.toLowerCase(), value);
    }
    res.writeHead(response.status, raw as unknown as http2.OutgoingHttpHeaders);
  } else {
    // Node would add `Connection: keep-alive` and `Keep-Alive: timeout=…`: the client gets the server's fields only.
    if (!response.headers.has("connection")) res.removeHeader("connection");
    fields = chunkedFraming(fields);
    res.writeHead(
      response.status,
      response.reason,
      fields === response.headers.fields ? response.headers.toRaw() : fields.flat(),
    );
  }
}

/**
 * Fields whose Transfer-Encoding (an addon may have set one) frames the body
 * truly for an HTTP/1 client: Content-Length beside it goes (RFC 9112 §6.3),
 * and a last coding other than chunked gets `, chunked` (Node chunks the body
 * only when the field names it; else the body would run until a close that a
 * kept-alive connection never makes). Without Transfer-Encoding, `fields` as they are.
 */
function chunkedFraming(fields: ReadonlyArray<readonly [string, string]>): ReadonlyArray<readonly [string, string]> {
  if (!fields.some(([name]) => name.length === 17 && name.toLowerCase() === "transfer-encoding")) return fields;
  const te = fields
    .filter(([n]) => n.toLowerCase() === "transfer-encoding")
    .map(([, v]) => v)
    .join(",");
  const last = te
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
    .pop();
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (lower === "content-length") continue;
    if (lower === "transfer-encoding") {
      // One field with the whole list, written where the first one was.
      if (!out.some(([n]) => n.toLowerCase() === "transfer-encoding"))
        out.push([name, last === "chunked" ? te : `${te}, chunked`]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}

/** Content-Length fields that disagree with `length` (or repeat), without Transfer-Encoding: the common case (one true field) allocates nothing. */
function needsLengthFix(fields: ReadonlyArray<readonly [string, string]>, length: number): boolean {
  let count = 0;
  let wrong = false;
  for (const [name, value] of fields) {
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      count++;
      if (value.trim() !== String(length)) wrong = true;
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      return false;
    }
  }
  return count > 1 || wrong;
}

/** The length a buffered body has on the wire, or undefined where the message has none (HEAD, 1xx, 204, 304). */
function bodyLength(response: Response, method: string): number | undefined {
  const s = response.status;
  if (method === "HEAD" || s < 200 || s === 204 || s === 304) return undefined;
  return response.body.length;
}

function addTrailers(res: ClientResponse, trailers: Headers): void {
  const obj: Record<string, string> = {};
  for (const [k, v] of trailers.fields) obj[k] = obj[k] === undefined ? v : `${obj[k]}, ${v}`;
  res.addTrailers(obj);
}

/** Ends the client's connection (HTTP/1) or just this stream (HTTP/2) once its response is out. */
function closeClient(res: ClientResponse): void {
  if (isH2(res)) {
    if (!res.stream.closed) res.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  } else {
    res.socket?.destroySoon?.();
  }
}

function destroyResponse(res: ClientResponse): void {
  if (isH2(res)) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

function sendBuffered(res: ClientResponse, response: Response, method: string): void {
  if (res.destroyed) return;
  writeHead(res, response, bodyLength(response, method));
  if (response.trailers && response.trailers.size > 0) addTrailers(res, response.trailers);
  res.end(response.body);
}

/** A plain-text error page (the body says why). */
export function sendError(res: ClientResponse, status: number, message: string, close: boolean): void {
  if (res.headersSent || res.destroyed) {
    destroyResponse(res);
    return;
  }
  const body = `${message}\n`;
  if (isH2(res)) {
    res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(Buffer.byteLength(body)),
    });
    res.end(body);
    return;
  }
  const reason = http.STATUS_CODES[status] ?? "Error";
  const headers = ["Content-Type", "text/plain; charset=utf-8", "Content-Length", String(Buffer.byteLength(body))];
  if (close) headers.push("Connection", "close");
  res.writeHead(status, reason, headers);
  res.end(body);
}

/**
 * A flow hook while the client waits for its answer. Addons that hold it
 * longer than idle_timeout (a hook that never settles) lose the flow: it is
 * killed, its client let go, and the hook may still finish, for nothing.
 */
function clientWaits(
  proxy: ProxyContext,
  session: { log(level: LogLevel, message: string): void },
  hook: "requestheaders" | "request" | "responseheaders" | "response",
  flow: HTTPFlow,
): void | Promise<void> {
  const pending = proxy.host.trigger(hook, flow);
  const ms = proxy.settings.idleTimeoutMs;
  if (!pending || ms <= 0) return pending;
  const timer = setTimeout(() => {
    if (flow.killed) return;
    const msg = `addons held the flow in ${hook} longer than idle_timeout (${ms / 1000} s)`;
    session.log("info", `${msg}: closing the client connection (${flow.request.method} ${flow.request.prettyUrl})`);
    flow.kill();
    flow.error = { msg, timestamp: Date.now() / 1000 };
  }, ms);
  return pending.finally(() => clearTimeout(timer));
}

/** The server sent no response head within idle_timeout of the request. */
class NoAnswer extends Error {}

/** `answer`, unless it takes longer than `ms` (0: no limit): then NoAnswer. */
function answerWithin<T>(answer: Promise<T>, ms: number): Promise<T> {
  if (ms <= 0) return answer;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswer(`server did not answer within idle_timeout (${ms / 1000} s)`)), ms);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  if (err instanceof ServerConnectError) return err.message;
  return describeNetError(err);
}

function sniFor(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(":") ? undefined : host;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

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
  const { session } = ctx;
  const { host } = proxy;
  socket.on("error", () => {});
  const request = buildRequest(ctx, req);
  if (typeof request === "string") {
    session.log("warn", `bad request: ${request}`);
    socket.end(textResponse(400, "Bad Request", request));
    return;
  }
  const isTunnel = ctx.tunnel !== undefined;
  rewriteReverseHost(proxy, ctx, request);
  const chosen = serverFor(ctx, request);
  let conn = chosen.conn;
  const viaProxy = chosen.viaProxy;
  let upstream: H1Exchange | undefined;
  const flow = new HTTPFlow(session.client, conn.data, request, () => {
    upstream?.destroy();
    socket.destroy();
  });
  const fail = async (msg: string, status = 502) => {
    flow.error = { msg, timestamp: Date.now() / 1000 };
    if (socket.writable) socket.end(textResponse(status, status === 504 ? "Gateway Timeout" : "Bad Gateway", msg));
    await host.trigger("error", flow);
  };
  await clientWaits(proxy, session, "requestheaders", flow);
  if (!flow.response && !flow.killed) await clientWaits(proxy, session, "request", flow);
  if (flow.killed) return;
  if (flow.response) {
    await clientWaits(proxy, session, "responseheaders", flow);
    await clientWaits(proxy, session, "response", flow);
    const r = flow.response;
    if (socket.writable) socket.end(Buffer.concat([rawHead(r.status, r.reason, r.headers.fields), r.body]));
    return;
  }
  if (isTunnel && conn.connectFailed && !conn.connected && conn.data.error) return fail(conn.data.error);
  try {
    if (!isTunnel && conn.data.tls && !conn.data.tlsEstablished) {
      await conn.connect();
      if (!conn.data.tlsEstablished) await conn.startTls({ sni: sniFor(conn.data.address.host), alpn: ["http/1.1"] });
    }
    if (conn.data.alpn === "h2") {
      // The server chose HTTP/2 for this connection; an HTTP/1.1 Upgrade needs a connection of its own.
      const own = session.newServer(conn.data.address);
      await own.connect();
      await own.startTls({ sni: conn.data.sni, alpn: ["http/1.1"] });
      conn = own;
    }
    await conn.readyForHttp1();
  } catch (err) {
    return fail(errorText(err));
  }
  // Compression extensions are negotiated off, so every message can be read and changed.
  const headers = new Headers(request.headers);
  headers.delete("sec-websocket-extensions");
  headers.delete("proxy-connection");
  headers.delete("proxy-authorization");
  if (!headers.has("host")) headers.fields.unshift(["Host", request.authority]);
  if (viaProxy?.auth) headers.set("Proxy-Authorization", `Basic ${Buffer.from(viaProxy.auth).toString("base64")}`);
  let outcome: H1Result;
  try {
    upstream = startHttp1Request(conn, request, headers, viaProxy, true);
    upstream.end(request.body);
    outcome = await answerWithin(upstream.response, proxy.settings.idleTimeoutMs);
  } catch (err) {
    if (err instanceof NoAnswer) upstream?.destroy();
    return err instanceof NoAnswer ? fail(err.message, 504) : fail(errorText(err));
  }
  const response = new Response({
    status: outcome.head.status,
    reason: outcome.head.reason,
    headers: Headers.fromRaw(outcome.head.rawHeaders),
    httpVersion: outcome.head.httpVersion,
  });
  flow.response = response;
  await clientWaits(proxy, session, "responseheaders", flow);
  if (flow.killed) {
    if (outcome.kind === "upgrade") outcome.socket.destroy();
    else upstream.destroy();
    return;
  }
  if (outcome.kind === "response") {
    // The server declined the upgrade: pass its answer on (within body_size_limit); the connection ends with it.
    const read = await readBody(outcome.body, proxy.settings.bodySizeLimit ?? Infinity).catch(() => undefined);
    if (!read?.complete) {
      upstream.destroy();
      return fail(
        read
          ? `response body larger than body_size_limit (${formatSize(proxy.settings.bodySizeLimit!)})`
          : "server connection failed while reading the response",
      );
    }
    response.body = read.body;
    await clientWaits(proxy, session, "response", flow);
    if (flow.killed) return;
    // The connection ends with this answer: its body goes out whole, framed by its length.
    const headers = new Headers(response.headers);
    headers.delete("transfer-encoding");
    headers.set("Content-Length", String(response.body.length));
    if (socket.writable)
      socket.end(Buffer.concat([rawHead(response.status, response.reason, headers.fields), response.body]));
    return;
  }
  await clientWaits(proxy, session, "response", flow);
  if (flow.killed) {
    outcome.socket.destroy();
    return;
  }
  outcome.socket.on("error", () => {});
  socket.write(rawHead(response.status, response.reason, response.headers.fields));
  const isWebSocket = (request.headers.get("upgrade") ?? "").toLowerCase().includes("websocket");
  if (isWebSocket && response.status === 101) {
    await relayWebSocket(session, flow, socket, outcome.socket, head, outcome.rest);
  } else {
    await relay(socket, outcome.socket, head, outcome.rest);
  }
}
