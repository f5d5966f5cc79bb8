// The RFC 6455 frame parser of core/websocket/frames.ts: frames split at every
// byte boundary, masked (from clients) and unmasked (from servers), the three
// length encodings, control frames between fragments, hostile headers, and a
// 32 MiB frame fed in 16 KiB chunks (the parser used to re-join its buffer per
// chunk: quadratic in the frame's size).
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  applyMask,
  closePayload,
  encodeFrame,
  FrameError,
  FrameParser,
  OPCODE,
  parseClose,
  type Frame,
} from "../../core/websocket/frames.ts";

const LIMIT = 256 * 1024 * 1024;
const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

interface RawFrame {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer;
  /** The mask key; none: unmasked. */
  mask?: Buffer;
  /** Force a length encoding (non-minimal ones too): 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
  /** Write this length instead of the payload's (hostile headers). */
  length?: bigint;
}

/** A frame's wire bytes, written by hand (not by encodeFrame) so that headers can be hostile. */
function raw(f: RawFrame): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  const len = f.length ?? BigInt(payload.length);
  const bits = f.lengthBits ?? (len < 126n ? 7 : len < 65536n ? 16 : 64);
  const head = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const maskBit = f.mask ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | Number(len));
  else if (bits === 16) head.push(maskBit | 126, Number(len) >> 8, Number(len) & 0xff);
  else {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(len);
    head.push(maskBit | 127, ...b);
  }
  if (!f.mask) return Buffer.concat([Buffer.from(head), payload]);
  const body = Buffer.from(payload.map((x, i) => x ^ f.mask![i & 3]!));
  return Buffer.concat([Buffer.from(head), f.mask, body]);
}

const text = (s: string) => Buffer.from(s, "utf8");
const pattern = (n: number, seed = 1) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
};

/** What a frame says, in a form assert.equal compares well. */
const shape = (f: Frame) => ({ fin: f.fin, rsv: f.rsv, opcode: f.opcode, payload: f.payload.toString("hex") });

function parseAll(wire: Buffer, masked: boolean, chunks: number[] = [wire.length], limit = LIMIT): Frame[] {
  const p = new FrameParser(masked, limit);
  const out: Frame[] = [];
  let at = 0;
  for (const n of chunks) {
    out.push(...p.push(wire.subarray(at, at + n)));
    at += n;
  }
  assert.is(at, wire.length, "the chunks cover the input");
  assert.is(p.pending, 0, "nothing left over");
  return out;
}

/** The thrown FrameError (fails when nothing or something else is thrown). */
function frameError(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, FrameError);
    return err as FrameError;
  }
  assert.unreachable("expected a FrameError");
  throw new Error("unreachable");
}

/** A message in three fragments with a ping and a pong between them, then a close. */
function interleaved(mask: Buffer | undefined): { wire: Buffer; expected: ReturnType<typeof shape>[] } {
  const parts: RawFrame[] = [
    { fin: false, opcode: OPCODE.text, payload: text("hel") },
    { opcode: OPCODE.ping, payload: text("p1") },
    { fin: false, opcode: OPCODE.continuation, payload: pattern(300, 2) },
    { opcode: OPCODE.pong, payload: Buffer.alloc(0) },
    { fin: true, opcode: OPCODE.continuation, payload: text("lo") },
    { opcode: OPCODE.binary, payload: pattern(125, 3) },
    { opcode: OPCODE.close, payload: closePayload(1000, "bye") },
  ];
  const wire = Buffer.concat(parts.map((p) => raw({ ...p, mask })));
  const expected = parts.map((p) => ({
    fin: p.fin ?? true,
    rsv: 0,
    opcode: p.opcode,
    payload: (p.payload ?? Buffer.alloc(0)).toString("hex"),
  }));
  return { wire, expected };
}

// ---------------------------------------------------------------- lengths and masking

for (const masked of [true, false]) {
  const who = masked ? "masked (client)" : "unmasked (server)";
  for (const [n, bits] of [
    [0, 7],
    [1, 7],
    [125, 7],
    [126, 16],
    [127, 16],
    [65535, 16],
    [65536, 64],
    [70001, 64],
  ] as const) {
    test(`${who}: a ${n}-byte payload (${bits}-bit length) parses to the same bytes`, () => {
      const payload = pattern(n);
      const wire = raw({ opcode: OPCODE.binary, payload, mask: masked ? KEY : undefined });
      assert.is(wire.length, n + 2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (masked ? 4 : 0));
      const [f, ...rest] = parseAll(wire, masked);
      assert.is(rest.length, 0);
      assert.equal(shape(f!), { fin: true, rsv: 0, opcode: OPCODE.binary, payload: payload.toString("hex") });
    });
  }

  test(`${who}: non-minimal length encodings are accepted (5 bytes written with 16 and with 64 bits)`, () => {
    const mask = masked ? KEY : undefined;
    const wire = Buffer.concat([
      raw({ opcode: OPCODE.text, payload: text("hello"), mask, lengthBits: 16 }),
      raw({ opcode: OPCODE.text, payload: text("world"), mask, lengthBits: 64 }),
    ]);
    assert.equal(
      parseAll(wire, masked).map((f) => f.payload.toString()),
      ["hello", "world"],
    );
  });

  test(`${who}: encodeFrame's output parses back (every length encoding, fin off too)`, () => {
    for (const n of [0, 5, 125, 126, 65535, 65536, 100_000]) {
      const payload = pattern(n, n);
      const [f] = parseAll(encodeFrame(OPCODE.binary, payload, masked, n !== 5), masked);
      assert.ok(f!.payload.equals(payload), `${n} bytes`);
      assert.is(f!.fin, n !== 5);
    }
  });

  test(`${who}: control frames between fragments come out in wire order, each with its own payload`, () => {
    const { wire, expected } = interleaved(masked ? KEY : undefined);
    assert.equal(parseAll(wire, masked).map(shape), expected);
    const close = parseAll(wire, masked).at(-1)!;
    assert.equal(parseClose(close.payload), { code: 1000, reason: "bye" });
  });

  test(`${who}: split in two at every byte boundary, the frames are the same`, () => {
    const { wire, expected } = interleaved(masked ? KEY : undefined);
    for (let i = 0; i <= wire.length; i++) {
      assert.equal(parseAll(wire, masked, [i, wire.length - i]).map(shape), expected, `split at ${i}`);
    }
  });

  test(`${who}: fed one byte at a time, and in chunks of 2..17 bytes, the frames are the same`, () => {
    const { wire, expected } = interleaved(masked ? KEY : undefined);
    for (let size = 1; size <= 17; size++) {
      const chunks = Array.from({ length: Math.ceil(wire.length / size) }, (_, i) =>
        Math.min(size, wire.length - i * size),
      );
      assert.equal(parseAll(wire, masked, chunks).map(shape), expected, `chunks of ${size}`);
    }
  });

  test(`${who}: a 64-bit-length frame split at every boundary of its header and around its payload's edges`, () => {
    const payload = pattern(66_000, 5);
    const wire = Buffer.concat([
      raw({ opcode: OPCODE.binary, payload, mask: masked ? KEY : undefined }),
      raw({ opcode: OPCODE.ping, payload: text("after"), mask: masked ? KEY : undefined }),
    ]);
    const head = masked ? 14 : 10;
    const cuts = [
      ...Array.from({ length: head + 3 }, (_, i) => i),
      1000,
      65_536,
      head + 66_000 - 1,
      head + 66_000,
      head + 66_000 + 1,
      wire.length - 1,
    ];
    for (const i of cuts) {
      const frames = parseAll(wire, masked, [i, wire.length - i]);
      assert.is(frames.length, 2, `split at ${i}`);
      assert.ok(frames[0]!.payload.equals(payload), `split at ${i}`);
      assert.is(frames[1]!.payload.toString(), "after");
    }
  });
}

test("the masking key may start anywhere and each frame has its own key", () => {
  const keys = [Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([1, 2, 3, 4])];
  const wire = Buffer.concat(
    keys.map((mask, i) => raw({ opcode: OPCODE.text, payload: text(`message ${i} with an odd length`), mask })),
  );
  const chunks = [3, 1, 7, 2, 50, 5];
  chunks.push(wire.length - chunks.reduce((a, b) => a + b, 0));
  assert.equal(
    parseAll(wire, true, chunks).map((f) => f.payload.toString()),
    keys.map((_, i) => `message ${i} with an odd length`),
  );
});

test("a partial frame gives nothing yet and keeps its bytes pending; empty chunks change nothing", () => {
  const p = new FrameParser(true, LIMIT);
  const wire = raw({ opcode: OPCODE.text, payload: text("hello"), mask: KEY });
  assert.equal(p.push(Buffer.alloc(0)), []);
  assert.equal(p.push(wire.subarray(0, 7)), []);
  assert.is(p.pending, 7 - 6, "the header (2 + 4 bytes) is consumed, 1 payload byte waits");
  assert.equal(p.push(Buffer.alloc(0)), []);
  const [f] = p.push(wire.subarray(7));
  assert.is(f!.payload.toString(), "hello");
  assert.is(p.pending, 0);
});

test("a payload is a copy: changing the pushed chunks afterwards does not change it", () => {
  const p = new FrameParser(false, LIMIT);
  const wire = raw({ opcode: OPCODE.binary, payload: pattern(40) });
  const a = Buffer.from(wire.subarray(0, 20));
  const b = Buffer.from(wire.subarray(20));
  p.push(a);
  const [f] = p.push(b);
  a.fill(0);
  b.fill(0);
  assert.ok(f!.payload.equals(pattern(40)));
  const one = Buffer.from(raw({ opcode: OPCODE.binary, payload: pattern(10) }));
  const [g] = new FrameParser(false, LIMIT).push(one);
  one.fill(0);
  assert.ok(g!.payload.equals(pattern(10)), "a frame inside one chunk is copied too (the chunk is not kept alive)");
});

test("applyMask equals a byte-by-byte XOR at every alignment and length (it is its own inverse)", () => {
  const backing = pattern(4096 + 8, 4);
  for (const offset of [0, 1, 2, 3, 5, 6, 7]) {
    for (const n of [0, 1, 3, 4, 5, 63, 64, 65, 66, 67, 127, 1000, 4096]) {
      const data = Buffer.from(backing).subarray(offset, offset + n);
      const expected = Buffer.from(data.map((x, i) => x ^ KEY[i & 3]!));
      applyMask(data, KEY);
      assert.ok(data.equals(expected), `offset ${offset}, ${n} bytes`);
      applyMask(data, KEY);
      assert.ok(data.equals(backing.subarray(offset, offset + n)), `offset ${offset}, ${n} bytes, back`);
    }
  }
});

test("encodeFrame: masked frames carry the mask bit and a key that unmasks to the payload; unmasked ones the bytes as they are", () => {
  for (const n of [0, 5, 126, 70_000]) {
    const payload = pattern(n, 6);
    const masked = encodeFrame(OPCODE.binary, payload, true);
    const lengthEnd = n < 126 ? 2 : n < 65536 ? 4 : 10;
    assert.is(masked[1]! & 0x80, 0x80);
    assert.is(masked.length, lengthEnd + 4 + n);
    const body = Buffer.from(masked.subarray(lengthEnd + 4));
    applyMask(body, masked.subarray(lengthEnd, lengthEnd + 4));
    assert.ok(body.equals(payload), `${n} bytes`);
    const plain = encodeFrame(OPCODE.binary, payload, false);
    assert.is(plain[1]! & 0x80, 0);
    assert.ok(plain.subarray(lengthEnd).equals(payload));
  }
});

// ---------------------------------------------------------------- hostile input

test("reserved bits: RSV1, RSV2, RSV3 each close with 1002, told by the first two bytes", () => {
  for (const rsv of [1, 2, 4, 7]) {
    const wire = raw({ rsv, opcode: OPCODE.text, payload: text("x"), mask: KEY, length: 1n << 40n, lengthBits: 64 });
    const e = frameError(() => new FrameParser(true, LIMIT).push(wire.subarray(0, 2)));
    assert.is(e.closeCode, 1002);
    assert.match(e.message, /reserved bits/);
  }
});

test("reserved opcodes 0x3-0x7 and 0xb-0xf close with 1002", () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const e = frameError(() => new FrameParser(false, LIMIT).push(raw({ opcode, payload: text("x") }).subarray(0, 2)));
    assert.is(e.closeCode, 1002);
    assert.is(e.message, `reserved opcode 0x${opcode.toString(16)}`);
  }
});

test("masking the wrong way: an unmasked frame from a client, a masked one from a server: 1002", () => {
  const fromClient = frameError(() =>
    new FrameParser(true, LIMIT).push(raw({ opcode: OPCODE.text, payload: text("hello") })),
  );
  assert.is(fromClient.message, "unmasked frame from the client");
  assert.is(fromClient.closeCode, 1002);
  const fromServer = frameError(() =>
    new FrameParser(false, LIMIT).push(raw({ opcode: OPCODE.text, payload: text("hello"), mask: KEY })),
  );
  assert.is(fromServer.message, "masked frame from the server");
  assert.is(fromServer.closeCode, 1002);
});

test("a 64-bit length with the top bit set is a protocol error (1002), told before any payload arrives", () => {
  for (const length of [1n << 63n, (1n << 64n) - 1n]) {
    const wire = raw({ opcode: OPCODE.binary, mask: KEY, length, lengthBits: 64 });
    const p = new FrameParser(true, LIMIT);
    assert.equal(p.push(wire.subarray(0, 9)), [], "the length is not complete yet");
    const e = frameError(() => p.push(wire.subarray(9, 10)));
    assert.is(e.closeCode, 1002);
    assert.match(e.message, /most significant bit/);
  }
});

test("a length over the limit closes with 1009 as soon as the length is in (64-bit, 16-bit, 7-bit)", () => {
  const cases: Array<[bigint, 7 | 16 | 64, number]> = [
    [(1n << 63n) - 1n, 64, LIMIT],
    [BigInt(LIMIT) + 1n, 64, LIMIT],
    [1000n, 16, 999],
    [100n, 7, 99],
  ];
  for (const [length, lengthBits, limit] of cases) {
    const wire = raw({ opcode: OPCODE.binary, length, lengthBits });
    const headLen = lengthBits === 64 ? 10 : lengthBits === 16 ? 4 : 2;
    const e = frameError(() => new FrameParser(false, limit).push(wire.subarray(0, headLen)));
    assert.is(e.closeCode, 1009, `${length} with limit ${limit}`);
    assert.is(e.message, `frame of ${length} bytes exceeds the limit`);
  }
  const atLimit = raw({ opcode: OPCODE.binary, payload: pattern(99) });
  assert.is(parseAll(atLimit, false, [atLimit.length], 99)[0]!.payload.length, 99, "exactly the limit is allowed");
});

test("a control frame longer than 125 bytes closes with 1002 (7-bit 126 and 127 markers, 16-bit length)", () => {
  for (const opcode of [OPCODE.ping, OPCODE.pong, OPCODE.close]) {
    for (const [length, lengthBits] of [
      [126n, 16],
      [126n, 64],
      [65535n, 16],
    ] as const) {
      const wire = raw({ opcode, length, lengthBits, mask: KEY });
      const e = frameError(() => new FrameParser(true, LIMIT).push(wire));
      assert.is(e.closeCode, 1002);
      assert.is(e.message, "control frame longer than 125 bytes");
    }
    const ok = raw({ opcode, payload: pattern(125), mask: KEY });
    assert.is(parseAll(ok, true)[0]!.payload.length, 125, "125 bytes is allowed");
  }
});

test("a fragmented control frame (FIN clear) closes with 1002, told by the first byte pair", () => {
  for (const opcode of [OPCODE.ping, OPCODE.pong, OPCODE.close]) {
    const wire = raw({ fin: false, opcode, payload: text("x"), mask: KEY });
    const e = frameError(() => new FrameParser(true, LIMIT).push(wire.subarray(0, 2)));
    assert.is(e.closeCode, 1002);
    assert.is(e.message, "fragmented control frame");
  }
});

test("after an error the parser does not resynchronise: later pushes throw again, frames before the bad one in the same push are not returned", () => {
  const p = new FrameParser(true, LIMIT);
  const good = raw({ opcode: OPCODE.text, payload: text("fine"), mask: KEY });
  const bad = raw({ rsv: 4, opcode: OPCODE.text, payload: text("bad"), mask: KEY });
  frameError(() => p.push(Buffer.concat([good, bad])));
  const again = frameError(() => p.push(good));
  assert.match(again.message, /reserved bits/);
});

test("message-level rules are the relay's: the parser passes a lone continuation and a data frame inside a fragmented message", () => {
  const wire = Buffer.concat([
    raw({ opcode: OPCODE.continuation, payload: text("orphan") }),
    raw({ fin: false, opcode: OPCODE.text, payload: text("a") }),
    raw({ opcode: OPCODE.text, payload: text("b") }),
  ]);
  assert.equal(
    parseAll(wire, false).map((f) => [f.opcode, f.fin, f.payload.toString()]),
    [
      [0, true, "orphan"],
      [1, false, "a"],
      [1, true, "b"],
    ],
  );
});

// ---------------------------------------------------------------- size

test("a 32 MiB masked frame fed in 16 KiB chunks parses to exactly its bytes, then the next frame", () => {
  const size = 32 * 1024 * 1024;
  const payload = pattern(size, 9);
  const wire = Buffer.concat([encodeFrame(OPCODE.binary, payload, true), encodeFrame(OPCODE.text, text("next"), true)]);
  const p = new FrameParser(true, LIMIT);
  const frames: Frame[] = [];
  for (let at = 0; at < wire.length; at += 16 * 1024) frames.push(...p.push(wire.subarray(at, at + 16 * 1024)));
  assert.is(frames.length, 2);
  assert.is(frames[0]!.payload.length, size);
  const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  assert.is(digest(frames[0]!.payload), digest(payload));
  assert.is(frames[1]!.payload.toString(), "next");
  assert.is(p.pending, 0);
});

test("a 32 MiB unmasked frame in 16 KiB chunks that straddle its header and the next frame's", () => {
  const size = 32 * 1024 * 1024;
  const payload = pattern(size, 11);
  const wire = Buffer.concat([
    raw({ opcode: OPCODE.ping, payload: text("before") }),
    encodeFrame(OPCODE.binary, payload, false, false),
    raw({ opcode: OPCODE.continuation, payload: text("tail") }),
  ]);
  const p = new FrameParser(false, LIMIT);
  const frames: Frame[] = [];
  // Offset by 5 bytes so that chunk edges fall inside headers.
  frames.push(...p.push(wire.subarray(0, 5)));
  for (let at = 5; at < wire.length; at += 16 * 1024) frames.push(...p.push(wire.subarray(at, at + 16 * 1024)));
  assert.equal(
    frames.map((f) => [f.opcode, f.fin, f.payload.length]),
    [
      [OPCODE.ping, true, 6],
      [OPCODE.binary, false, size],
      [OPCODE.continuation, true, 4],
    ],
  );
  assert.ok(frames[1]!.payload.equals(payload));
});

test.run();
