import { IncomingMessage } from "node:http";
import type { Readable, Writable } from "node:stream";
import { RELAY_BUFFER } from "../layers/passthrough.ts";

export type BodyRead =
  | { complete: true; body: Buffer }
  /** The body passed `limit`: these chunks were read, the rest is still in the (paused) stream. */
  | { complete: false; chunks: Buffer[] };

/**
 * Reads a message body, buffering at most `limit` bytes. Rejects when the
 * stream fails or closes before its end.
 */
const EMPTY: BodyRead = { complete: true, body: Buffer.alloc(0) };

/** A body whose sender went quiet for longer than the idle timeout. */
export class BodyStalled extends Error {}

export interface ReadBodyOptions {
  /** The declared length (Content-Length), when there is one: the body is read into one buffer of that size. */
  expected?: number | undefined;
  /** Asked before each chunk is kept (a memory budget); false stops buffering as `limit` does. */
  admit?: ((bytes: number) => boolean) | undefined;
}

/**
 * Known now to have no (more) body: ended, or a request the parser already finished with nothing
 * buffered (Node's server drains the stream when the response is done), or an HTTP/1 request that
 * declares none: without Content-Length and Transfer-Encoding its body is empty (RFC 9112 §6.3),
 * which covers most GETs before the parser has even reached their end. HTTP/1 only: an HTTP/2
 * request is also "complete" when aborted, and declares nothing.
 */
export function hasNoBody(stream: Readable): boolean {
  if (stream.readableEnded) return true;
  if (!(stream instanceof IncomingMessage) || stream.httpVersionMajor !== 1) return false;
  if (stream.complete) return stream.readableLength === 0;
  return typeof stream.method === "string" && !declaresBody(stream.rawHeaders);
}

function declaresBody(raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 14 && name.length !== 17) continue;
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") return true;
  }
  return false;
}

/**
 * `idleMs` (0: none): a body that gets no byte for that long fails with
 * BodyStalled. With `expected`, chunks are copied into one buffer as they
 * come, so the body is held once (a list of chunks joined at the end held it
 * twice at the join: 2.2 GB of RSS for a 1 GiB body, bench E).
 */
export function readBody(
  stream: Readable,
  limit = Infinity,
  idleMs = 0,
  opts: ReadBodyOptions = {},
): Promise<BodyRead> {
  if (hasNoBody(stream)) return Promise.resolve(EMPTY);
  // Failed before anyone read it (while a hook ran, say): its events are gone, say so now.
  const gone = endedEarly(stream);
  if (gone) return Promise.reject(gone);
  return new Promise((resolve, reject) => {
    const store = new BodyStore(opts.expected !== undefined && opts.expected <= limit ? opts.expected : undefined);
    const stalled = () => {
      cleanup();
      reject(new BodyStalled(`no body bytes for idle_timeout (${idleMs / 1000} s)`));
    };
    let timer = idleMs > 0 ? setTimeout(stalled, idleMs) : undefined;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      timer?.refresh();
      const admitted = opts.admit?.(chunk.length) ?? true;
      store.add(chunk);
      if (store.size > limit || !admitted) {
        stream.pause();
        cleanup();
        resolve({ complete: false, chunks: store.chunks() });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ complete: true, body: store.joined() });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      // 'end' comes before 'close' for a complete body.
      setImmediate(() => {
        if (!stream.readableEnded) {
          cleanup();
          reject(new Error("connection closed before the body was complete"));
        }
      });
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}

/**
 * The bytes of a body being read: copied into one buffer of the declared
 * size while they fit (allocated unfilled: pages are taken as bytes arrive,
 * so a length declared and never sent costs little), else a list of chunks.
 */
class BodyStore {
  size = 0;
  private buffer: Buffer | undefined;
  private list: Buffer[] = [];

  constructor(expected: number | undefined) {
    if (expected !== undefined && expected > 0) this.buffer = Buffer.allocUnsafe(expected);
  }

  add(chunk: Buffer): void {
    if (this.buffer && this.size + chunk.length <= this.buffer.length) {
      chunk.copy(this.buffer, this.size);
    } else {
      // More than was declared: keep what came as chunks from here on.
      if (this.buffer) this.list.push(this.buffer.subarray(0, this.size));
      this.buffer = undefined;
      this.list.push(chunk);
    }
    this.size += chunk.length;
  }

  /** What was read, for a body that turned to streaming (copied out of a declared-size buffer it did not fill). */
  chunks(): Buffer[] {
    if (!this.buffer) return this.list;
    return [this.size === this.buffer.length ? this.buffer : Buffer.from(this.buffer.subarray(0, this.size))];
  }

  joined(): Buffer {
    if (this.buffer) {
      // A shorter body than declared: an exact copy, so no unfilled byte stays reachable through `.buffer`.
      return this.size === this.buffer.length ? this.buffer : Buffer.from(this.buffer.subarray(0, this.size));
    }
    return this.list.length === 1 ? this.list[0]! : Buffer.concat(this.list, this.size);
  }
}

/** Bodies larger than this are written in slices (see writeSliced). */
export const SLICE_BYTES = 256 * 1024;

/**
 * Writes a buffered body in slices, each once the one before has drained,
 * then ends `dst` when asked. A TLS socket encrypts what it is given at once:
 * one write of a 1 GiB body held a second, encrypted copy of it (bench E).
 */
export function writeSliced(dst: Writable, body: Buffer, end: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let at = 0;
    const cleanup = () => {
      dst.off("drain", next);
      dst.off("error", onError);
      dst.off("close", onClose);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the receiving side closed the connection"));
    };
    function next(): void {
      while (at < body.length) {
        const slice = body.subarray(at, at + SLICE_BYTES);
        at += slice.length;
        if (!dst.write(slice)) return;
      }
      cleanup();
      if (end) dst.end();
      resolve();
    }
    dst.on("drain", next);
    dst.once("error", onError);
    dst.once("close", onClose);
    next();
  });
}

/**
 * Writes `first` chunks, then pipes the rest of `src` into `dst` with
 * back-pressure. Resolves when `src` ended and everything was handed to
 * `dst` (`dst` is ended); rejects when either side fails.
 */
export function streamBody(
  first: Buffer[],
  src: Readable,
  dst: Writable,
  onChunk?: (n: number) => void,
  beforeEnd?: () => void,
): Promise<void> {
  const gone = endedEarly(src);
  if (gone) return Promise.reject(gone);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      src.off("data", onData);
      src.off("end", onEnd);
      src.off("error", onError);
      src.off("close", onSrcClose);
      dst.off("drain", onDrain);
      dst.off("error", onError);
      dst.off("close", onDstClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      onChunk?.(chunk.length);
      // Some slack beyond the stream's own 16 KiB mark keeps both sides busy (see RELAY_BUFFER).
      if (!dst.write(chunk) && dst.writableLength > RELAY_BUFFER) src.pause();
    };
    const onDrain = () => src.resume();
    const onEnd = () => {
      beforeEnd?.();
      dst.end();
      finish();
    };
    const onError = (err: Error) => finish(err);
    const onSrcClose = () =>
      setImmediate(() => {
        if (!src.readableEnded) finish(new Error("connection closed before the body was complete"));
      });
    const onDstClose = () => {
      if (!dst.writableFinished) finish(new Error("the receiving side closed the connection"));
    };
    for (const c of first) {
      onChunk?.(c.length);
      dst.write(c);
    }
    src.on("data", onData);
    src.once("end", onEnd);
    src.once("error", onError);
    src.once("close", onSrcClose);
    dst.on("drain", onDrain);
    dst.once("error", onError);
    dst.once("close", onDstClose);
    if (src.readableEnded) onEnd();
    else src.resume();
  });
}

/** The error of a stream that failed or closed before its end (its events already went by), if it did. */
function endedEarly(stream: Readable): Error | undefined {
  if (stream.readableEnded) return undefined;
  if (stream.errored) return stream.errored;
  if (stream.destroyed) return new Error("connection closed before the body was complete");
  return undefined;
}
