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

/**
 * Incremental frame parser for one direction. `push` bytes, then take the
 * complete frames. `expectMasked`: frames from clients must be masked, from
 * servers must not be (RFC 6455 §5.1).
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly expectMasked: boolean,
    private readonly maxPayload: number,
  ) {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      frames.push(frame);
    }
    return frames;
  }

  private next(): Frame | undefined {
    const b = this.buf;
    if (b.length < 2) return undefined;
    const fin = (b[0]! & 0x80) !== 0;
    const rsv = (b[0]! >> 4) & 0x07;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let offset = 2;
    if (len === 126) {
      if (b.length < 4) return undefined;
      len = b.readUInt16BE(2);
      offset = 4;
    } else if (len === 127) {
      if (b.length < 10) return undefined;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.maxPayload)) throw new FrameError(`frame of ${big} bytes exceeds the limit`, 1009);
      len = Number(big);
      offset = 10;
    }
    if (masked !== this.expectMasked) {
      throw new FrameError(this.expectMasked ? "unmasked frame from the client" : "masked frame from the server", 1002);
    }
    if (rsv !== 0) throw new FrameError("reserved bits set but no extension was negotiated", 1002);
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) throw new FrameError(`reserved opcode 0x${opcode.toString(16)}`, 1002);
    if (opcode >= 0x8) {
      if (!fin) throw new FrameError("fragmented control frame", 1002);
      if (len > 125) throw new FrameError("control frame longer than 125 bytes", 1002);
    }
    if (len > this.maxPayload) throw new FrameError(`frame of ${len} bytes exceeds the limit`, 1009);
    const maskStart = offset;
    if (masked) offset += 4;
    if (b.length < offset + len) return undefined;
    let payload = b.subarray(offset, offset + len);
    if (masked) {
      const mask = b.subarray(maskStart, maskStart + 4);
      const out = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) out[i] = payload[i]! ^ mask[i & 3]!;
      payload = out;
    } else {
      payload = Buffer.from(payload);
    }
    this.buf = b.subarray(offset + len);
    return { fin, rsv, opcode, payload };
  }
}

/** Encodes one frame; `mask` for frames sent to a server. */
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean, fin = true): Buffer {
  const len = payload.length;
  const headLen = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (mask ? 4 : 0);
  const head = Buffer.allocUnsafe(headLen);
  head[0] = (fin ? 0x80 : 0) | opcode;
  let offset = 2;
  if (len < 126) {
    head[1] = len;
  } else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
    offset = 4;
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
    offset = 10;
  }
  if (!mask) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const key = randomBytes(4);
  key.copy(head, offset);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
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
