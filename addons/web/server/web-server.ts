// The UI's HTTP server: every request passes the Host check and proves it may come in
// (access.ts), then goes to the REST routes, the static files or the WebSocket hub. Errors
// are one JSON line; a bug in a route answers 500 and is logged, the server goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  credentialOf,
  hostAllowed,
  originAllowed,
  setCookieHeader,
  type AccessRules,
  type Credential,
} from "./access.ts";
import { fileRoutes } from "./api-files.ts";
import { flowRoutes } from "./api-flows.ts";
import { proxyRoutes } from "./api-proxy.ts";
import { baseHeaders, HttpError, sendError, sendText } from "./http-io.ts";
import { Router } from "./router.ts";
import { serveStatic } from "./static.ts";
import type { UpdateHub } from "./updates.ts";
import type { WebApi } from "./web-api.ts";

const FORBIDDEN_AUTH =
  "403 Forbidden: open the address interloper printed at start-up (http://…/?token=…), or give web_password.\n";

export class WebServer {
  private readonly server: Server;
  private readonly router = new Router();
  private readonly sockets = new Set<Duplex>();

  constructor(
    private readonly api: WebApi,
    private readonly rules: AccessRules,
    private readonly hub: UpdateHub,
    private readonly staticDir: string,
  ) {
    // File routes first: `/api/flows/dump` is not a flow id.
    fileRoutes(this.router, api);
    flowRoutes(this.router, api);
    proxyRoutes(this.router, api);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  /** Listens; rejects with the system's reason (address in use, not available). */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    this.hub.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    baseHeaders(res);
    const url = new URL(req.url ?? "/", "http://ui.invalid");
    const admitted = this.admit(req, url);
    if ("refused" in admitted) return sendText(res, 403, admitted.refused);
    if (admitted.credential === "query") {
      res.setHeader("Set-Cookie", setCookieHeader(this.rules.secret));
      if (req.method === "GET" && url.pathname === "/") {
        // The token leaves the address bar (and the history): the cookie carries on.
        url.searchParams.delete("token");
        res.writeHead(302, { Location: `/${url.search}` });
        return void res.end();
      }
    }
    if (req.method === "OPTIONS") return sendError(res, 405, "no CORS here");
    try {
      if (url.pathname.startsWith("/api/")) return await this.route(req, res, url);
      if (!serveStatic(req, res, url.pathname, this.staticDir)) sendText(res, 404, "404 Not Found\n");
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err.status, err.message);
      this.api.loader.log.error(`web UI: ${req.method} ${url.pathname} failed: ${(err as Error).stack ?? err}`);
      sendError(res, 500, `internal error: ${(err as Error).message}`);
    }
  }

  /** The credential of an admitted request, or why it is refused (403). */
  private admit(req: IncomingMessage, url: URL): { credential: Credential } | { refused: string } {
    const host = req.headers.host;
    if (!hostAllowed(host, this.rules))
      return { refused: `403 Forbidden: the Host header ${JSON.stringify(host ?? "")} does not name this web UI.\n` };
    const origin = req.headers.origin;
    const changes = req.method !== "GET" && req.method !== "HEAD";
    if (changes && origin !== undefined && !originAllowed(origin, host))
      return { refused: `403 Forbidden: a request from ${JSON.stringify(origin)} may not change anything here.\n` };
    const credential = credentialOf(url.searchParams, req.headers, this.rules.secret);
    return credential === undefined ? { refused: FORBIDDEN_AUTH } : { credential };
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const match = this.router.match(req.method ?? "GET", url.pathname);
    if (match === undefined) return sendError(res, 404, `no such endpoint: ${url.pathname}`);
    if (match === "wrong-method") return sendError(res, 405, `${req.method} is not allowed on ${url.pathname}`);
    await match.handler({ req, res, url, params: match.params });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "http://ui.invalid");
    const host = req.headers.host;
    let refusal: string | undefined;
    if (!hostAllowed(host, this.rules)) refusal = "the Host header does not name this web UI";
    // Browsers always send Origin with a WebSocket: a page of another site is refused here.
    else if (req.headers.origin !== undefined && !originAllowed(req.headers.origin, host))
      refusal = `a WebSocket from ${req.headers.origin} is not allowed`;
    else if (credentialOf(url.searchParams, req.headers, this.rules.secret) === undefined)
      refusal = "no token, cookie or password";
    else if (url.pathname !== "/api/updates") refusal = "no WebSocket here";
    if (refusal !== undefined) {
      const body = `403 Forbidden: ${refusal}\n`;
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.hub.accept(req, socket, head);
  }
}
