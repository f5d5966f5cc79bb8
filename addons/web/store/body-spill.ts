// Bodies the web UI keeps on disk: appended to segment files in a folder of this session
// (in the confdir), read back by offset. A segment is deleted once no kept flow refers to
// it, so the disk holds about the kept flows' bodies plus one segment, however long the
// session. One file per segment, not per body: a busy proxy would otherwise make (and
// delete) a file per request.
import { closeSync, mkdirSync, openSync, read, rmSync, unlinkSync, write } from "node:fs";
import { join } from "node:path";

/** A body in a segment. `pending` holds the bytes until their write finished. */
export interface SpilledBody {
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
  pending: Buffer | undefined;
  /** The write failed (disk full): the bytes are gone. */
  failed: boolean;
}

interface Segment {
  readonly path: string;
  fd: number;
  size: number;
  /** Bodies kept in it. */
  refs: number;
  /** Reads under way: the file stays open until they end. */
  readers: number;
  /** No more bodies go into it. */
  sealed: boolean;
}

/** The size a segment grows to before the next one starts (a larger body gets one of its own). */
const SEGMENT_BYTES = 64 * 1024 * 1024;

export class BodySpill {
  private current: Segment | undefined;
  private next = 0;
  private live = new Set<Segment>();
  private closed = false;
  /** Writes under way, and who waits for them all to end. */
  private writing = 0;
  private idle: (() => void)[] = [];

  /** `dir` is made now; `onError` hears about a write that failed (once per failure). */
  constructor(
    readonly dir: string,
    private readonly onError: (message: string) => void,
    private readonly segmentBytes = SEGMENT_BYTES,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Bytes on disk in segments still in use. */
  get diskBytes(): number {
    let n = 0;
    for (const s of this.live) n += s.size;
    return n;
  }

  get segments(): number {
    return this.live.size;
  }

  /** Appends `bytes`; they can be read back at once (from memory until written). */
  put(bytes: Buffer): SpilledBody {
    const segment = this.segmentFor(bytes.length);
    const body: SpilledBody = { segment, offset: segment.size, length: bytes.length, pending: bytes, failed: false };
    segment.size += bytes.length;
    segment.refs++;
    segment.readers++;
    this.writing++;
    write(segment.fd, bytes, 0, bytes.length, body.offset, (err) => {
      segment.readers--;
      body.pending = undefined;
      if (--this.writing === 0) for (const wake of this.idle.splice(0)) wake();
      if (err) {
        body.failed = true;
        this.onError(`cannot keep a body on disk in ${this.dir}: ${err.message}`);
      }
      this.closeIfUnused(segment);
    });
    return body;
  }

  /** Resolves once every write begun so far has ended. */
  whenWritten(): Promise<void> {
    if (this.writing === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Bytes `start` to `end` (exclusive) of a body. */
  read(body: SpilledBody, start = 0, end = body.length): Promise<Buffer> {
    if (body.failed) return Promise.reject(new Error("the body could not be kept on disk"));
    if (body.pending) return Promise.resolve(body.pending.subarray(start, end));
    const segment = body.segment;
    if (segment.fd < 0) return Promise.reject(new Error("the body is no longer kept"));
    const out = Buffer.allocUnsafe(Math.max(0, end - start));
    segment.readers++;
    return new Promise<Buffer>((resolve, reject) => {
      const step = (done: number): void => {
        if (done >= out.length) return finish(undefined, out);
        read(segment.fd, out, done, out.length - done, body.offset + start + done, (err, n) => {
          if (err) return finish(err);
          if (n === 0) return finish(new Error("the kept body is shorter than recorded"));
          step(done + n);
        });
      };
      const finish = (err: Error | undefined, bytes?: Buffer): void => {
        segment.readers--;
        this.closeIfUnused(segment);
        if (err) reject(err);
        else resolve(bytes!);
      };
      step(0);
    });
  }

  /** The body is no longer kept: its segment goes once nothing else is in it. */
  release(body: SpilledBody): void {
    body.segment.refs--;
    this.closeIfUnused(body.segment);
  }

  /** Deletes every segment and the folder. */
  close(): void {
    this.closed = true;
    for (const s of this.live) this.closeSegment(s);
    this.live.clear();
    this.current = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private segmentFor(length: number): Segment {
    if (this.closed) throw new Error("the body store is closed");
    const cur = this.current;
    if (cur && !cur.sealed && (cur.size === 0 || cur.size + length <= this.segmentBytes)) return cur;
    if (cur) {
      cur.sealed = true;
      this.closeIfUnused(cur);
    }
    const path = join(this.dir, `segment-${this.next++}`);
    let fd: number;
    try {
      fd = openSync(path, "w+", 0o600);
    } catch (err) {
      this.onError(`cannot keep a body on disk in ${this.dir}: ${(err as Error).message}`);
      throw err;
    }
    const segment: Segment = { path, fd, size: 0, refs: 0, readers: 0, sealed: false };
    this.live.add(segment);
    this.current = segment;
    return segment;
  }

  private closeIfUnused(segment: Segment): void {
    if (!segment.sealed || segment.refs > 0 || segment.readers > 0 || segment.fd < 0) return;
    this.closeSegment(segment);
    this.live.delete(segment);
  }

  private closeSegment(segment: Segment): void {
    if (segment.fd < 0) return;
    closeSync(segment.fd);
    segment.fd = -1;
    try {
      unlinkSync(segment.path);
    } catch {
      // Already gone (the folder was removed): nothing to free.
    }
  }
}
