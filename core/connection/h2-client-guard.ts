import * as http2 from "node:http2";
import type * as net from "node:net";
import type { LogLevel } from "@interloper/sdk";
import { ResetBudget } from "./h2-reset-budget.ts";

/**
 * Bytes of responses an HTTP/2 client connection may have waiting in its
 * streams before further work for it waits (sooner when the connection's
 * send window is used up). Beyond this a client that never reads would make
 * the proxy hold every response it asks for.
 */
export const SEND_BUDGET = 1024 * 1024;

/** How often held work looks again whether the client has room. */
const RECHECK_MS = 250;

/** How many times per idle_timeout the connection's byte counts are looked at (a close comes at most a quarter late). */
const IDLE_LOOKS = 4;

/** Streams a client may reset before their answer: all it may have open at once, then 25 a second. */
const RESET_BURST = 250;
const RESETS_PER_SECOND = 25;

const guards = new WeakMap<http2.Http2Session, Http2ClientGuard>();

/**
 * What the proxy watches on one HTTP/2 client connection (ALPN h2 or h2c):
 *
 * - its end: the socket's end or error destroys the session in every state;
 * - silence: when no byte moves either way for idle_timeout and no stream
 *   waits on the proxy's side (hooks, the server: those have bounds of their
 *   own), the connection is closed, whatever streams are still open. This
 *   also ends a session nghttp2 gave up on (it sent GOAWAY for a protocol
 *   error, then Node stops reading the socket and tells nobody);
 * - rapid reset: a client that resets streams before their answer at a flood
 *   rate gets GOAWAY(ENHANCE_YOUR_CALM);
 * - what the client has not read: `untilClientReads` holds work for it while
 *   more than SEND_BUDGET bytes wait to be sent on its connection.
 */
export class Http2ClientGuard {
  private readonly streams = new Set<http2.ServerHttp2Stream>();
  /** Work held in `untilClientReads` (it waits for the client, and so does everything behind it). */
  private held = 0;
  private wakers: Array<() => void> = [];
  private readonly resets = new ResetBudget(RESET_BURST, RESETS_PER_SECOND);
  private calmed = false;

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
    this.watchIdle();
  }

  /** The guard of the connection `stream` belongs to, if it is an HTTP/2 client's. */
  static of(stream: http2.Http2Stream): Http2ClientGuard | undefined {
    const session = stream.session;
    return session ? guards.get(session) : undefined;
  }

  /** The connection is being closed for a reset flood: its other streams are not worth starting. */
  get closing(): boolean {
    return this.calmed;
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
   * there is room now. Meanwhile the connection counts as waiting on the
   * client: whatever else the proxy would do for it can only add to the pile.
   */
  untilClientReads(stream?: http2.ServerHttp2Stream): Promise<void> | undefined {
    if (!this.full(stream)) return undefined;
    return this.hold(stream);
  }

  /**
   * The client has no room: SEND_BUDGET bytes wait for it, or some wait and
   * the connection's send window it granted is used up (it is not reading).
   */
  private full(stream: http2.ServerHttp2Stream | undefined): boolean {
    if (this.session.destroyed || stream?.destroyed) return false;
    const queued = this.queued();
    if (queued >= SEND_BUDGET) return true;
    return queued > 0 && (this.session.state.remoteWindowSize ?? 1) <= 0;
  }

  private async hold(stream: http2.ServerHttp2Stream | undefined): Promise<void> {
    this.held++;
    try {
      // Woken when a stream drains, finishes or closes; a window opened for a write too small to drain
      // announces nothing, hence the look every RECHECK_MS.
      while (this.full(stream)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RECHECK_MS);
          this.wakers.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } finally {
      this.held--;
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
    if (this.session.destroyed || this.calmed || stream.headersSent) return;
    if (stream.rstCode === undefined || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) return;
    if (this.resets.take()) return;
    this.log(
      "warn",
      `HTTP/2 client resets streams before their answers at a flood rate (more than ${RESET_BURST} at once, ` +
        `${RESETS_PER_SECOND} a second; rapid reset, CVE-2023-44487): closing the connection with ENHANCE_YOUR_CALM`,
    );
    this.calm();
  }

  /**
   * GOAWAY(ENHANCE_YOUR_CALM), and the socket goes a second later: nghttp2 ignores the streams the flood
   * still opens meanwhile. (Closing at once, with the flood's bytes unread, would make the kernel answer
   * with a reset, which throws away the GOAWAY the client has not read yet.)
   */
  private calm(): void {
    if (this.calmed) return;
    this.calmed = true;
    this.session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, this.session.state.lastProcStreamID ?? 0);
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Silence is read off the socket's byte counts, both ways (they count what
   * nghttp2 reads and writes itself). Node's session timer would do for most
   * of it, but takes a write that went on in the period for movement and
   * then waits a whole second period; and it cannot tell the proxy's own
   * waits from the client's.
   */
  private watchIdle(): void {
    const ms = this.idleTimeoutMs;
    if (ms <= 0) return;
    let moved = this.bytesMoved();
    let quietSince = Date.now();
    const timer = setTimeout(() => {
      if (this.session.destroyed) return;
      const now = this.bytesMoved();
      if (now !== moved) {
        moved = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= ms && !this.proxyBusy()) {
        return this.closeIdle();
      }
      timer.refresh();
    }, ms / IDLE_LOOKS);
    timer.unref();
    this.session.once("close", () => clearTimeout(timer));
  }

  private bytesMoved(): number {
    return (this.socket.bytesRead ?? 0) + (this.socket.bytesWritten ?? 0);
  }

  private proxyBusy(): boolean {
    return this.held === 0 && [...this.streams].some((s) => this.waitsOnProxy(s));
  }

  private closeIdle(): void {
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
    if (stream.closed) return false;
    if (!stream.headersSent) return true;
    return stream.writableLength === 0 && !stream.writableEnded;
  }
}

/**
 * Resolves once the HTTP/2 client of `stream` has room for more (see
 * Http2ClientGuard.untilClientReads); undefined when there is room now.
 * Awaited before a response body is read from the server, it stops the
 * proxy reading servers for a client that does not read.
 */
export function untilClientReads(stream: http2.ServerHttp2Stream): Promise<void> | undefined {
  return Http2ClientGuard.of(stream)?.untilClientReads(stream);
}
