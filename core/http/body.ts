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

/** `idleMs` (0: none): a body that gets no byte for that long fails with BodyStalled. */
export function readBody(stream: Readable, limit = Infinity, idleMs = 0): Promise<BodyRead> {
  if (stream.readableEnded) return Promise.resolve(EMPTY);
  // A request the parser already finished with nothing buffered has no body (most GETs): no need to
  // wait for its 'end' (Node's server drains the stream when the response is done).
  // (HTTP/1 only: there `complete` means parsed to its end; an HTTP/2 request is also "complete" when aborted.)
  if (stream instanceof IncomingMessage && stream.complete && stream.readableLength === 0)
    return Promise.resolve(EMPTY);
  // Failed before anyone read it (while a hook ran, say): its events are gone, say so now.
  const gone = endedEarly(stream);
  if (gone) return Promise.reject(gone);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
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
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        stream.pause();
        cleanup();
        resolve({ complete: false, chunks });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ complete: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
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
