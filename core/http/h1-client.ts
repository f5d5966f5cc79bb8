import type * as net from "node:net";
import { Readable, Writable } from "node:stream";
import { ResponseParser, ResponseParseError, type ResponseHead } from "./h1-response.ts";
import { SLICE_BYTES, writeSliced } from "./body.ts";
import { NoAnswer } from "./no-answer.ts";

/**
 * The proxy's HTTP/1.1 client for one server connection: requests go out one
 * at a time in the order they were made (pipelined client requests keep
 * their order), each written with a single socket write where the body is
 * known, and the response is parsed by ResponseParser.
 *
 * Why not Node's http.request with an agent: for a proxy the agent and
 * ClientRequest machinery (socket pooling, timers, header objects) was about
 * a sixth of the busy time per plain HTTP request (bench/BENCHMARKS.md P),
 * for a connection that is never pooled. The fields go out exactly as the
 * flow holds them: wire order and spelling, nothing added but the framing
 * a body needs.
 */
export class Http1Connection {
  private readonly parser: ResponseParser;
  private readonly queue: H1Exchange[] = [];
  private active: H1Exchange | undefined;
  private socketError: Error | undefined;
  private closed = false;
  /** Handed over after a 101: the bytes are no longer HTTP. */
  released = false;
  /** Bounds the active request's wait for its head (no-answer.ts): made once, refreshed per request. */
  private answerTimer: NodeJS.Timeout | undefined;
  private answerMs = 0;
  /** The request the timer was last started for (a later one without a bound must not be failed by it). */
  private answerFor: H1Exchange | undefined;
  /** The socket's bytesWritten when the server was last seen taking the request's bytes. */
  private answerSeen = 0;

  constructor(
    readonly socket: net.Socket,
    maxHeadSize: number,
    /** Told about a response the server framed wrongly (refused, or repaired on its way to the client). */
    readonly warn?: (message: string) => void,
    /** An error the socket reported before this client listened (a TLS alert right after the handshake). */
    priorError?: Error,
  ) {
    this.socketError = priorError;
    this.parser = new ResponseParser(
      {
        head: (h) => this.active?.onHead(h),
        body: (c) => this.active?.onBody(c),
        end: (t) => this.active?.onEnd(t),
        upgrade: (h, rest) => this.onUpgrade(h, rest),
      },
      maxHeadSize,
    );
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    socket.resume();
    // The server may have ended the connection before this client was made (a TLS 1.3 server that refuses
    // the client certificate closes right after the handshake): its 'end' is not coming again.
    if (socket.readableEnded) process.nextTick(this.onEnd);
  }

  /** The connection can take another request. */
  get usable(): boolean {
    return !this.closed && !this.released && !this.socket.destroyed;
  }

  /**
   * Queues a request. Throws (synchronously) for a method, target or field
   * that cannot go on the wire: what an addon set is checked here.
   */
  request(spec: H1RequestSpec): H1Exchange {
    checkRequest(spec);
    const x = new H1Exchange(this, spec);
    if (!this.usable) {
      x.fail(new Error("server connection closed"));
      return x;
    }
    this.queue.push(x);
    this.pump();
    return x;
  }

  /** @internal an exchange finished both ways: the next may go. */
  done(x: H1Exchange, reusable: boolean): void {
    if (this.active !== x) return;
    this.active = undefined;
    if (!reusable) {
      this.socket.destroy();
      return;
    }
    this.pump();
  }

  /** @internal an exchange was abandoned: before its turn it just leaves the queue; during it, the connection is lost. */
  abandon(x: H1Exchange): void {
    const i = this.queue.indexOf(x);
    if (i !== -1) {
      this.queue.splice(i, 1);
      return;
    }
    if (this.active === x) this.socket.destroy();
  }

  /** @internal someone else reads the socket for a while (see TakenBody). */
  suspend(): void {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.pause();
  }

  /** @internal back from suspend(): reading goes on here. */
  resumeReading(): void {
    if (this.socket.destroyed) return;
    this.socket.on("data", this.onData);
    this.socket.on("end", this.onEnd);
    this.socket.resume();
  }

  /** @internal */
  get responseParser(): ResponseParser {
    return this.parser;
  }

  private pump(): void {
    if (this.active || !this.usable) return;
    const next = this.queue.shift();
    if (!next) return;
    this.active = next;
    this.parser.expect(next.method, next.upgrade);
    next.start();
  }

  /**
   * @internal `x`'s head is on the socket: the server has its bound from now (or from the last of the
   * request's bytes it takes) to send a response head.
   */
  watchAnswer(x: H1Exchange): void {
    const ms = x.answerWithinMs;
    if (ms <= 0) return;
    this.answerFor = x;
    this.answerSeen = this.socket.bytesWritten;
    if (this.answerTimer && this.answerMs === ms) {
      this.answerTimer.refresh();
      return;
    }
    clearTimeout(this.answerTimer);
    this.answerMs = ms;
    // The sockets keep the process alive, not this timer.
    this.answerTimer = setTimeout(this.onAnswerTimer, ms).unref();
  }

  private readonly onAnswerTimer = (): void => {
    const x = this.answerFor;
    if (!x || x !== this.active || x.answered) return;
    // A server still taking the request (a slow reader of a big upload) is not silent; nor is one whose
    // request is not all there yet while it has taken everything so far (the client streams it slowly).
    const written = this.socket.bytesWritten;
    if (written !== this.answerSeen || (!x.requestSent && this.socket.writableLength === 0)) {
      this.answerSeen = written;
      this.answerTimer!.refresh();
      return;
    }
    x.fail(new NoAnswer(this.answerMs));
    this.socket.destroy();
  };

  private readonly onData = (chunk: Buffer): void => {
    if (!this.active || this.parser.idle) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.socket.destroy();
      return;
    }
    const x = this.active;
    try {
      const rest = this.parser.execute(chunk);
      x.settleRead();
      // More than the response held: this connection must not carry another request.
      if (rest && rest.length > 0) this.socket.destroy();
    } catch (err) {
      const why = err instanceof ResponseParseError ? `server sent an invalid response: ${err.message}` : String(err);
      if (err instanceof ResponseParseError) this.warn?.(`${x.method} ${x.target}: ${why}`);
      x.fail(new Error(why));
      this.socket.destroy();
    }
  };

  private readonly onEnd = (): void => {
    const x = this.active;
    if (x) {
      try {
        this.parser.eof();
        x.settleRead();
      } catch (err) {
        // An error the socket reported first (a TLS alert) says more than "closed without a response".
        x.fail(this.socketError ?? (err as Error));
      }
    }
    // The server is done with this connection (an idle keep-alive close, or the end of a body).
    this.socket.destroy();
  };

  private readonly onError = (err: Error): void => {
    this.socketError ??= err;
  };

  private readonly onClose = (): void => {
    this.closed = true;
    clearTimeout(this.answerTimer);
    const why = this.socketError ?? new Error("server closed the connection");
    const x = this.active;
    if (x) {
      try {
        // Completes a body that runs until the close; says what was cut short otherwise.
        this.parser.eof();
        x.settleRead();
      } catch (err) {
        x.fail(this.socketError ?? (err as Error));
      }
      x.fail(why);
      this.active = undefined;
    }
    for (const x of this.queue.splice(0)) x.fail(why);
  };

  private onUpgrade(head: ResponseHead, rest: Buffer): void {
    const x = this.active;
    this.released = true;
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("error", this.onError);
    this.socket.off("close", this.onClose);
    this.socket.pause();
    clearTimeout(this.answerTimer);
    this.active = undefined;
    x?.onUpgraded(head, this.socket, rest);
    for (const q of this.queue.splice(0)) q.fail(new Error("server connection was upgraded"));
  }
}

/**
 * The rest of a Content-Length response body, handed to the caller to move
 * itself (fd to fd, off the event loop): `first` holds the bytes already read into JS,
 * `length` every byte still due (those included), `socket` the server
 * socket with nobody reading it. Then exactly one of: `done(true)` once all
 * `length` bytes were taken from the socket (the connection goes on),
 * `done(false)` when that failed (the connection is closed), or `giveBack()`
 * when the caller will not move them after all (reading resumes as before).
 */
export interface TakenBody {
  first: Buffer[];
  length: number;
  socket: net.Socket;
  done(ok: boolean): void;
  giveBack(): void;
}

export interface H1RequestSpec {
  method: string;
  /** The request target: origin form, or absolute form towards an upstream proxy. */
  target: string;
  /** Fields in wire order and spelling. */
  fields: ReadonlyArray<readonly [string, string]>;
  /** The request asks for a protocol upgrade (a 101 hands the socket over). */
  upgrade?: boolean;
  /** Fail the response with NoAnswer when the server stays silent this long (0 or absent: wait forever). */
  answerWithinMs?: number;
}

export type H1Result =
  | {
      kind: "response";
      /** With its framing fields as forwardHead hands them on. */
      head: ResponseHead;
      body: Readable;
      /** The whole body, when it came with the head (then `body` is made only if asked for). */
      complete: Buffer | undefined;
      trailers: () => string[] | undefined;
      /** See H1Exchange.takeBody (absent for a complete response). */
      takeBody?: () => TakenBody | undefined;
    }
  | { kind: "upgrade"; head: ResponseHead; socket: net.Socket; rest: Buffer };

/** A response read whole with its head: the body stream is made only if someone asks for it. */
class CompleteResponse {
  readonly kind = "response";
  private stream: Readable | undefined;
  constructor(
    readonly head: ResponseHead,
    readonly complete: Buffer,
    readonly trailers: () => string[] | undefined,
  ) {}

  get body(): Readable {
    this.stream ??= Readable.from([this.complete], { objectMode: false });
    return this.stream;
  }
}

/** Methods whose requests are defined to carry content (RFC 9110 §8.6: they get a Content-Length even when empty). */
const CONTENT_METHODS = new Set(["POST", "PUT", "PATCH"]);
const COPY_LIMIT = 16 * 1024;
const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");

/** One request and its response on an Http1Connection. */
export class H1Exchange {
  readonly method: string;
  readonly target: string;
  readonly upgrade: boolean;
  readonly answerWithinMs: number;
  readonly response: Promise<H1Result>;
  private resolve!: (r: H1Result) => void;
  private reject!: (e: Error) => void;
  private payload: Buffer | "stream" | undefined;
  private writable: Writable | undefined;
  private started = false;
  private waiting: Array<() => void> = [];
  private chunked = false;
  private requestDone = false;
  private responseDone = false;
  /** False when the request said `Connection: close`. */
  private keepAlive = true;
  private responseHead: ResponseHead | undefined;
  private body: Readable | undefined;
  /** Body bytes that came in the same read as the head (until settleRead). */
  private early: Buffer[] | undefined;
  private trailers: string[] | undefined;
  private settled = false;
  private finished = false;
  private failure: Error | undefined;

  constructor(
    private readonly conn: Http1Connection,
    private readonly spec: H1RequestSpec,
  ) {
    this.method = spec.method;
    this.target = spec.target;
    this.upgrade = spec.upgrade ?? false;
    this.answerWithinMs = spec.answerWithinMs ?? 0;
    this.response = new Promise<H1Result>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A caller that never awaits the response (it failed earlier) must not leave an unhandled rejection.
    this.response.catch(() => {});
  }

  /** Sends the request with this whole body (possibly empty). */
  end(body: Buffer = Buffer.alloc(0)): void {
    if (this.payload !== undefined) throw new Error("request body already given");
    this.payload = body;
    if (this.started) this.writeAll();
  }

  /** A stream for a body whose length is not known yet (chunked unless the request says Content-Length). */
  stream(): Writable {
    if (this.writable) return this.writable;
    if (this.payload !== undefined) throw new Error("request body already given");
    this.payload = "stream";
    const socket = this.conn.socket;
    this.writable = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _enc, cb) =>
        this.whenStarted(() => {
          if (chunk.length === 0) return cb();
          const ok = this.chunked ? writeChunk(socket, chunk) : socket.write(chunk);
          if (ok) cb();
          else socket.once("drain", () => cb());
        }),
      final: (cb) =>
        this.whenStarted(() => {
          if (this.chunked) socket.write(LAST_CHUNK);
          this.requestDone = true;
          this.maybeDone();
          cb();
        }),
    });
    if (this.failure) this.writable.destroy(this.failure);
    else if (this.started) this.writeHeadForStream();
    return this.writable;
  }

  /** The server sent the response head (or the exchange failed): it is no longer awaited. */
  get answered(): boolean {
    return this.responseHead !== undefined || this.settled;
  }

  /** Every byte of the request was handed to the socket. */
  get requestSent(): boolean {
    return this.requestDone;
  }

  /** Gives up on this exchange (the client went away, the flow was killed). */
  destroy(): void {
    this.fail(new Error("request aborted"));
    this.conn.abandon(this);
  }

  /** @internal its turn on the connection. */
  start(): void {
    this.started = true;
    if (this.payload === "stream") this.writeHeadForStream();
    else if (this.payload !== undefined) this.writeAll();
  }

  /** @internal */
  onHead(head: ResponseHead): void {
    const repairs: string[] = [];
    this.responseHead = forwardHead(head, repairs);
    if (repairs.length > 0) this.conn.warn?.(`${this.method} ${this.target}: ${repairs.join("; ")}`);
    this.early = [];
  }

  /** @internal */
  onBody(chunk: Buffer): void {
    if (this.early) this.early.push(chunk);
    else if (this.body && !this.body.destroyed && !this.body.push(chunk)) this.conn.socket.pause();
  }

  /** @internal */
  onEnd(trailers: string[] | undefined): void {
    this.trailers = trailers;
    this.responseDone = true;
    if (!this.early) this.body?.push(null);
    this.maybeDone();
  }

  /**
   * @internal the end of one read from the socket. A head read in it is
   * handed on now: with the whole body when that came too (most small
   * responses: no stream is made for them), else with a stream of the body.
   */
  settleRead(): void {
    const early = this.early;
    if (!early) return;
    this.early = undefined;
    if (this.settled) return;
    this.settled = true;
    const head = this.responseHead!;
    const trailers = () => this.trailers;
    if (this.responseDone) {
      this.resolve(new CompleteResponse(head, early.length === 1 ? early[0]! : Buffer.concat(early), trailers));
      return;
    }
    const socket = this.conn.socket;
    this.body = new Readable({
      highWaterMark: 64 * 1024,
      read: () => {
        if (socket.isPaused() && !this.conn.released) socket.resume();
      },
    });
    // A body torn down while nobody reads it (the flow was killed, the client left, a size limit hit)
    // must not be an unhandled 'error': readers attach their own listener and still get it.
    this.body.on("error", () => {});
    for (const c of early) if (!this.body.push(c)) socket.pause();
    this.resolve({
      kind: "response",
      head,
      body: this.body,
      complete: undefined,
      trailers,
      takeBody: () => this.takeBody(),
    });
  }

  /** @internal */
  onUpgraded(head: ResponseHead, socket: net.Socket, rest: Buffer): void {
    this.finished = true;
    this.settled = true;
    this.resolve({ kind: "upgrade", head, socket, rest });
  }

  /**
   * Hands the rest of a Content-Length body to the caller (see TakenBody), or
   * undefined when that is not possible: another framing, or the body stream
   * is already being read.
   */
  takeBody(): TakenBody | undefined {
    const body = this.body;
    const parser = this.conn.responseParser;
    const due = parser.remainingLength;
    if (
      !body ||
      this.finished ||
      this.conn.released ||
      due === undefined ||
      body.readableFlowing === true ||
      body.destroyed
    )
      return undefined;
    this.conn.suspend();
    const first: Buffer[] = [];
    for (let c = body.read() as Buffer | null; c !== null; c = body.read() as Buffer | null) first.push(c);
    let length = due;
    for (const c of first) length += c.length;
    let settled = false;
    return {
      first,
      length,
      socket: this.conn.socket,
      done: (ok) => {
        if (settled) return;
        settled = true;
        if (!ok || this.finished) {
          this.conn.socket.destroy();
          return;
        }
        parser.bodyReadElsewhere();
        this.conn.resumeReading();
      },
      giveBack: () => {
        if (settled) return;
        settled = true;
        for (let i = first.length - 1; i >= 0; i--) body.unshift(first[i]!);
        this.conn.resumeReading();
      },
    };
  }

  /** @internal the exchange cannot complete: the response (or its body) fails with `err`. */
  fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = err;
    if (!this.settled) {
      this.settled = true;
      this.reject(err);
    } else if (this.body && !this.responseDone) {
      this.body.destroy(err);
    }
    if (this.writable && !this.writable.destroyed && !this.requestDone) this.writable.destroy(err);
    this.waiting = [];
  }

  private whenStarted(fn: () => void): void {
    if (this.failure) {
      // Nothing more goes out: the writer learns it, rather than waiting forever.
      this.writable?.destroy(this.failure);
      return;
    }
    if (this.started) fn();
    else this.waiting.push(fn);
  }

  private writeHeadForStream(): void {
    const head = this.serializeHead(undefined);
    this.conn.socket.write(head);
    this.conn.watchAnswer(this);
    for (const w of this.waiting.splice(0)) w();
  }

  private writeAll(): void {
    const body = this.payload as Buffer;
    const head = this.serializeHead(body);
    const socket = this.conn.socket;
    if (this.chunked) {
      socket.cork();
      socket.write(head);
      if (body.length > 0) writeChunk(socket, body);
      socket.write(LAST_CHUNK);
      socket.uncork();
    } else if (body.length === 0) {
      socket.write(head);
    } else if (body.length <= COPY_LIMIT) {
      socket.write(Buffer.concat([head, body]));
    } else if (body.length <= SLICE_BYTES) {
      socket.cork();
      socket.write(head);
      socket.write(body);
      socket.uncork();
    } else {
      socket.write(head);
      // Done once every slice went out; a socket that fails meanwhile fails the exchange through its own events.
      void writeSliced(socket, body, false).then(
        () => {
          this.requestDone = true;
          this.maybeDone();
        },
        () => {},
      );
      this.conn.watchAnswer(this);
      return;
    }
    this.requestDone = true;
    this.conn.watchAnswer(this);
    this.maybeDone();
  }

  /**
   * The head, with the framing the body needs. A known body is the truth: a
   * Content-Length that disagrees with it (an addon assigned `body` directly)
   * is corrected on the wire, since a wrong one would leave the server waiting
   * or read the rest as another request. Without any framing field, a known
   * body gets a Content-Length and a streamed one chunked encoding.
   */
  private serializeHead(body: Buffer | undefined): Buffer {
    const { fields } = this.spec;
    let te: string | undefined;
    for (const [name, value] of fields) {
      const lower = name.toLowerCase();
      if (lower === "transfer-encoding") te = te === undefined ? value : `${te}, ${value}`;
      else if (lower === "connection" && /(^|,)\s*close\s*(,|$)/i.test(value)) this.keepAlive = false;
    }
    if (te !== undefined) {
      const codings = te.split(",").map((c) => c.trim().toLowerCase());
      this.chunked = codings[codings.length - 1] === "chunked";
    }
    // Content-Length goes with a known, unchunked body only (never beside Transfer-Encoding).
    const length = body !== undefined && te === undefined ? String(body.length) : undefined;
    let text = `${this.spec.method} ${this.spec.target} HTTP/1.1\r\n`;
    let hasLength = false;
    for (const [name, value] of fields) {
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        if (te !== undefined || hasLength) continue;
        hasLength = true;
        text += `${name}: ${length ?? value}\r\n`;
        continue;
      }
      text += `${name}: ${value}\r\n`;
    }
    if (te === undefined && !hasLength) {
      if (body === undefined) {
        text += "Transfer-Encoding: chunked\r\n";
        this.chunked = true;
      } else if (body.length > 0 || CONTENT_METHODS.has(this.method)) {
        text += `Content-Length: ${length}\r\n`;
      }
    }
    return Buffer.from(`${text}\r\n`, "latin1");
  }

  private maybeDone(): void {
    if (!this.requestDone || !this.responseDone || this.finished) return;
    this.finished = true;
    // The parser settles keepAlive with the head (until-close framing, say), before forwardHead copies it.
    this.conn.done(this, this.keepAlive && this.responseHead?.keepAlive === true);
  }
}

/**
 * The response head as the proxy passes it on, its framing fields made true
 * for what the client will get (`head` itself when they already are: most
 * responses). Whoever writes the body out frames it by these fields (Node's
 * ServerResponse chunks when Transfer-Encoding names chunked, adds the
 * framing when neither field is there, else writes the bytes as they are):
 * - Content-Length beside Transfer-Encoding is removed (RFC 9112 §6.3: a
 *   sender MUST remove it before forwarding); `repairs` says so.
 * - A body delimited by the close under a Transfer-Encoding (`gzip`) keeps its
 *   codings, for addons and the client, and gets `chunked` after them: the
 *   proxy frames it, as it does a close-delimited body without the field.
 *   mitmproxy instead keeps the field as it came and closes the client
 *   connection after the response; that loses pipelined requests, and Node
 *   could only be asked for it by a `Connection: close` the server never sent.
 * - Content-Length lists and repeats of one value (`5, 5`, `005`) become one
 *   field with one plain value (RFC 9110 §8.6).
 * - A 204 keeps neither field (RFC 9110 §8.6, RFC 9112 §6.1 forbid them); a
 *   304 drops Transfer-Encoding, as any recipient may (RFC 9112 §6.1): Node
 *   would otherwise close the client connection after it, unannounced.
 */
export function forwardHead(head: ResponseHead, repairs: string[] = []): ResponseHead {
  const { framing, status } = head;
  const { lengths, codings, odd } = framingFieldCounts(head);
  if (lengths === 0 && codings === 0) return head;
  const dropCodings = codings > 0 && (status === 204 || status === 304);
  const dropLengths = lengths > 0 && (status === 204 || codings > 0);
  const plan: FieldPlan = {
    dropCodings,
    dropLengths,
    addChunked: framing.kind === "close" && codings > 0 && !dropCodings,
    length: framing.kind === "length" && !dropLengths && (lengths > 1 || odd) ? framing.length : undefined,
  };
  if (!plan.dropCodings && !plan.dropLengths && !plan.addChunked && plan.length === undefined) return head;
  if (plan.dropLengths && codings > 0) repairs.push("Content-Length beside Transfer-Encoding: removed");
  return Object.assign({}, head, { rawHeaders: planFields(head.rawHeaders, plan) });
}

interface FieldPlan {
  dropCodings: boolean;
  dropLengths: boolean;
  /** Append `chunked` to the last Transfer-Encoding field. */
  addChunked: boolean;
  /** One Content-Length field with this value, where the first stood. */
  length: number | undefined;
}

/** How many Content-Length and Transfer-Encoding fields; `odd`: a Content-Length not written as the plain decimal it framed. */
function framingFieldCounts(head: ResponseHead): { lengths: number; codings: number; odd: boolean } {
  const raw = head.rawHeaders;
  const { framing } = head;
  let lengths = 0;
  let codings = 0;
  let odd = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      lengths++;
      if (framing.kind === "length" && !isDecimal(raw[i + 1]!, framing.length)) odd = true;
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      codings++;
    }
  }
  return { lengths, codings, odd };
}

/** The fields with the plan applied; the others keep their order and spelling. */
function planFields(raw: string[], plan: FieldPlan): string[] {
  const fields: string[] = [];
  let lastCoding = -1;
  let lengthKept = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === "content-length") {
      if (plan.dropLengths || (plan.length !== undefined && lengthKept)) continue;
      lengthKept = true;
      fields.push(name, plan.length !== undefined ? String(plan.length) : raw[i + 1]!);
    } else if (lower === "transfer-encoding") {
      if (plan.dropCodings) continue;
      fields.push(name, raw[i + 1]!);
      lastCoding = fields.length - 1;
    } else {
      fields.push(name, raw[i + 1]!);
    }
  }
  if (plan.addChunked) fields[lastCoding] = `${fields[lastCoding]!}, chunked`;
  return fields;
}

/** `value` (a Content-Length the parser accepted as `n`) is `n` written plainly: no list, no leading zero. Allocates nothing. */
function isDecimal(value: string, n: number): boolean {
  return Number(value) === n && (value.length === 1 || value.charCodeAt(0) !== 48);
}

function writeChunk(socket: net.Socket, chunk: Buffer): boolean {
  socket.cork();
  socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
  socket.write(chunk);
  const ok = socket.write(CRLF);
  socket.uncork();
  return ok;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a request target may hold (no spaces, controls or characters beyond Latin-1), as Node's client checks. */
const INVALID_TARGET = /[^\u0021-\u00ff]/;
/** What a field value may hold: no CR, LF or NUL (nor characters beyond Latin-1). */
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;

/** Refuses what would break the message framing (header injection from an addon, say). */
export function checkRequest(spec: H1RequestSpec): void {
  if (!TOKEN.test(spec.method)) throw new Error(`invalid request method ${JSON.stringify(spec.method)}`);
  if (spec.target === "" || INVALID_TARGET.test(spec.target))
    throw new Error(`invalid request target ${JSON.stringify(spec.target.slice(0, 80))}`);
  for (const [name, value] of spec.fields) {
    if (!TOKEN.test(name)) throw new Error(`invalid header name ${JSON.stringify(name.slice(0, 80))}`);
    if (INVALID_VALUE.test(value)) throw new Error(`invalid character in header field ${JSON.stringify(name)}`);
  }
}
