/**
 * Writing mitmproxy flow files. Each flow is encoded whole and handed to
 * the output whole (a file gets them in batches of whole flows), so a crash
 * leaves a file readable up to the last complete flow, and nothing but the flow being written is held: a long
 * capture keeps memory flat. Version 17 (what mitmproxy 8.1.1 reads) is the
 * default; any version from 17 to 21 can be chosen.
 */
import type { Writable } from "node:stream";
import type { AnyFlow } from "../flow.ts";
import { DEFAULT_WRITE_VERSION, downgrade, isFormatVersion, type FormatVersion } from "./compat.ts";
import { ConnStateCache } from "./conn-cache.ts";
import { FileOutput } from "./file-output.ts";
import { LiveHttpLayout } from "./flow-layout.ts";
import { flowToState } from "./state-write.ts";
import { encodeTNet } from "./tnetstring.ts";

export interface WriteOptions {
  /** The flow format version to write (default 17: mitmproxy 8.1.1; 21 for mitmproxy 11 and later). */
  version?: FormatVersion;
  /** Told about each metadata value left out (see `StateWriteOptions`). */
  onWarning?: (message: string) => void;
}

/** One flow as the bytes of a flow file. */
export function encodeFlow(flow: AnyFlow, opts: WriteOptions = {}): Buffer {
  return encodeState(flow, checkedVersion(opts.version), opts.onWarning, undefined);
}

function checkedVersion(v: FormatVersion | undefined): FormatVersion {
  const version = v ?? DEFAULT_WRITE_VERSION;
  if (!isFormatVersion(version)) throw new RangeError(`cannot write flow format version ${String(version)} (17 to 21)`);
  return version;
}

/** The generic way: the flow's state, brought down to `version`, encoded. */
function encodeState(
  flow: AnyFlow,
  version: FormatVersion,
  onWarning: ((message: string) => void) | undefined,
  conns: ConnStateCache | undefined,
): Buffer {
  const state = flowToState(flow, { metadataBytes: version >= 19, onWarning, conns, wireText: true });
  return encodeTNet(downgrade(state, version));
}

/** Appends flows to a stream or file, whole flows only, waiting when a stream is behind. */
export class FlowWriter {
  private failure: Error | undefined;
  private closed = false;
  private readonly opts: WriteOptions;
  private readonly version: FormatVersion;
  /** Each live connection encoded once for all its flows. */
  private readonly conns: ConnStateCache;
  /** The usual live HTTP flow, written straight into the encoder. */
  private readonly layout: LiveHttpLayout;
  private readonly out: Writable | undefined;
  private readonly file: FileOutput | undefined;
  /** Flows written to a stream in one turn of the event loop go out in one write (writev). */
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.out?.uncork();
  };

  /** Flows go to `output`: a stream, or a file opened by `open` (batched, synchronous: file-output.ts). */
  constructor(output: Writable | FileOutput, opts: WriteOptions = {}) {
    this.opts = opts;
    this.version = checkedVersion(opts.version);
    this.conns = new ConnStateCache(this.version);
    this.layout = new LiveHttpLayout(this.version, this.conns, opts.onWarning);
    if (output instanceof FileOutput) {
      this.file = output;
      return;
    }
    this.out = output;
    output.on("error", (err) => {
      this.failure ??= err;
    });
  }

  /** A writer to `path`: a new file, or (`append`) the flows go after those already there. */
  static async open(path: string, opts: WriteOptions & { append?: boolean } = {}): Promise<FlowWriter> {
    checkedVersion(opts.version); // before the file is made
    return new FlowWriter(new FileOutput(path, opts.append ?? false), opts);
  }

  /**
   * Writes one flow. The flow is encoded at once (later changes to it are
   * not written); the promise settles when the output can take more.
   */
  async add(flow: AnyFlow): Promise<void> {
    if (!this.write(flow)) await this.drained();
  }

  /**
   * `add` without a promise when none is needed: encodes and writes the flow,
   * and says whether the output can take more now (`false`: await `drained()`
   * before writing much more). Throws when the output failed or was closed.
   */
  write(flow: AnyFlow): boolean {
    const failure = this.failure ?? this.file?.failure;
    if (failure) throw failure;
    if (this.closed) throw new Error("the flow writer is closed");
    const bytes = this.encode(flow);
    if (this.file) {
      this.file.write(bytes);
      return true;
    }
    const out = this.out!;
    if (!this.corked) {
      this.corked = true;
      out.cork();
      process.nextTick(this.uncork);
    }
    return out.write(bytes);
  }

  private encode(flow: AnyFlow): Buffer {
    // A file copies the bytes into its batch at once: they may stay the encoder's own.
    const fast = flow.type === "http" ? this.layout.encode(flow, this.file !== undefined) : undefined;
    return fast ?? encodeState(flow, this.version, this.opts.onWarning, this.conns);
  }

  /** Settles when the output has taken what was written (rejects when it failed). */
  drained(): Promise<void> {
    const out = this.out;
    if (!out || !out.writableNeedDrain) {
      const failure = this.failure ?? this.file?.failure;
      return failure ? Promise.reject(failure) : Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off("drain", done);
        out.off("error", done);
        out.off("close", done);
        if (err) reject(err);
        else if (this.failure) reject(this.failure);
        else resolve();
      };
      out.on("drain", done);
      out.on("error", done);
      out.on("close", done);
    });
  }

  /** Ends the output once everything written reached it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.file) return this.file.close();
    const out = this.out!;
    await new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (this.failure) throw this.failure;
  }
}

/** Writes `flows` to a new file at `path`. */
export async function writeFlowFile(
  path: string,
  flows: Iterable<AnyFlow> | AsyncIterable<AnyFlow>,
  opts: WriteOptions = {},
): Promise<void> {
  const writer = await FlowWriter.open(path, opts);
  try {
    for await (const flow of flows) await writer.add(flow);
  } finally {
    await writer.close();
  }
}
