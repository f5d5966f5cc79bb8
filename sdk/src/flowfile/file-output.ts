/**
 * Where a flow file's bytes go on disk: whole flows copied into one batch
 * buffer and written with a plain synchronous write once it is full or 20 ms
 * have passed, whichever comes first. A write stream sent every write (every
 * few flows) through libuv's thread pool; each round trip cost more than
 * encoding the flows (bench W). Writes land in the page cache, so the event
 * loop waits microseconds, as mitmproxy's own buffered file does. Only whole
 * flows are written: a crash leaves a file readable up to its last flow.
 */
import { closeSync, openSync, writeSync } from "node:fs";

/** The batch: allocated once per file and reused (joining each batch anew grew RSS). */
const BATCH_BYTES = 256 * 1024;
const FLUSH_MS = 20;

export class FileOutput {
  private readonly batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private timer: NodeJS.Timeout | undefined;
  private fd: number | undefined;
  /** The first write error: every later write and the close throw it. */
  failure: Error | undefined;
  private readonly flushLater = (): void => {
    this.timer = undefined;
    this.flush();
  };

  /** Opens (creates, or with `append` continues) `path`; throws as openSync does. */
  constructor(path: string, append: boolean) {
    this.fd = openSync(path, append ? "a" : "w");
  }

  /** Takes a copy of `bytes` (whole flows): the caller may reuse them at once. */
  write(bytes: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error("the flow file is closed");
    if (this.used + bytes.length > BATCH_BYTES) this.flush();
    if (bytes.length >= BATCH_BYTES) {
      // Larger than the batch: straight to the file, after what was waiting.
      this.writeOut(bytes);
      return;
    }
    this.batch.set(bytes, this.used);
    this.used += bytes.length;
    if (!this.timer) {
      this.timer = setTimeout(this.flushLater, FLUSH_MS);
      // Pending bytes must not keep a finished process alive: close() writes them.
      this.timer.unref();
    }
  }

  /** Writes what is waiting now. A failure is kept (see `failure`), not thrown from a timer. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0) return;
    const used = this.used;
    this.used = 0;
    this.writeOut(this.batch.subarray(0, used));
  }

  /** Writes all of `bytes` (a short write, rare: a full disk, a signal, goes on from where it stopped). */
  private writeOut(bytes: Uint8Array): void {
    if (this.fd === undefined || this.failure) return;
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at);
    } catch (err) {
      this.failure ??= err as Error;
    }
  }

  /** Writes what is waiting and closes the file; throws the first write error, if any. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
    if (this.failure) throw this.failure;
  }
}
