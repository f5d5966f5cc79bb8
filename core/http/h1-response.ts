/**
 * An HTTP/1.x response parser for the server side of the proxy: bytes in,
 * head / body chunks / end out. Pure (no sockets), push-based and
 * allocation-light: body bytes are handed on as slices of the buffers that
 * came in, never copied. It reads one response per `expect()`, as the proxy
 * sends one request at a time on a server connection.
 *
 * Framing follows RFC 9112 §6: no body for HEAD, 1xx, 204 and 304; chunked
 * when the last transfer coding is chunked (and Transfer-Encoding overrides
 * Content-Length); else Content-Length; else until the server closes. The
 * head reports what it found as `framing`. What cannot be framed safely is a
 * ResponseParseError: Content-Length values that differ or are not a number,
 * and a Transfer-Encoding that is empty, not a list of tokens, or has chunked
 * more than once (RFC 9112 §6.1 forbids it) or before another coding (parsers
 * read that differently: Node's ServerResponse would chunk such a body again
 * on its way to the client; mitmproxy refuses both). Other codings not ending
 * in chunked, known or not, are read until the close, as §6.3 says.
 * Interim 1xx responses (100 Continue, 103 Early Hints) are skipped; a 101
 * hands the connection over when the request asked for an upgrade.
 */

/** How a response's body is delimited on the wire (RFC 9112 §6.3): facts, for whoever passes it on. */
export type BodyFraming =
  /** No body whatever the fields say: a response to HEAD, a 1xx, 204 or 304. */
  | { kind: "none" }
  /** Content-Length (0 included), without Transfer-Encoding. */
  | { kind: "length"; length: number }
  /** Transfer-Encoding whose final coding is chunked. */
  | { kind: "chunked" }
  /** Until the server closes: a final coding other than chunked, or no framing field at all. */
  | { kind: "close" };

export interface ResponseHead {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  httpVersion: string;
  status: number;
  reason: string;
  /** Names and values in wire order and spelling: `[name, value, name, value, …]`. */
  rawHeaders: string[];
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
  /** How the body was delimited (set before `head()` is called). */
  framing: BodyFraming;
}

export interface ParserHandler {
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  /** The response is complete; `trailers` for a chunked body that had any. */
  end(trailers: string[] | undefined): void;
  /** A 101 to a request that asked for an upgrade: `rest` is what followed the head. */
  upgrade(head: ResponseHead, rest: Buffer): void;
}

export class ResponseParseError extends Error {}

type State =
  "idle" | "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-close" | "done";

const MAX_CHUNK_LINE = 4096;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;

export class ResponseParser {
  private state: State = "idle";
  private pending: Buffer | undefined;
  private remaining = 0;
  private method = "GET";
  private upgradeRequested = false;
  private trailers: string[] = [];
  private trailerBytes = 0;
  private head: ResponseHead | undefined;

  constructor(
    private readonly handler: ParserHandler,
    /** The largest head (status line and fields) accepted, in bytes. */
    private readonly maxHeadSize = 65536,
  ) {}

  /** Ready for the response to a request with this method. */
  expect(method: string, upgrade = false): void {
    if (this.state !== "idle" && this.state !== "done") throw new Error(`parser busy (${this.state})`);
    this.state = "head";
    this.method = method;
    this.upgradeRequested = upgrade;
    this.pending = undefined;
    this.trailers = [];
    this.trailerBytes = 0;
    this.head = undefined;
  }

  /** Between responses (or before the first): no bytes are expected. */
  get idle(): boolean {
    return this.state === "idle" || this.state === "done";
  }

  /** Bytes of a Content-Length body still to come (undefined in any other state). */
  get remainingLength(): number | undefined {
    return this.state === "length" ? this.remaining : undefined;
  }

  /**
   * The rest of a Content-Length body was read by someone else (moved in the
   * worker thread, say): the response is complete.
   */
  bodyReadElsewhere(): void {
    if (this.state !== "length") throw new Error(`no Content-Length body in progress (${this.state})`);
    this.remaining = 0;
    this.finish(undefined);
  }

  /** Reading a body that ends when the server closes. */
  get untilClose(): boolean {
    return this.state === "until-close";
  }

  /** The head has been read and the body is still going. */
  get inBody(): boolean {
    return this.head !== undefined && !this.idle;
  }

  /**
   * Takes the next bytes from the server. Returns the bytes after the end of
   * the response (normally none: more is a protocol error for the caller to
   * judge). Throws ResponseParseError on malformed input.
   */
  execute(data: Buffer): Buffer | undefined {
    let buf = data;
    while (buf.length > 0) {
      switch (this.state) {
        case "idle":
        case "done":
          return buf;
        case "head": {
          const joined = this.pending ? Buffer.concat([this.pending, buf]) : buf;
          const end = headEnd(joined);
          if (end === -1) {
            // What is pending may end in up to 3 bytes of the blank line: beyond that, the head is too large
            // however it continues (the same verdict whether it came whole or byte by byte).
            if (joined.length > this.maxHeadSize + 3)
              throw new ResponseParseError(`response head larger than ${this.maxHeadSize} bytes`);
            this.pending = joined;
            return undefined;
          }
          this.pending = undefined;
          if (end.start > this.maxHeadSize)
            throw new ResponseParseError(`response head larger than ${this.maxHeadSize} bytes`);
          const head = parseHead(joined.toString("latin1", 0, end.start));
          buf = joined.subarray(end.after);
          if (head.status >= 100 && head.status < 200 && head.status !== 101) continue; // interim: skip
          if (head.status === 101) {
            if (!this.upgradeRequested)
              throw new ResponseParseError("101 Switching Protocols to a request that asked for no upgrade");
            this.state = "done";
            this.handler.upgrade(head, buf);
            return undefined;
          }
          this.head = head;
          if (this.begin(head)) return rest(buf);
          break;
        }
        case "length": {
          const n = Math.min(this.remaining, buf.length);
          const chunk = n === buf.length ? buf : buf.subarray(0, n);
          buf = buf.subarray(n);
          this.remaining -= n;
          this.handler.body(chunk);
          if (this.remaining === 0) {
            this.finish(undefined);
            return rest(buf);
          }
          break;
        }
        case "chunk-size": {
          const joined = this.pending ? Buffer.concat([this.pending, buf]) : buf;
          const lf = joined.indexOf(10);
          if (lf === -1) {
            if (joined.length > MAX_CHUNK_LINE) throw new ResponseParseError("chunk size line too long");
            this.pending = joined;
            return undefined;
          }
          this.pending = undefined;
          if (lf > MAX_CHUNK_LINE) throw new ResponseParseError("chunk size line too long");
          const line = joined.toString("latin1", 0, lf).replace(/\r$/, "");
          buf = joined.subarray(lf + 1);
          const sizeText = line.split(";", 1)[0]!.trim();
          // At most 13 significant hex digits: every size stays an exact integer (below 2^52).
          if (!/^[0-9a-fA-F]{1,64}$/.test(sizeText) || sizeText.replace(/^0+(?=.)/, "").length > 13) {
            throw new ResponseParseError(`invalid chunk size ${JSON.stringify(line.slice(0, 40))}`);
          }
          const size = parseInt(sizeText, 16);
          if (size === 0) {
            this.state = "trailers";
          } else {
            this.remaining = size;
            this.state = "chunk-data";
          }
          break;
        }
        case "chunk-data": {
          const n = Math.min(this.remaining, buf.length);
          const chunk = n === buf.length ? buf : buf.subarray(0, n);
          buf = buf.subarray(n);
          this.remaining -= n;
          this.handler.body(chunk);
          if (this.remaining === 0) this.state = "chunk-end";
          break;
        }
        case "chunk-end": {
          // CRLF after the chunk data (a bare LF is tolerated).
          const joined = this.pending ? Buffer.concat([this.pending, buf]) : buf;
          if (joined[0] === 10) {
            buf = joined.subarray(1);
          } else if (joined[0] === 13) {
            if (joined.length < 2) {
              this.pending = joined;
              return undefined;
            }
            if (joined[1] !== 10) throw new ResponseParseError("missing CRLF after chunk data");
            buf = joined.subarray(2);
          } else {
            throw new ResponseParseError("missing CRLF after chunk data");
          }
          this.pending = undefined;
          this.state = "chunk-size";
          break;
        }
        case "trailers": {
          // The whole trailer section counts against the head limit; a line still waiting for its LF
          // will be at least one byte longer than what is pending.
          const joined = this.pending ? Buffer.concat([this.pending, buf]) : buf;
          const lf = joined.indexOf(10);
          if (lf === -1) {
            if (this.trailerBytes + joined.length >= this.maxHeadSize)
              throw new ResponseParseError(`trailer section larger than ${this.maxHeadSize} bytes`);
            this.pending = joined;
            return undefined;
          }
          this.pending = undefined;
          this.trailerBytes += lf + 1;
          if (this.trailerBytes > this.maxHeadSize)
            throw new ResponseParseError(`trailer section larger than ${this.maxHeadSize} bytes`);
          const line = joined.toString("latin1", 0, lf).replace(/\r$/, "");
          buf = joined.subarray(lf + 1);
          if (line === "") {
            this.finish(this.trailers.length > 0 ? this.trailers : undefined);
            return rest(buf);
          }
          const [name, value] = parseField(line);
          this.trailers.push(name, value);
          if (this.trailers.length > 2000) throw new ResponseParseError("too many trailer fields");
          break;
        }
        case "until-close":
          this.handler.body(buf);
          return undefined;
      }
    }
    return undefined;
  }

  /**
   * The server closed the connection. Completes a body that runs until the
   * close; anywhere else in a response it is an error.
   */
  eof(): void {
    if (this.state === "until-close") {
      this.finish(undefined);
      return;
    }
    if (this.state === "head" && !this.pending)
      throw new ResponseParseError("server closed the connection without a response");
    if (this.state !== "idle" && this.state !== "done") {
      throw new ResponseParseError(
        this.head
          ? "server closed the connection before the body was complete"
          : "server closed the connection in the middle of the response head",
      );
    }
  }

  /** Starts reading the body the head announced; true when there is none (the response is complete). */
  private begin(head: ResponseHead): boolean {
    const framing = this.framing(head);
    head.framing = framing;
    this.handler.head(head);
    if (framing.kind === "none" || (framing.kind === "length" && framing.length === 0)) {
      this.finish(undefined);
      return true;
    }
    if (framing.kind === "length") {
      this.remaining = framing.length;
      this.state = "length";
    } else {
      this.state = framing.kind === "chunked" ? "chunk-size" : "until-close";
    }
    return false;
  }

  /** How the body is delimited (RFC 9112 §6.3); settles `keepAlive` before anyone sees the head. */
  private framing(head: ResponseHead): BodyFraming {
    // Method names are case-sensitive (RFC 9110 §9.1): only HEAD itself means no body.
    if (this.method === "HEAD" || head.status === 304) return NONE;
    const { te, lengths } = framingFields(head.rawHeaders);
    if (head.status === 204) {
      // It may carry neither field (RFC 9110 §8.6, RFC 9112 §6.1): a server that sends a length or a coding
      // may send a body too, which would be read as the next response. Not reused.
      if (te !== undefined || (lengths.length > 0 && parseLength(lengths[0]!) !== 0)) head.keepAlive = false;
      return NONE;
    }
    for (let i = 1; i < lengths.length; i++) {
      if (!sameLength(lengths[0]!, lengths[i]!))
        throw new ResponseParseError(
          `conflicting Content-Length values ${JSON.stringify(lengths[0])} and ${JSON.stringify(lengths[i])}`,
        );
    }
    if (te !== undefined) {
      // With Content-Length too (a smuggling attempt, maybe), or in HTTP/1.0 (RFC 9112 §6.1), the framing
      // is suspect: the connection is not reused after this response.
      if (lengths.length > 0 || head.httpVersion === "HTTP/1.0") head.keepAlive = false;
      const codings = transferCodings(te);
      if (codings[codings.length - 1] === "chunked") return CHUNKED;
      // Not chunked last: the body runs until the close.
      head.keepAlive = false;
      return CLOSE;
    }
    if (lengths.length > 0) {
      const n = parseLength(lengths[0]!);
      if (n === undefined)
        throw new ResponseParseError(`invalid Content-Length ${JSON.stringify(lengths[0]!.slice(0, 40))}`);
      return { kind: "length", length: n };
    }
    head.keepAlive = false;
    return CLOSE;
  }

  private finish(trailers: string[] | undefined): void {
    this.state = "done";
    this.head = undefined;
    this.handler.end(trailers);
  }
}

function rest(buf: Buffer): Buffer | undefined {
  return buf.length > 0 ? buf : undefined;
}

/** Where the head ends: the empty line (CRLF CRLF, or bare LFs). */
function headEnd(buf: Buffer): { start: number; after: number } | -1 {
  let from = 0;
  for (;;) {
    const lf = buf.indexOf(10, from);
    if (lf === -1) return -1;
    // An empty line: LF right after the previous LF, or CR LF after it.
    if (lf > 0) {
      if (buf[lf - 1] === 10) return { start: lf - 1, after: lf + 1 };
      if (buf[lf - 1] === 13 && lf > 1 && buf[lf - 2] === 10) return { start: lf - 2, after: lf + 1 };
    }
    from = lf + 1;
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.replace(/\r$/, "").split(/\r?\n/);
  const statusLine = lines[0]!;
  const m = STATUS_LINE.exec(statusLine);
  if (!m) throw new ResponseParseError(`invalid status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(m[4] ?? ""))
    throw new ResponseParseError(`invalid character in the reason phrase ${JSON.stringify(statusLine.slice(0, 80))}`);
  if (Number(m[3]) < 100) throw new ResponseParseError(`invalid status code ${m[3]}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 1) throw new ResponseParseError(`unsupported HTTP version ${major}.${minor}`);
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") {
      // Obsolete line folding (RFC 9112 §5.2): joined into the previous value with a space.
      if (rawHeaders.length === 0) throw new ResponseParseError("folded header line before any field");
      rawHeaders[rawHeaders.length - 1] = `${rawHeaders[rawHeaders.length - 1]} ${checkValue(line.trim())}`.trim();
      continue;
    }
    const [name, value] = parseField(line);
    rawHeaders.push(name, value);
  }
  let connection = "";
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "connection") connection += `,${rawHeaders[i + 1]!.toLowerCase()}`;
  }
  const tokens = connection.split(",").map((t) => t.trim());
  const keepAlive = minor >= 1 ? !tokens.includes("close") : tokens.includes("keep-alive");
  return {
    httpVersion: `HTTP/${major}.${minor}`,
    status: Number(m[3]),
    reason: m[4] ?? "",
    rawHeaders,
    keepAlive,
    framing: NONE,
  };
}

function parseField(line: string): [string, string] {
  const colon = line.indexOf(":");
  if (colon <= 0) throw new ResponseParseError(`invalid header line ${JSON.stringify(line.slice(0, 80))}`);
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw new ResponseParseError(`invalid header name ${JSON.stringify(name.slice(0, 80))}`);
  return [name, checkValue(line.slice(colon + 1).trim())];
}

/** NUL, a bare CR or another control character in a value is refused (RFC 9110 §5.5): never passed on to the client. */
function checkValue(value: string): string {
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value))
    throw new ResponseParseError(`invalid character in header value ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

// Shared by every head that has them: frozen.
const NONE: BodyFraming = Object.freeze({ kind: "none" });
const CHUNKED: BodyFraming = Object.freeze({ kind: "chunked" });
const CLOSE: BodyFraming = Object.freeze({ kind: "close" });

/** The Transfer-Encoding fields joined into one list, and every Content-Length value. */
function framingFields(raw: string[]): { te: string | undefined; lengths: string[] } {
  let te: string | undefined;
  const lengths: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 17 && name.toLowerCase() === "transfer-encoding")
      te = te === undefined ? raw[i + 1]! : `${te}, ${raw[i + 1]!}`;
    else if (name.length === 14 && name.toLowerCase() === "content-length") lengths.push(raw[i + 1]!);
  }
  return { te, lengths };
}

/**
 * The coding names of a Transfer-Encoding, lower-cased, in order (RFC 9112
 * §6.1: `1#transfer-coding`, each a token with optional parameters; empty
 * list elements are ignored, RFC 9110 §5.6.1). Refuses a value that is no
 * such list, and chunked applied twice or before another coding.
 */
function transferCodings(te: string): string[] {
  const names: string[] = [];
  for (const element of te.split(",")) {
    if (element.trim() === "") continue;
    const name = element.split(";", 1)[0]!.trim().toLowerCase();
    if (!TOKEN.test(name)) throw new ResponseParseError(`invalid Transfer-Encoding ${JSON.stringify(te.slice(0, 80))}`);
    names.push(name);
  }
  if (names.length === 0) throw new ResponseParseError(`invalid Transfer-Encoding ${JSON.stringify(te.slice(0, 80))}`);
  const chunked = names.filter((n) => n === "chunked").length;
  if (chunked > 1)
    throw new ResponseParseError(
      `Transfer-Encoding ${JSON.stringify(te.slice(0, 80))} applies chunked more than once (RFC 9112 §6.1)`,
    );
  if (chunked === 1 && names[names.length - 1] !== "chunked")
    throw new ResponseParseError(
      `Transfer-Encoding ${JSON.stringify(te.slice(0, 80))}: chunked is not the final coding`,
    );
  return names;
}

function parseLength(v: string): number | undefined {
  // "5, 5" (a list of the same value) is accepted, as RFC 9110 §8.6 allows.
  const parts = v.split(",").map((p) => p.trim());
  if (!parts.every((p) => /^\d{1,15}$/.test(p))) return undefined;
  const n = Number(parts[0]);
  return parts.every((p) => Number(p) === n) ? n : undefined;
}

function sameLength(a: string, b: string): boolean {
  const x = parseLength(a);
  return x !== undefined && x === parseLength(b);
}
