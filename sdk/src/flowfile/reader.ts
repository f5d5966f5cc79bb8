/**
 * Reading flow files: mitmproxy's native format (a sequence of tnetstring
 * flows, any format version from 17 to 21) or HAR, told apart by the first
 * byte. Flows come one at a time from an async iterator, each decoded from a
 * buffer of its own, so memory stays at about one flow however long the file.
 *
 * A damaged file is read up to the damage: every flow before it is
 * delivered, then one `FlowReadError` names the byte offset and what was
 * wrong (`flows.mitm: damaged at byte 81234: expected ':' after a tnetstring
 * length`). Flows of kinds interloper has no model for (mitmproxy's DNS and
 * UDP flows) are skipped with a warning. A HAR is one JSON document: it is
 * read whole (up to V8's longest string, about 512 MiB), then flow by flow.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { AnyFlow } from "../flow.ts";
import { ByteQueue } from "./byte-queue.ts";
import { UnknownVersionError, upgrade } from "./compat.ts";
import { FlowFieldError, isDict, typeName } from "./fields.ts";
import { harToFlows, HarFormatError } from "./har-read.ts";
import { flowFromState, UnsupportedFlowType } from "./state-read.ts";
import {
  decodeTNet,
  describeByte,
  MAX_LENGTH_DIGITS,
  TNetstringError,
  type TNetDict,
  type TNetValue,
} from "./tnetstring.ts";

export interface ReadOptions {
  /** How errors and warnings name the source (default: the path, or `flows`). */
  name?: string;
  /** Told about each flow skipped (a kind interloper does not model) and each HAR oddity worked around. */
  onWarning?: (message: string) => void;
  /**
   * The largest flow this reader holds, in bytes (default 1 GiB). A flow
   * declaring more is damage: a flipped digit must not make the reader
   * swallow a whole stream.
   */
  maxFlowBytes?: number;
  /** The source's size when known (files): a flow declaring more than is left is damage at once. */
  size?: number;
}

/** The one error a reader ends with: where (`offset`, when known) and what. */
export class FlowReadError extends Error {
  constructor(
    readonly source: string,
    readonly offset: number | undefined,
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = "FlowReadError";
  }
}

export const DEFAULT_MAX_FLOW_BYTES = 1024 ** 3;
/** V8 cannot make a string longer than this (about 512 MiB), and a HAR is parsed as one. */
const MAX_HAR_BYTES = 0x1fffffe8;

export type FlowFileFormat = "mitmproxy" | "har";

/** A file's format from its first bytes: a digit starts a tnetstring, `{` (after a BOM or blanks) a HAR. */
export function flowFileFormat(head: Uint8Array): FlowFileFormat | undefined {
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  if (i === 0 && head[0] !== undefined && head[0] >= 0x30 && head[0] <= 0x39) return "mitmproxy";
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  return head[i] === 0x7b ? "har" : undefined;
}

/** Reads the flow file at `path`. */
export async function* readFlowFile(path: string, opts: ReadOptions = {}): AsyncGenerator<AnyFlow, void, undefined> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new FlowReadError(opts.name ?? path, undefined, (err as Error).message);
  }
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  yield* readFlows(stream, { name: path, size, ...opts });
}

/** Reads flows from a byte stream (a file, a socket, stdin) or from buffers in memory. */
export async function* readFlows(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: ReadOptions = {},
): AsyncGenerator<AnyFlow, void, undefined> {
  const name = opts.name ?? "flows";
  const queue = new ByteQueue(iterate(source));
  try {
    const format = await detect(queue, name);
    if (format === "har") yield* readHar(queue, name, opts);
    else if (format === "mitmproxy") yield* readNative(queue, name, opts);
  } catch (err) {
    if (err instanceof FlowReadError) throw err;
    // A failing source (a read error, a destroyed stream) ends the reading like damage does.
    throw new FlowReadError(name, queue.offset, `cannot read on: ${(err as Error).message}`);
  } finally {
    await queue.close();
  }
}

function iterate(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterator<Uint8Array> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const sync = source[Symbol.iterator]();
  return {
    next: async () => sync.next(),
    return: async () => sync.return?.() ?? { done: true, value: undefined },
  };
}

async function detect(queue: ByteQueue, name: string): Promise<FlowFileFormat | undefined> {
  if (!(await queue.fill(1))) return undefined;
  const first = queue.byteAt(0);
  if (first >= 0x30 && first <= 0x39) return "mitmproxy";
  // A HAR may start with a BOM and blanks: look a little further (it is read whole anyway).
  await queue.fill(4096);
  const n = Math.min(queue.available, 4096);
  const head = Buffer.alloc(n);
  for (let i = 0; i < n; i++) head[i] = queue.byteAt(i);
  const format = flowFileFormat(head);
  if (format) return format;
  throw new FlowReadError(
    name,
    0,
    `not a flow file: a mitmproxy flow file starts with a digit and a HAR file with '{', this one with ${describeByte(head[0])}`,
  );
}

// ---------------------------------------------------------------- native

async function* readNative(queue: ByteQueue, name: string, opts: ReadOptions): AsyncGenerator<AnyFlow> {
  for (;;) {
    const start = queue.offset;
    const frame = await nextFrame(queue, opts);
    if (!frame) return;
    let state: TNetDict;
    try {
      state = topLevelDict(decodeTNet(frame, { base: start }), start);
    } catch (err) {
      if (err instanceof TNetstringError) throw new FlowReadError(name, err.offset, err.message);
      throw err;
    }
    const flow = toFlow(state, start, name, opts);
    if (flow) yield flow;
  }
}

function topLevelDict(value: TNetValue, start: number): TNetDict {
  if (isDict(value)) return value;
  throw new TNetstringError(start, `a flow must be a dict, this is a ${typeName(value)}`);
}

function toFlow(state: TNetDict, start: number, name: string, opts: ReadOptions): AnyFlow | undefined {
  try {
    const type = state.type;
    if (typeof type === "string" && type !== "http" && type !== "tcp") throw new UnsupportedFlowType(type);
    return flowFromState(upgrade(state));
  } catch (err) {
    if (err instanceof UnsupportedFlowType) {
      opts.onWarning?.(`${name}: skipped the flow at byte ${start}: ${err.message}`);
      return undefined;
    }
    if (err instanceof FlowFieldError || err instanceof UnknownVersionError) {
      throw new FlowReadError(name, start, `the flow at byte ${start} cannot be read: ${err.message}`);
    }
    throw err;
  }
}

/** The next flow's bytes (`LENGTH:DATA}`), undefined at a clean end; damage throws with its offset. */
async function nextFrame(queue: ByteQueue, opts: ReadOptions): Promise<Buffer | undefined> {
  const start = queue.offset;
  const name = opts.name ?? "flows";
  const damage = (at: number, reason: string) => new FlowReadError(name, at, `damaged at byte ${at}: ${reason}`);
  let digits = 0;
  let length = 0;
  let b: number;
  for (;;) {
    if (!(await queue.fill(digits + 1))) {
      if (digits === 0) return undefined;
      throw damage(start + digits, "the file ends inside a flow's length");
    }
    b = queue.byteAt(digits);
    if (b < 0x30 || b > 0x39) break;
    if (digits === MAX_LENGTH_DIGITS) throw damage(start, `a flow length of more than ${MAX_LENGTH_DIGITS} digits`);
    length = length * 10 + (b - 0x30);
    digits++;
  }
  if (digits === 0) throw damage(start, `expected the next flow (a tnetstring length), found ${describeByte(b)}`);
  if (b !== 0x3a) throw damage(start + digits, "expected ':' after a tnetstring length");
  const total = digits + 1 + length + 1;
  const left = opts.size === undefined ? undefined : opts.size - start - digits - 1;
  if (left !== undefined && length + 1 > left) {
    throw damage(start, `a flow of ${length} bytes is declared, but the file ends ${Math.max(0, left)} bytes later`);
  }
  const max = opts.maxFlowBytes ?? DEFAULT_MAX_FLOW_BYTES;
  if (length > max) throw damage(start, `a flow of ${length} bytes is declared, more than the ${max} bytes allowed`);
  if (!(await queue.fill(total))) {
    throw damage(
      start,
      `a flow of ${length} bytes is declared, but the file ends ${queue.available - digits - 1} bytes later`,
    );
  }
  return queue.take(total);
}

// ---------------------------------------------------------------- HAR

async function* readHar(queue: ByteQueue, name: string, opts: ReadOptions): AsyncGenerator<AnyFlow> {
  const bytes = await queue.rest(MAX_HAR_BYTES);
  if (!bytes) throw new FlowReadError(name, undefined, `a HAR file larger than ${MAX_HAR_BYTES} bytes cannot be read`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8").replace(/^\ufeff/, ""));
  } catch (err) {
    throw new FlowReadError(name, undefined, `not a HAR file: not valid JSON (${(err as Error).message})`);
  }
  try {
    yield* harToFlows(doc, (message) => opts.onWarning?.(`${name}: ${message}`));
  } catch (err) {
    if (err instanceof HarFormatError) throw new FlowReadError(name, undefined, `not a HAR file: ${err.message}`);
    throw err;
  }
}
