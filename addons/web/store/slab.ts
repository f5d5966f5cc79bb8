// Shared chunks for what many kept flows hold a little of: timestamps (a Float64Array) and
// small bodies (a Buffer). A flow refers to a chunk and an offset instead of owning a number
// box per timestamp and an ArrayBuffer per body, which the garbage collector tracks one by
// one. A chunk lives while a flow refers to it: flows leave the store oldest first, so
// chunks are let go in the order they filled. The store's body budget counts the kept flows'
// bytes, not the chunks: a flow removed on its own, or packed again after an edit, leaves its
// old bytes in a chunk until the chunk's other flows have gone too.

/** Timestamps a packed flow keeps. */
export const TIMES = 5;
/** Flows per timestamp chunk. */
const TIMES_PER_CHUNK = 4096;
/** Bytes per body chunk; larger bodies keep their own buffer. */
const BYTES_PER_CHUNK = 256 * 1024;
const CHUNKED_BODY_MAX = 8 * 1024;

export class Slab {
  /** The chunk the last putTimes wrote to. */
  timesChunk = new Float64Array(TIMES * TIMES_PER_CHUNK);
  private timesUsed = 0;
  private bytes = Buffer.alloc(BYTES_PER_CHUNK);
  private bytesUsed = 0;
  /** Where the last putBytes put its body in the buffer it returned. */
  at = 0;

  /** Keeps five timestamps (undefined as NaN); their offset in `timesChunk`. */
  putTimes(a: number, b: number, c: number | undefined, d: number | undefined, e: number | undefined): number {
    if (this.timesUsed === this.timesChunk.length) {
      this.timesChunk = new Float64Array(TIMES * TIMES_PER_CHUNK);
      this.timesUsed = 0;
    }
    const t = this.timesChunk;
    const at = this.timesUsed;
    t[at] = a;
    t[at + 1] = b;
    t[at + 2] = c ?? Number.NaN;
    t[at + 3] = d ?? Number.NaN;
    t[at + 4] = e ?? Number.NaN;
    this.timesUsed = at + TIMES;
    return at;
  }

  /** Keeps a body's bytes: a small one copied into the current chunk, a large one as it is. Sets `at`. */
  putBytes(body: Buffer): Buffer {
    if (body.length > CHUNKED_BODY_MAX) {
      this.at = 0;
      return body;
    }
    if (this.bytesUsed + body.length > this.bytes.length) {
      this.bytes = Buffer.alloc(BYTES_PER_CHUNK);
      this.bytesUsed = 0;
    }
    this.at = this.bytesUsed;
    body.copy(this.bytes, this.bytesUsed);
    this.bytesUsed += body.length;
    return this.bytes;
  }
}
