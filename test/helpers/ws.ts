// WebSocket pieces for the end-to-end suites: a `ws` echo origin (plain or
// TLS with the test's origin CA) that records handshakes, messages and closes,
// and a client wrapper with bounded waits. Everything on 127.0.0.1.
import type * as http from "node:http";
import * as https from "node:https";
import * as httpModule from "node:http";
import type * as net from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { WAIT_MS, originCa } from "./harness.ts";

export interface WsMessage {
  data: Buffer;
  isBinary: boolean;
}

export interface WsOrigin {
  port: number;
  server: http.Server | https.Server;
  /** Every upgrade request that reached the origin (declined ones too). */
  handshakes: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  /** Messages received, per connection in order of opening. */
  received: WsMessage[][];
  /** Close code and reason each connection got from its peer. */
  closes: Array<{ code: number; reason: string }>;
  /** Pongs the origin received (after its own pings). */
  pongs: Buffer[];
  sockets: WebSocket[];
  close(): Promise<void>;
}

/**
 * A WebSocket echo origin: each message comes back with the same type. Text
 * commands: `close-1001` (the origin closes with 1001 "going away"),
 * `ping-me` (the origin pings with payload "srv"). Upgrades for paths
 * starting with `/decline` are answered `403 Forbidden` with a body.
 * permessage-deflate is enabled on the origin, so a forwarded offer would be
 * accepted.
 */
export async function startWsOrigin(opts: { tls?: boolean } = {}): Promise<WsOrigin> {
  let server: http.Server | https.Server;
  if (opts.tls) {
    const ca = await originCa();
    server = https.createServer({ key: ca.keyPem, cert: ca.certFor(["localhost", "127.0.0.1"]) });
  } else {
    server = httpModule.createServer();
  }
  server.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(426, { "Content-Type": "text/plain" });
    res.end("upgrade required\n");
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, maxPayload: 64 * 1024 * 1024 });
  const origin: WsOrigin = {
    port: 0,
    server,
    handshakes: [],
    received: [],
    closes: [],
    pongs: [],
    sockets: [],
    close: async () => {},
  };
  const raw = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    raw.add(s);
    s.on("close", () => raw.delete(s));
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    origin.handshakes.push({ url: req.url ?? "", headers: req.headers });
    socket.on("error", () => {});
    if ((req.url ?? "").startsWith("/decline")) {
      const body = "forbidden by origin\n";
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const received: WsMessage[] = [];
      origin.received.push(received);
      origin.sockets.push(ws);
      ws.on("error", () => {});
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        received.push({ data, isBinary });
        const text = isBinary ? undefined : data.toString();
        if (text === "close-1001") {
          ws.close(1001, "going away");
          return;
        }
        if (text === "ping-me") {
          ws.ping(Buffer.from("srv"));
          return;
        }
        ws.send(data, { binary: isBinary });
      });
      ws.on("pong", (data: Buffer) => origin.pongs.push(data));
      ws.on("close", (code: number, reason: Buffer) => origin.closes.push({ code, reason: reason.toString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin.port = (server.address() as net.AddressInfo).port;
  origin.close = () =>
    new Promise<void>((r) => {
      for (const ws of origin.sockets) ws.terminate();
      for (const s of raw) s.destroy();
      wss.close();
      server.close(() => r());
    });
  return origin;
}

/** A `ws` client whose events are recorded; every wait is bounded and woken by those events. */
export class WsClient {
  readonly messages: WsMessage[] = [];
  readonly pongs: Buffer[] = [];
  closed: { code: number; reason: string } | undefined;
  error: Error | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    const wake = () => {
      for (const w of [...this.waiters]) w();
    };
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.messages.push({ data, isBinary });
      wake();
    });
    ws.on("pong", (data: Buffer) => {
      this.pongs.push(data);
      wake();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      wake();
    });
    ws.on("error", (e) => {
      this.error = e;
      wake();
    });
  }

  /** Resolves with `check`'s value once it has one (re-checked on every event), rejects after `timeoutMs`. */
  private until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      const attempt = () => {
        const v = check();
        if (v === undefined) return;
        finish();
        resolve(v);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }

  /**
   * Opens `url` (optionally over a socket of the caller's: a CONNECT tunnel,
   * TLS in one). Resolves on `open`; rejects on an error or an unexpected
   * HTTP response (`UnexpectedResponse` carries it).
   */
  static open(
    url: string,
    opts: { socket?: net.Socket; headers?: Record<string, string>; perMessageDeflate?: boolean } = {},
    timeoutMs = WAIT_MS,
  ): Promise<WsClient> {
    const ws = new WebSocket(url, {
      perMessageDeflate: opts.perMessageDeflate ?? true,
      headers: opts.headers,
      maxPayload: 64 * 1024 * 1024,
      // A tunnel socket from `openTunnel` is paused: Node's HTTP client would never read the 101.
      ...(opts.socket
        ? { createConnection: (() => opts.socket!.resume()) as unknown as typeof net.createConnection }
        : {}),
    });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url} did not open`));
      }, timeoutMs);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once("unexpected-response", (_req: http.ClientRequest, res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          ws.terminate();
          reject(
            new UnexpectedResponse(res.statusCode ?? 0, res.statusMessage ?? "", Buffer.concat(chunks).toString()),
          );
        });
      });
      ws.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  send(data: string | Buffer, binary?: boolean): void {
    this.ws.send(data, { binary: binary ?? typeof data !== "string" });
  }

  /** Waits until `n` messages arrived in all. */
  async waitMessages(n: number, timeoutMs = WAIT_MS): Promise<WsMessage[]> {
    await this.until(
      () => (this.messages.length >= n || this.closed !== undefined ? true : undefined),
      `${n} WebSocket messages (got ${this.messages.length})`,
      timeoutMs,
    );
    if (this.messages.length < n)
      throw new Error(
        `closed (${JSON.stringify(this.closed)}) after ${this.messages.length} of ${n} messages: ${this.texts().join(" | ")}`,
      );
    return this.messages;
  }

  async waitClosed(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, "the WebSocket close", timeoutMs);
  }

  texts(): string[] {
    return this.messages.map((m) => (m.isBinary ? `<binary ${m.data.length}>` : m.data.toString()));
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class UnexpectedResponse extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly body: string,
  ) {
    super(`unexpected response ${status} ${reason}`);
  }
}
