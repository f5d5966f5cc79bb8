/**
 * Bytes from a stream, pulled as needed: a reader looks at the next few
 * bytes, asks for exactly as many as a flow needs, and takes them as one
 * buffer of the flow's own. Only the chunks not yet taken are held, so
 * reading a large file keeps memory at about one flow plus one chunk.
 */
export class ByteQueue {
  private readonly chunks: Buffer[] = [];
  /** Where the first chunk's untaken bytes begin. */
  private head = 0;
  private ended = false;
  /** Bytes held and not taken yet. */
  available = 0;
  /** Bytes taken so far: the file offset of the next byte. */
  offset = 0;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Makes at least `n` bytes available; false if the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.available < n) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const chunk = toBuffer(next.value);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.available += chunk.length;
    }
    return true;
  }

  /** The byte `i` places ahead (it must be available). */
  byteAt(i: number): number {
    let at = this.head + i;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
    }
    throw new RangeError(`byte ${i} ahead is not available`);
  }

  /** Takes the next `n` available bytes as a buffer of their own (not a view into a read chunk). */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(n - filled, chunk.length - this.head);
      chunk.copy(out, filled, this.head, this.head + count);
      filled += count;
      this.head += count;
      if (this.head === chunk.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.available -= n;
    this.offset += n;
    return out;
  }

  /** Drops the next `n` available bytes. */
  skip(n: number): void {
    this.take(n);
  }

  /** Everything left in the stream, up to `limit` bytes; undefined if there is more. */
  async rest(limit: number): Promise<Buffer | undefined> {
    while (!this.ended) {
      if (this.available > limit) return undefined;
      await this.fill(this.available + 1);
    }
    return this.available > limit ? undefined : this.take(this.available);
  }

  /** Lets the source go (a reader that stops early closes the file). */
  async close(): Promise<void> {
    this.ended = true;
    this.chunks.length = 0;
    await this.source.return?.();
  }
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
