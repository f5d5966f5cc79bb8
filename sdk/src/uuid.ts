/**
 * Random (version 4) UUIDs as flat strings. Node's randomUUID() joins its
 * hex pairs into a tree of about 20 V8 cons strings (485 bytes of heap per
 * id, against ~60 flat); every flow kept (the web UI keeps 50,000) held that
 * tree. These are written into a byte buffer and read back as one string.
 */
import { randomFillSync } from "node:crypto";

const HEX = Buffer.from("0123456789abcdef", "latin1");
// randomFillSync costs ~6 µs a call whatever its size up to a few KiB: 1,024 ids (16 KiB) a call.
const BATCH = 1024;
const random = Buffer.allocUnsafe(16 * BATCH);
let used = BATCH;
const text = Buffer.allocUnsafe(36);

export function flatUUID(): string {
  if (used === BATCH) {
    randomFillSync(random);
    used = 0;
  }
  const at = 16 * used++;
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d;
    let b = random[at + i]!;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
    if (i === 8) b = (b & 0x3f) | 0x80; // variant 10
    text[out++] = HEX[b >> 4]!;
    text[out++] = HEX[b & 0x0f]!;
  }
  return text.toString("latin1", 0, 36);
}
