// Shared chunks for what many kept flows hold a little of: their numbers (timestamps, sizes,
// offsets: a Float64Array) and their bytes (the heads' text and small bodies: a Buffer). A flow
// refers to a chunk and an offset instead of owning a number box per timestamp, a string for
// its heads and an ArrayBuffer per body, which the garbage collector copies and tracks one by
// one. A chunk lives while a flow refers to it: flows leave the store oldest first, so chunks
// are let go in the order they filled. The store's body budget counts the kept flows' bytes,
// not the chunks: a flow removed on its own, or packed again after an edit, leaves its old
// bytes in a chunk until the chunk's other flows have gone too.

/** Numbers a packed flow keeps (packed-flow.ts names them). */
export const NUMBERS = 16;
/** Flows per number chunk. */
const FLOWS_PER_CHUNK = 4096;
/** Bytes per byte chunk; larger pieces get a buffer of their own. */
const BYTES_PER_CHUNK = 256 * 1024;
const CHUNKED_MAX = 8 * 1024;

export class Slab {
  /** The chunk the last record() is in. */
  numbers = new Float64Array(NUMBERS * FLOWS_PER_CHUNK);
  private numbersUsed = 0;
  private bytes = Buffer.alloc(BYTES_PER_CHUNK);
  private bytesUsed = 0;
  /** Where the last space() or putBytes() piece starts in the buffer it returned. */
  at = 0;

  /** A flow's NUMBERS numbers in `numbers`: their offset. */
  record(): number {
    if (this.numbersUsed === this.numbers.length) {
      this.numbers = new Float64Array(NUMBERS * FLOWS_PER_CHUNK);
      this.numbersUsed = 0;
    }
    const at = this.numbersUsed;
    this.numbersUsed = at + NUMBERS;
    return at;
  }

  /** Room for `length` bytes: in the current chunk when small, else a buffer of their own. Sets `at`. */
  space(length: number): Buffer {
    if (length > CHUNKED_MAX) {
      this.at = 0;
      return Buffer.allocUnsafe(length);
    }
    if (this.bytesUsed + length > this.bytes.length) {
      this.bytes = Buffer.alloc(BYTES_PER_CHUNK);
      this.bytesUsed = 0;
    }
    this.at = this.bytesUsed;
    this.bytesUsed += length;
    return this.bytes;
  }

  /** Keeps a body's bytes: a small one copied into the current chunk, a large one as it is. Sets `at`. */
  putBytes(body: Buffer): Buffer {
    if (body.length > CHUNKED_MAX) {
      this.at = 0;
      return body;
    }
    const chunk = this.space(body.length);
    body.copy(chunk, this.at);
    return chunk;
  }
}
