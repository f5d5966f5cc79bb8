/**
 * Where a flow file's bytes go on disk: whole flows gathered in memory and
 * written with a plain synchronous write once 256 KiB are waiting or 20 ms
 * have passed, whichever comes first. A write stream sent every write (every
 * few flows) through libuv's thread pool; each round trip cost more than
 * encoding the flows (bench W). Writes land in the page cache, so the event
 * loop waits microseconds, as mitmproxy's own buffered file does. Only whole
 * flows are written: a crash leaves a file readable up to its last flow.
 */
import { closeSync, openSync, writeSync, writevSync } from "node:fs";

const FLUSH_BYTES = 256 * 1024;
const FLUSH_MS = 20;
/** Below IOV_MAX (1024 on Linux): writev refuses more pieces than that. */
const FLUSH_PIECES = 512;

export class FileOutput {
  private pending: Buffer[] = [];
  private size = 0;
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

  write(bytes: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error("the flow file is closed");
    this.pending.push(bytes);
    this.size += bytes.length;
    if (this.size >= FLUSH_BYTES || this.pending.length >= FLUSH_PIECES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(this.flushLater, FLUSH_MS);
      // Pending bytes must not keep a finished process alive: close() writes them.
      this.timer.unref();
    }
  }

  /** Writes what is waiting now. A failure is kept (see `failure`), not thrown from a timer. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.size === 0 || this.fd === undefined) return;
    const batch = this.pending;
    const size = this.size;
    this.pending = [];
    this.size = 0;
    try {
      // One system call for the batch, without joining it (a 256 KiB copy per flush grew RSS).
      const written = writevSync(this.fd, batch);
      if (written < size) writeRest(this.fd, batch, written);
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

/** After a short writev (rare: a full disk, a signal): the bytes from `skip` on, one buffer at a time. */
function writeRest(fd: number, batch: Buffer[], skip: number): void {
  for (const buf of batch) {
    if (skip >= buf.length) {
      skip -= buf.length;
      continue;
    }
    for (let at = skip; at < buf.length;) at += writeSync(fd, buf, at, buf.length - at);
    skip = 0;
  }
}
