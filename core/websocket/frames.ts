import { randomBytes } from "node:crypto";

/** RFC 6455 frames: what Node lacks for relaying WebSocket messages. */

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface Frame {
  fin: boolean;
  /** RSV1-3 bits (extensions; none are negotiated through interloper). */
  rsv: number;
  opcode: number;
  /** Unmasked payload. */
  payload: Buffer;
}

export class FrameError extends Error {
  constructor(
    message: string,
    /** The close code to send (1002 protocol error, 1009 too big). */
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** A frame's header, read whole; its payload may still be arriving. */
interface Header {
  fin: boolean;
  rsv: number;
  opcode: number;
  length: number;
  mask: Buffer | undefined;
}

/** 2^63: a 64-bit length with the most significant bit set (RFC 6455 §5.2 says it must be 0). */
const TOP_BIT = 1n << 63n;

/**
 * Incremental frame parser for one direction. `push` bytes, then take the
 * complete frames. `expectMasked`: frames from clients must be masked, from
 * servers must not be (RFC 6455 §5.1).
 *
 * Received chunks wait in a list and a payload is copied out once, when all
 * of it is in, so a frame that arrives in n chunks costs O(size), not
 * O(size × n). A bad header is reported as soon as the bytes that show the
 * fault are in; after a FrameError the parser stays on the bad frame (later
 * pushes throw again): the connection is to be closed.
 */
export class FrameParser {
  /** Unparsed bytes: `chunks[0]` from `offset` on, then the other chunks whole. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private buffered = 0;
  /** The header of the frame whose payload is still arriving. */
  private header: Header | undefined;

  constructor(
    private readonly expectMasked: boolean,
    private readonly maxPayload: number,
  ) {}

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      frames.push(frame);
    }
    return frames;
  }

  private next(): Frame | undefined {
    this.header ??= this.readHeader();
    const h = this.header;
    if (!h || this.buffered < h.length) return undefined;
    this.header = undefined;
    return { fin: h.fin, rsv: h.rsv, opcode: h.opcode, payload: this.take(h.length, h.mask) };
  }

  /** Reads and checks the next header (and consumes it); undefined until all of it is in. */
  private readHeader(): Header | undefined {
    if (this.buffered < 2) return undefined;
    const first = this.peek(2);
    const b0 = first[0]!;
    const b1 = first[1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 0x07;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    this.checkFirstBytes(fin, rsv, opcode, masked);
    const len7 = b1 & 0x7f;
    const lengthEnd = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
    if (this.buffered < lengthEnd) return undefined;
    const head = this.peek(lengthEnd);
    const length =
      lengthEnd === 2 ? len7 : lengthEnd === 4 ? head.readUInt16BE(2) : this.bigLength(head.readBigUInt64BE(2));
    if (opcode >= 0x8 && length > 125) throw new FrameError("control frame longer than 125 bytes", 1002);
    if (length > this.maxPayload) throw new FrameError(`frame of ${length} bytes exceeds the limit`, 1009);
    const headLen = lengthEnd + (masked ? 4 : 0);
    if (this.buffered < headLen) return undefined;
    const mask = masked ? Buffer.from(this.peek(headLen).subarray(lengthEnd)) : undefined;
    this.skip(headLen);
    return { fin, rsv, opcode, length, mask };
  }

  /** The faults the first two bytes show. */
  private checkFirstBytes(fin: boolean, rsv: number, opcode: number, masked: boolean): void {
    if (masked !== this.expectMasked) {
      throw new FrameError(this.expectMasked ? "unmasked frame from the client" : "masked frame from the server", 1002);
    }
    if (rsv !== 0) throw new FrameError("reserved bits set but no extension was negotiated", 1002);
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa)
      throw new FrameError(`reserved opcode 0x${opcode.toString(16)}`, 1002);
    if (opcode >= 0x8 && !fin) throw new FrameError("fragmented control frame", 1002);
  }

  private bigLength(big: bigint): number {
    if (big >= TOP_BIT) throw new FrameError("64-bit payload length with the most significant bit set", 1002);
    if (big > BigInt(this.maxPayload)) throw new FrameError(`frame of ${big} bytes exceeds the limit`, 1009);
    return Number(big);
  }

  /** The first `n` unparsed bytes (n ≤ 14: a header), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = 0; filled < n; i++) {
      const c = this.chunks[i]!;
      filled += c.copy(out, filled, i === 0 ? this.offset : 0);
    }
    return out;
  }

  /** Consumes `n` bytes into a new buffer (unmasked with `mask`): the payload is copied once. */
  private take(n: number, mask: Buffer | undefined): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const c = this.chunks[used]!;
      const end = Math.min(c.length, this.offset + (n - filled));
      filled += c.copy(out, filled, this.offset, end);
      if (end === c.length) {
        used++;
        this.offset = 0;
      } else {
        this.offset = end;
      }
    }
    this.chunks.splice(0, used);
    this.buffered -= n;
    if (mask) applyMask(out, mask);
    return out;
  }

  private skip(n: number): void {
    let left = n;
    let used = 0;
    while (left > 0) {
      const avail = this.chunks[used]!.length - this.offset;
      if (avail > left) {
        this.offset += left;
        break;
      }
      left -= avail;
      used++;
      this.offset = 0;
    }
    this.chunks.splice(0, used);
    this.buffered -= n;
  }
}

/**
 * XORs `data` in place with the 4-byte `mask` (its first byte at data[0]):
 * unmasks, and masks. Four bytes at a time from the first aligned byte on.
 */
export function applyMask(data: Buffer, mask: Buffer): void {
  const n = data.length;
  let i = 0;
  if (n >= 64) {
    for (; (data.byteOffset + i) % 4 !== 0; i++) data[i]! ^= mask[i & 3]!;
    // The mask as it lines up with the word starting at i.
    const word = new Uint32Array(1);
    const bytes = new Uint8Array(word.buffer);
    for (let k = 0; k < 4; k++) bytes[k] = mask[(i + k) & 3]!;
    const m = word[0]!;
    const words = new Uint32Array(data.buffer, data.byteOffset + i, (n - i) >>> 2);
    for (let w = 0; w < words.length; w++) words[w]! ^= m;
    i += words.length * 4;
  }
  for (; i < n; i++) data[i]! ^= mask[i & 3]!;
}

/** Encodes one frame; `mask` for frames sent to a server. One buffer, the payload copied once. */
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean, fin = true): Buffer {
  const len = payload.length;
  const lengthEnd = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8);
  const headLen = lengthEnd + (mask ? 4 : 0);
  const out = Buffer.allocUnsafe(headLen + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    out[1] = len;
  } else if (len < 65536) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  payload.copy(out, headLen);
  if (!mask) return out;
  out[1] |= 0x80;
  const key = randomBytes(4);
  key.copy(out, lengthEnd);
  applyMask(out.subarray(headLen), key);
  return out;
}

/** The code and reason of a close frame's payload. */
export function parseClose(payload: Buffer): { code?: number; reason: string } {
  if (payload.length < 2) return { reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

export function closePayload(code: number, reason = ""): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2, "utf8");
  return b;
}
