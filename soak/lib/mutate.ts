// A seeded mutation engine: stacks of byte-level and token-level edits on a
// valid input. Text mode knows HTTP's delimiters and numbers; binary mode
// knows length fields (interesting 8/16/24/32-bit values at any offset).
import type { Rng } from "./prng.ts";

const TEXT_BYTES = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x2c, 0x22, 0x7f, 0x80, 0xff, 0x41, 0x30, 0x2d, 0x2f];
const BIN_BYTES = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x40];
const INTERESTING = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0xffffff, 0x7fffffff,
  0xffffffff,
];
const NUMBERS = [
  "0",
  "-1",
  "1",
  "00",
  "+5",
  "65535",
  "65536",
  "4294967296",
  "18446744073709551616",
  "99999999999999999999999",
  "0x10",
  "1e3",
  " 5",
  "5 ",
  "",
  "٣",
];

/** HTTP pieces a mutation may insert (framing, smuggling and parser-confusion material). */
export const HTTP_TOKENS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  ":",
  "\0",
  "\r\n\r\n",
  "\n\n",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: chunked, identity\r\n",
  "Transfer-Encoding: identity\r\n",
  "Transfer-Encoding : chunked\r\n",
  "Content-Length: 0\r\n",
  "Content-Length: 5\r\n",
  "Content-Length: -1\r\n",
  "Content-Length: 18446744073709551616\r\n",
  "Content-Length: 1, 2\r\n",
  "Host: 127.0.0.1\r\n",
  "Connection: close\r\n",
  "Connection: keep-alive\r\n",
  "Expect: 100-continue\r\n",
  "Upgrade: websocket\r\n",
  "Upgrade: h2c\r\n",
  " folded\r\n",
  "X: \x00\r\n",
  "0\r\n\r\n",
  "ffffffffffffffff\r\n",
  '1;ext="a"\r\nx\r\n',
  "HTTP/1.0",
  "HTTP/1.1",
  "HTTP/2.0",
  "HTTP/9.9",
  "GET ",
  "CONNECT ",
  "POST ",
  "*",
  "%00",
  "%",
  "http://",
  "[::1]",
  "@",
  "#",
  "?",
  "/../",
  "\u00ff",
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
];

export type Mode = "text" | "binary";

/** Applies 1–`max` random edits to a copy of `input`. `from`: edits land at or after this offset (most of the time). */
export function mutate(
  rng: Rng,
  input: Buffer,
  mode: Mode,
  opts: { max?: number; from?: number; tokens?: readonly string[]; others?: readonly Buffer[] } = {},
): Buffer {
  let b: Buffer = Buffer.from(input);
  const n = 1 + rng.int(opts.max ?? 3);
  for (let i = 0; i < n; i++) b = (mode === "text" ? textEdit : binaryEdit)(rng, b, opts);
  return b;
}

interface EditOpts {
  from?: number;
  tokens?: readonly string[];
  others?: readonly Buffer[];
}

function at(rng: Rng, b: Buffer, o: EditOpts, extra = 0): number {
  const from = o.from !== undefined && o.from < b.length && rng.chance(0.8) ? o.from : 0;
  return from + rng.int(Math.max(1, b.length - from + extra));
}

function insert(b: Buffer, pos: number, piece: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, pos), piece, b.subarray(pos)]);
}

function textEdit(rng: Rng, b: Buffer, o: EditOpts): Buffer {
  if (b.length === 0) return Buffer.from(rng.pick(o.tokens ?? HTTP_TOKENS), "latin1");
  switch (rng.int(11)) {
    case 0: {
      const p = at(rng, b, o);
      b[p] = b[p]! ^ (1 << rng.int(8));
      return b;
    }
    case 1: {
      b[at(rng, b, o)] = rng.pick(TEXT_BYTES);
      return b;
    }
    case 2:
    case 3:
      return insert(b, at(rng, b, o, 1), Buffer.from(rng.pick(o.tokens ?? HTTP_TOKENS), "latin1"));
    case 4: {
      const p = at(rng, b, o);
      return Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + rng.int(16))]);
    }
    case 5:
      return lineEdit(rng, b);
    case 6:
      return numberEdit(rng, b);
    case 7:
      return b.subarray(0, at(rng, b, o));
    case 8: {
      // A long run: header and line limits.
      const len = rng.pick([100, 1000, 8200, 16_500, 66_000]);
      return insert(b, at(rng, b, o, 1), Buffer.alloc(len, rng.pick([0x41, 0x20, 0x30, 0x3b])));
    }
    case 9: {
      // Case of a letter (field names are case-insensitive, tokens are not always).
      const p = at(rng, b, o);
      const c = b[p]!;
      if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) b[p] = c ^ 0x20;
      return b;
    }
    default:
      // Another input after this one (pipelining), or a slice of it.
      if (o.others?.length) {
        const other = rng.pick(o.others);
        return Buffer.concat([b, rng.chance(0.5) ? other : other.subarray(0, rng.int(other.length + 1))]);
      }
      return Buffer.concat([b, b.subarray(0, rng.int(b.length + 1))]);
  }
}

/** Duplicates, drops or swaps a whole line. */
function lineEdit(rng: Rng, b: Buffer): Buffer {
  const lines = b.toString("latin1").split("\r\n");
  if (lines.length < 2) return b;
  const i = rng.int(lines.length);
  const j = rng.int(lines.length);
  switch (rng.int(3)) {
    case 0:
      lines.splice(i, 0, lines[i]!);
      break;
    case 1:
      lines.splice(i, 1);
      break;
    default:
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  return Buffer.from(lines.join("\r\n"), "latin1");
}

/** Replaces one run of digits with an edge-case number. */
function numberEdit(rng: Rng, b: Buffer): Buffer {
  const s = b.toString("latin1");
  const runs = [...s.matchAll(/[0-9a-fA-F]*[0-9]+/g)];
  if (runs.length === 0) return b;
  const m = rng.pick(runs);
  return Buffer.from(s.slice(0, m.index) + rng.pick(NUMBERS) + s.slice(m.index + m[0].length), "latin1");
}

function binaryEdit(rng: Rng, b: Buffer, o: EditOpts): Buffer {
  if (b.length === 0) return rng.bytes(1 + rng.int(8));
  switch (rng.int(9)) {
    case 0: {
      const p = at(rng, b, o);
      b[p] = b[p]! ^ (1 << rng.int(8));
      return b;
    }
    case 1: {
      b[at(rng, b, o)] = rng.chance(0.5) ? rng.pick(BIN_BYTES) : rng.int(256);
      return b;
    }
    case 2:
    case 3: {
      // A length field: an interesting value, 1–4 bytes wide, big-endian (TLS, HTTP/2, WebSocket all are).
      const width = rng.range(1, 4);
      const p = at(rng, b, o);
      if (p + width > b.length) return b;
      const v = rng.chance(0.7) ? rng.pick(INTERESTING) : rng.u32();
      for (let k = 0; k < width; k++) b[p + k] = (v >>> (8 * (width - 1 - k))) & 0xff;
      return b;
    }
    case 4:
      return insert(b, at(rng, b, o, 1), rng.bytes(1 + rng.int(32)));
    case 5: {
      const p = at(rng, b, o);
      return Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + rng.int(32))]);
    }
    case 6: {
      const p = at(rng, b, o);
      const len = 1 + rng.int(Math.min(64, b.length - p));
      return insert(b, at(rng, b, o, 1), Buffer.from(b.subarray(p, p + len)));
    }
    case 7:
      return b.subarray(0, at(rng, b, o));
    default:
      return o.others?.length ? Buffer.concat([b, rng.pick(o.others)]) : Buffer.concat([b, rng.bytes(1 + rng.int(16))]);
  }
}
