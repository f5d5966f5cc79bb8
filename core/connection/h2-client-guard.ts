import * as http2 from "node:http2";
import type * as net from "node:net";
import type { LogLevel } from "@interloper/sdk";
import { ResetBudget } from "./h2-reset-budget.ts";

/**
 * Bytes of responses an HTTP/2 client connection may have waiting to be sent
 * (its flow-control windows closed: it does not read) before further work for
 * it waits. Beyond this a client that never reads would make the proxy hold
 * every response it asks for.
 */
export const SEND_BUDGET = 1024 * 1024;

/** Streams a client may reset before their answer: all it may have open at once, then 25 a second. */
const RESET_BURST = 250;
const RESETS_PER_SECOND = 25;

const guards = new WeakMap<http2.Http2Session, Http2ClientGuard>();

/**
 * What the proxy watches on one HTTP/2 client connection (ALPN h2 or h2c):
 *
 * - its end: the socket's end or error destroys the session in every state;
 * - silence: when no frame moves for idle_timeout and no stream waits on the
 *   proxy's side (hooks, the server: those have bounds of their own), the
 *   connection is closed, whatever streams are still open. This also ends a
 *   session nghttp2 gave up on (it sent GOAWAY for a protocol error, then
 *   Node stops reading the socket and tells nobody);
 * - rapid reset: a client that resets streams before their answer at a flood
 *   rate gets GOAWAY(ENHANCE_YOUR_CALM);
 * - what the client has not read: `untilClientReads` holds work for it while
 *   more than SEND_BUDGET bytes wait to be sent on its connection.
 */
export class Http2ClientGuard {
  private readonly streams = new Set<http2.ServerHttp2Stream>();
  /** Streams held in `untilClientReads`: they wait for the client, not for the proxy. */
  private readonly waitingOnClient = new Set<http2.ServerHttp2Stream>();
  private wakers: Array<() => void> = [];
  private readonly resets = new ResetBudget(RESET_BURST, RESETS_PER_SECOND);

  constructor(
    private readonly session: http2.ServerHttp2Session,
    private readonly socket: net.Socket,
    private readonly idleTimeoutMs: number,
    private readonly log: (level: LogLevel, message: string) => void,
  ) {
    guards.set(session, this);
    session.on("stream", (stream: http2.ServerHttp2Stream) => this.track(stream));
    session.once("close", () => this.wake());
    // nghttp2 reads the socket itself; the end of the client's side still reaches the socket object.
    socket.once("end", () => socket.destroy());
    socket.on("error", () => socket.destroy());
    if (idleTimeoutMs > 0) {
      session.on("timeout", () => this.onIdle());
      session.setTimeout(idleTimeoutMs);
    }
  }

  /** The guard of the connection `stream` belongs to, if it is an HTTP/2 client's. */
  static of(stream: http2.Http2Stream): Http2ClientGuard | undefined {
    const session = stream.session;
    return session ? guards.get(session) : undefined;
  }

  /** Bytes written to the client's streams that it has not taken yet. */
  queued(): number {
    let n = 0;
    for (const s of this.streams) n += s.writableLength;
    return n;
  }

  /**
   * Resolves once the client has read enough of what waits for it (less than
   * SEND_BUDGET queued), or `stream` or the connection is gone; undefined when
   * there is room now. Meanwhile `stream` counts as waiting on the client.
   */
  untilClientReads(stream: http2.ServerHttp2Stream): Promise<void> | undefined {
    if (!this.full(stream)) return undefined;
    return this.hold(stream);
  }

  private full(stream: http2.ServerHttp2Stream): boolean {
    return !this.session.destroyed && !stream.destroyed && this.queued() >= SEND_BUDGET;
  }

  private async hold(stream: http2.ServerHttp2Stream): Promise<void> {
    this.waitingOnClient.add(stream);
    try {
      while (this.full(stream)) await new Promise<void>((resolve) => this.wakers.push(resolve));
    } finally {
      this.waitingOnClient.delete(stream);
    }
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  private track(stream: http2.ServerHttp2Stream): void {
    this.streams.add(stream);
    // What the client read shows as a stream draining or finishing; a closed stream frees its bytes.
    const progress = () => {
      if (this.wakers.length > 0) this.wake();
    };
    stream.on("drain", progress);
    stream.once("finish", progress);
    stream.once("close", () => {
      this.streams.delete(stream);
      progress();
      this.countReset(stream);
    });
  }

  /** A stream the client reset before it was answered spends from the reset budget. */
  private countReset(stream: http2.ServerHttp2Stream): void {
    if (this.session.destroyed || stream.headersSent) return;
    if (stream.rstCode === undefined || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) return;
    if (this.resets.take()) return;
    this.log(
      "warn",
      `HTTP/2 client resets streams before their answers at a flood rate (more than ${RESET_BURST} at once, ` +
        `${RESETS_PER_SECOND} a second; rapid reset, CVE-2023-44487): closing the connection with ENHANCE_YOUR_CALM`,
    );
    // (Without an error, destroy() would take its default for one and send NO_ERROR.)
    this.session.destroy(new Error("rapid reset"), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // A client that does not read the GOAWAY must not keep the socket.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Node's session timer: no frame in or out for idle_timeout (a write still
   * making progress counts as movement).
   */
  private onIdle(): void {
    if (this.session.destroyed) return;
    if ([...this.streams].some((s) => this.waitsOnProxy(s))) {
      // Its own bound (a hook, the server's answer, a body) ends that wait; look again afterwards.
      this.session.setTimeout(this.idleTimeoutMs);
      return;
    }
    if (this.streams.size === 0) {
      // An idle connection, like an idle HTTP/1 keep-alive one: GOAWAY, then the socket goes.
      this.session.close();
      setTimeout(() => this.socket.destroy(), 1000).unref();
      return;
    }
    this.log(
      "info",
      `HTTP/2: nothing sent or received for idle_timeout (${this.idleTimeoutMs / 1000} s) while ` +
        `${this.streams.size} stream(s) wait for the client: closing the connection`,
    );
    // Node's own end of a lost socket: open streams are cancelled, the session destroyed.
    this.socket.destroy();
  }

  /**
   * Whether the proxy, not the client, holds this stream up: its answer has
   * not started (hooks, the server), or a streamed body waits for the server's
   * next bytes with nothing queued for the client. A stream the proxy closed
   * already only waits for its RST_STREAM to go out (which never happens once
   * nghttp2 gave up on the session).
   */
  private waitsOnProxy(stream: http2.ServerHttp2Stream): boolean {
    if (stream.closed || this.waitingOnClient.has(stream)) return false;
    if (!stream.headersSent) return true;
    return stream.writableLength === 0 && !stream.writableEnded;
  }
}

/**
 * For the exchange: resolves once the HTTP/2 client of `res` has room for
 * more (see Http2ClientGuard.untilClientReads); undefined for HTTP/1 clients
 * and when there is room now. Await it before sending a request upstream and
 * before reading a response body, so that a client that does not read stops
 * the proxy from reading servers for it.
 */
export function untilClientReads(stream: http2.ServerHttp2Stream): Promise<void> | undefined {
  return Http2ClientGuard.of(stream)?.untilClientReads(stream);
}
