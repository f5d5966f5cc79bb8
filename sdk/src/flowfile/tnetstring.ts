/**
 * mitmproxy's dialect of tnetstrings (typed netstrings): `LENGTH:DATA` and a
 * one-byte type tag. mitmproxy tells bytes (`,`) from text (`;`, UTF-8), so
 * this module does too: a `Buffer` is bytes, a JS string is text. Integers
 * (`#`) are numbers (bigints beyond 2^53); floats (`^`) are `TNetFloat`, so
 * that a float that happens to be whole (a timestamp of exactly 1700000000.0)
 * stays a float when written again.
 *
 * The decoder never trusts a length: every value must fit in what holds it,
 * containers are nested at most `maxDepth` deep, and every error names the
 * byte offset where the data went wrong.
 */
import { isUtf8 } from "node:buffer";
import { firstBadUtf8 } from "./utf8.ts";

/** A float as mitmproxy writes it (`^`); plain JS numbers are written as integers when they are whole. */
export class TNetFloat {
  constructor(readonly value: number) {}
}

/**
 * A value already encoded (its whole `LENGTH:DATA` and tag), written as it is: a writer that
 * encodes the same part of many flows (a connection) encodes it once. Never read back as one.
 */
export class TNetRaw {
  constructor(readonly bytes: Buffer) {}
}

/**
 * Bytes given as text of one character per byte (how the flow model holds method, path and
 * header fields), encoded as bytes (`,`) without a Buffer of their own: a writer of live flows
 * spared ~17 small Buffers a flow. A character above U+00FF makes the whole text UTF-8, as
 * `wireBytes` does. Never read back as one.
 */
export class TNetWire {
  constructor(readonly text: string) {}
}

export type TNetValue =
  null | boolean | number | bigint | TNetFloat | TNetRaw | TNetWire | string | Buffer | TNetValue[] | TNetDict;
export interface TNetDict {
  [key: string]: TNetValue;
}

/** Bad tnetstring data: `offset` is the byte (counted from the start of the file or buffer) where it went wrong. */
export class TNetstringError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`damaged at byte ${offset}: ${reason}`);
    this.name = "TNetstringError";
  }
}

/** mitmproxy's reader refuses length prefixes of more than 12 digits; so does this one. */
export const MAX_LENGTH_DIGITS = 12;
/** Far deeper than any flow state (about 6 levels) and far shallower than the JS stack. */
export const DEFAULT_MAX_DEPTH = 200;

const COLON = 0x3a;
const TAG_NAMES: Record<number, string> = {
  0x2c: "bytes",
  0x3b: "str",
  0x23: "int",
  0x5e: "float",
  0x21: "bool",
  0x7e: "null",
  0x5d: "list",
  0x7d: "dict",
};

// ---------------------------------------------------------------- encoding

/**
 * Encodes one value. Throws a TypeError for what tnetstrings cannot hold (undefined, functions,
 * NaN ints); a dict entry whose value is undefined is left out (as JSON.stringify does).
 */
export function encodeTNet(value: TNetValue): Buffer {
  // Most values (a flow with small bodies) fit the scratch buffer: one pass, back to front (a
  // payload's length is known once it is written), then one copy. Larger ones: two passes.
  const start = backwards(value, scratch, scratch.length, 0);
  if (start >= 0) return Buffer.from(scratch.subarray(start));
  return twoPasses(value);
}

/** Reused by every encoding: 256 KiB, written from its end. */
const scratch = Buffer.allocUnsafe(256 * 1024);

/** Thrown by `Backwards` when the scratch has no room left; caught by `encodeBackwards` alone. */
const NO_ROOM = new Error("tnetstring scratch full");

/**
 * The encoder's steps for a caller that knows its value's layout (flow-layout.ts): each call
 * writes one value or key so that it ends where the last one began, as `backwards` does, with
 * no state built first and no type tests. Containers: `close(tag)` before their items (the
 * items go in last to first), `open(mark)` after them.
 */
export class Backwards {
  pos: number;
  constructor(private readonly out: Buffer) {
    this.pos = out.length;
  }

  private to(start: number): void {
    if (start < 0) throw NO_ROOM;
    this.pos = start;
  }

  /** Any value, the generic way. */
  value(v: TNetValue): void {
    this.to(backwards(v, this.out, this.pos, 1));
  }
  /** Bytes held as text of one character per byte (see TNetWire). */
  wire(text: string): void {
    this.to(backwardsWire(text, this.out, this.pos));
  }
  bytes(b: Buffer): void {
    this.to(backwardsBytes(b, this.out, this.pos));
  }
  /** A whole number (a port, a status): `#`. */
  int(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) return this.value(n);
    const out = this.out;
    const pos = this.pos - 1;
    // A safe integer has at most 16 digits.
    if (pos < 16) throw NO_ROOM;
    out[pos] = 0x23;
    const start = digitsBefore(out, pos, n);
    this.to(lengthBefore(out, start, pos - start));
  }
  /** A float as mitmproxy writes one (`^`), e.g. a timestamp. */
  float(x: number): void {
    if (this.millis(x)) return;
    const text = floatText(x);
    const out = this.out;
    if (this.pos < text.length + 1) throw NO_ROOM;
    out[this.pos - 1] = 0x5e;
    this.to(lengthBefore(out, endAscii(out, this.pos - 1, text), text.length));
  }
  /**
   * A timestamp taken from Date.now() (whole milliseconds ÷ 1000) written from its digits, as
   * String() would write it: below 1e12 no shorter decimal reads back as the same double, so
   * String's shortest form is the digits of the milliseconds, trailing zeros dropped. Saves a
   * number-to-text conversion (~100 ns) per timestamp; false (nothing written) for other values.
   */
  private millis(x: number): boolean {
    if (!(x > 0 && x < 1e12)) return false;
    const ms = Math.round(x * 1000);
    if (ms / 1000 !== x) return false;
    const out = this.out;
    let pos = this.pos - 1;
    // 1e12 s in ms: 15 digits, a point, a tag.
    if (pos < 18) throw NO_ROOM;
    out[pos] = 0x5e;
    const end = pos;
    // No % on the milliseconds: above 2^31 they are doubles, and % on doubles is a call to fmod.
    const whole = Math.floor(x);
    let frac = ms - whole * 1000;
    if (frac === 0) {
      out[--pos] = 0x30;
    } else {
      let digits = 3;
      while (frac % 10 === 0) {
        frac /= 10;
        digits--;
      }
      for (; digits > 0; digits--) {
        out[--pos] = 0x30 + (frac % 10);
        frac = Math.floor(frac / 10);
      }
    }
    out[--pos] = 0x2e;
    pos = digitsBefore(out, pos, whole);
    this.to(lengthBefore(out, pos, end - pos));
    return true;
  }
  optFloat(x: number | undefined): void {
    if (x === undefined) this.null();
    else this.float(x);
  }
  null(): void {
    this.to(endAscii(this.out, this.pos, "0:~"));
  }
  bool(b: boolean): void {
    this.to(endAscii(this.out, this.pos, b ? "4:true!" : "5:false!"));
  }
  /** Bytes already encoded (a key, a template, a TNetRaw's bytes) as they are. */
  raw(bytes: Uint8Array): void {
    const start = this.pos - bytes.length;
    if (start < 0) throw NO_ROOM;
    const out = this.out;
    // Keys are a dozen bytes: a loop beats a call into C++ for `set`.
    if (bytes.length <= 32) for (let i = 0; i < bytes.length; i++) out[start + i] = bytes[i]!;
    else out.set(bytes, start);
    this.pos = start;
  }
  /** A list (`]`) or dict (`}`) ends here; returns the mark its `open` needs. */
  close(tag: 0x5d | 0x7d): number {
    if (this.pos < 1) throw NO_ROOM;
    this.out[--this.pos] = tag;
    return this.pos;
  }
  /** The container whose `close` gave `mark` begins here: its length goes before its items. */
  open(mark: number): void {
    this.to(lengthBefore(this.out, this.pos, mark - this.pos));
  }
}

/** One for every encoding through `encodeBackwards` (they never overlap: each runs to its end). */
const shared = new Backwards(scratch);

/**
 * The bytes `write(w, arg)` writes with a `Backwards` on the scratch; undefined when they did
 * not fit. `borrow`: the scratch itself, valid until the next encoding (for a caller that
 * copies at once). `write` must not encode anything else meanwhile.
 */
export function encodeBackwards<T>(write: (w: Backwards, arg: T) => void, arg: T, borrow = false): Buffer | undefined {
  const w = shared;
  w.pos = scratch.length;
  try {
    write(w, arg);
  } catch (e) {
    if (e === NO_ROOM) return undefined;
    throw e;
  }
  const bytes = scratch.subarray(w.pos);
  return borrow ? bytes : Buffer.from(bytes);
}

/**
 * Writes `value` so that it ends at `end`; returns where it starts, or -1 when `out` has no
 * room before `end` (the caller starts over with two passes).
 */
function backwards(value: TNetValue, out: Buffer, end: number, depth: number): number {
  if (depth > DEFAULT_MAX_DEPTH) throw new TypeError(`cannot encode values nested deeper than ${DEFAULT_MAX_DEPTH}`);
  if (value === null) return endAscii(out, end, "0:~");
  if (value === true) return endAscii(out, end, "4:true!");
  if (value === false) return endAscii(out, end, "5:false!");
  if (typeof value === "string") return backwardsString(value, out, end);
  if (value instanceof TNetWire) return backwardsWire(value.text, out, end);
  if (Buffer.isBuffer(value)) return backwardsBytes(value, out, end);
  if (typeof value === "number" || typeof value === "bigint" || value instanceof TNetFloat) {
    const text = numberText(value);
    const whole = typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
    if (end < text.length + 1) return -1;
    out[end - 1] = whole ? 0x23 : 0x5e;
    const start = endAscii(out, end - 1, text);
    return lengthBefore(out, start, text.length);
  }
  if (value instanceof TNetRaw) {
    const start = end - value.bytes.length;
    if (start < 0) return -1;
    out.set(value.bytes, start);
    return start;
  }
  if (end < 1) return -1;
  let pos = end - 1;
  if (Array.isArray(value)) {
    out[pos] = 0x5d;
    for (let i = value.length - 1; i >= 0 && pos >= 0; i--) pos = backwards(value[i]!, out, pos, depth + 1);
  } else if (isDict(value)) {
    out[pos] = 0x7d;
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0 && pos >= 0; i--) {
      const key = keys[i]!;
      const item = value[key];
      if (item === undefined) continue;
      pos = backwards(item, out, pos, depth + 1);
      if (pos >= 0) pos = backwardsString(key, out, pos);
    }
  } else {
    throw new TypeError(`cannot encode ${describeJs(value)} as a tnetstring`);
  }
  return pos < 0 ? -1 : lengthBefore(out, pos, end - 1 - pos);
}

function backwardsBytes(value: Buffer, out: Buffer, end: number): number {
  const start = end - 1 - value.length;
  if (start < 0) return -1;
  out[end - 1] = 0x2c;
  out.set(value, start);
  return lengthBefore(out, start, value.length);
}

function backwardsString(value: string, out: Buffer, end: number): number {
  let start = end - 1 - value.length;
  if (start < 0) return -1;
  out[end - 1] = 0x3b;
  for (let i = value.length - 1; i >= 0; i--) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) {
      // Not ASCII: C++ writes the UTF-8 (unpaired surrogates as U+FFFD, as Buffer.byteLength counts them).
      const n = Buffer.byteLength(value, "utf8");
      start = end - 1 - n;
      if (start < 0) return -1;
      out.write(value, start, n, "utf8");
      return lengthBefore(out, start, n);
    }
    out[start + i] = c;
  }
  return lengthBefore(out, start, value.length);
}

function backwardsWire(text: string, out: Buffer, end: number): number {
  const start = end - 1 - text.length;
  if (start < 0) return -1;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return backwardsUtf8Bytes(text, out, end);
    out[start + i] = c;
  }
  out[end - 1] = 0x2c;
  return lengthBefore(out, start, text.length);
}

function backwardsUtf8Bytes(text: string, out: Buffer, end: number): number {
  const n = Buffer.byteLength(text, "utf8");
  const start = end - 1 - n;
  if (start < 0) return -1;
  out.write(text, start, n, "utf8");
  out[end - 1] = 0x2c;
  return lengthBefore(out, start, n);
}

/**
 * The decimal digits of `n` (a whole number ≥ 0, below 2^53) before `end`, which has room;
 * returns where they start. Below 2^31 in int32 arithmetic: dividing by 10 is then a multiply,
 * not a chain of float divisions (~70 ns for a timestamp's ten digits).
 */
function digitsBefore(out: Buffer, end: number, n: number): number {
  let pos = end;
  while (n >= 2147483648) {
    const q = Math.floor(n / 10);
    out[--pos] = 0x30 + (n - q * 10);
    n = q;
  }
  let i = n | 0;
  do {
    const q = (i / 10) | 0;
    out[--pos] = 0x30 + (i - q * 10);
    i = q;
  } while (i > 0);
  return pos;
}

/** `N:` before `start` for a payload of N bytes; -1 when there is no room. */
function lengthBefore(out: Buffer, start: number, n: number): number {
  let pos = start - 1;
  if (pos < 1) return -1;
  out[pos] = COLON;
  do {
    if (--pos < 0) return -1;
    out[pos] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return pos;
}

/** `text` (ASCII) ending at `end`; -1 when there is no room. */
function endAscii(out: Buffer, end: number, text: string): number {
  const start = end - text.length;
  if (start < 0) return -1;
  for (let i = 0; i < text.length; i++) out[start + i] = text.charCodeAt(i);
  return start;
}

/** Measures every payload first, then writes into a buffer of the exact size (values larger than the scratch). */
function twoPasses(value: TNetValue): Buffer {
  const sizes: number[] = [];
  const total = measure(value, sizes, 0);
  const out = Buffer.allocUnsafe(total);
  const end = write(value, out, 0, sizes, { next: 0 });
  if (end !== total) throw new Error(`tnetstring encoder wrote ${end} of ${total} bytes`);
  return out;
}

/** The payload size of each string and container, in the order `write` meets them. */
function measure(value: TNetValue, sizes: number[], depth: number): number {
  if (depth > DEFAULT_MAX_DEPTH) throw new TypeError(`cannot encode values nested deeper than ${DEFAULT_MAX_DEPTH}`);
  if (value instanceof TNetRaw) return value.bytes.length;
  const payload = payloadSize(value, sizes, depth);
  return digits(payload) + payload + 2;
}

function payloadSize(value: TNetValue, sizes: number[], depth: number): number {
  if (value === null) return 0;
  if (value === true) return 4;
  if (value === false) return 5;
  if (typeof value === "string") {
    const n = utf8Length(value);
    sizes.push(n);
    return n;
  }
  if (Buffer.isBuffer(value)) return value.length;
  if (value instanceof TNetWire) return wireLength(value.text);
  if (typeof value === "number" || typeof value === "bigint" || value instanceof TNetFloat)
    return numberText(value).length;
  const at = sizes.push(0) - 1;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += measure(item, sizes, depth + 1);
  } else if (isDict(value)) {
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item !== undefined) n += measure(key, sizes, depth + 1) + measure(item, sizes, depth + 1);
    }
  } else {
    throw new TypeError(`cannot encode ${describeJs(value)} as a tnetstring`);
  }
  sizes[at] = n;
  return n;
}

// The writer puts most bytes in itself: a flow is about 150 short tokens, and Buffer#write is a
// call into C++ each time (encoding a flow took 52 µs that way, bench W; now a few µs).

function write(value: TNetValue, out: Buffer, pos: number, sizes: number[], cursor: { next: number }): number {
  if (value === null) return putAscii(out, pos, "0:~");
  if (value === true) return putAscii(out, pos, "4:true!");
  if (value === false) return putAscii(out, pos, "5:false!");
  if (typeof value === "string") {
    const n = sizes[cursor.next++]!;
    pos = putLength(out, pos, n);
    if (n === value.length && n <= SHORT) pos = putAscii(out, pos, value);
    else pos += out.write(value, pos, n, "utf8");
    out[pos] = 0x3b;
    return pos + 1;
  }
  if (Buffer.isBuffer(value)) {
    pos = putLength(out, pos, value.length);
    out.set(value, pos);
    pos += value.length;
    out[pos] = 0x2c;
    return pos + 1;
  }
  if (value instanceof TNetWire) {
    const n = wireLength(value.text);
    pos = putLength(out, pos, n);
    pos += out.write(value.text, pos, n, n === value.text.length ? "latin1" : "utf8");
    out[pos] = 0x2c;
    return pos + 1;
  }
  if (typeof value === "number" || typeof value === "bigint" || value instanceof TNetFloat) {
    const text = numberText(value);
    const whole = typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
    pos = putAscii(out, putLength(out, pos, text.length), text);
    out[pos] = whole ? 0x23 : 0x5e;
    return pos + 1;
  }
  if (value instanceof TNetRaw) {
    out.set(value.bytes, pos);
    return pos + value.bytes.length;
  }
  pos = putLength(out, pos, sizes[cursor.next++]!);
  if (Array.isArray(value)) {
    for (const item of value) pos = write(item, out, pos, sizes, cursor);
    out[pos] = 0x5d;
  } else {
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item === undefined) continue;
      pos = write(key, out, pos, sizes, cursor);
      pos = write(item, out, pos, sizes, cursor);
    }
    out[pos] = 0x7d;
  }
  return pos + 1;
}

/** Strings up to this length are measured and copied in JS (longer ones: one C++ call pays off). */
const SHORT = 64;

/** `N:` for a payload of N bytes. */
function putLength(out: Buffer, pos: number, n: number): number {
  const end = pos + digits(n);
  for (let i = end - 1; i >= pos; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  out[end] = COLON;
  return end + 1;
}

/** `text` (ASCII only) at `pos`; returns where it ended. */
function putAscii(out: Buffer, pos: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[pos + i] = text.charCodeAt(i);
  return pos + text.length;
}

/** The UTF-8 size of `s` (unpaired surrogates count 3 bytes, as Buffer writes them: U+FFFD). */
function utf8Length(s: string): number {
  if (s.length > SHORT) return Buffer.byteLength(s, "utf8");
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for 2 code units
      i++;
    } else n += 2;
  }
  return n;
}

/** Integers as Python's int() reads them; floats as Python's float() reads them (repr-like: `2.0`, `1e+21`, `inf`). */
function numberText(value: number | bigint | TNetFloat): string {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && Number.isInteger(value)) {
    return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  }
  return floatText(typeof value === "number" ? value : value.value);
}

function floatText(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Object.is(x, -0)) return "-0.0";
  const text = String(x);
  // Whole values below 1e21 print as digits alone, which Python would read as an int.
  return Number.isInteger(x) && Math.abs(x) < 1e21 ? `${text}.0` : text;
}

/** The byte length of wire text: one byte a character, or its UTF-8 when a character is above U+00FF. */
function wireLength(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return Buffer.byteLength(text, "utf8");
  return text.length;
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

function isDict(value: unknown): value is TNetDict {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describeJs(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "object") return (value as object).constructor?.name ?? "an object";
  return typeof value;
}

// ---------------------------------------------------------------- decoding

export interface DecodeOptions {
  /** Added to every offset in errors: where `buf` starts in the file. */
  base?: number;
  maxDepth?: number;
}

/** Decodes `buf`, which must hold exactly one value. */
export function decodeTNet(buf: Buffer, opts: DecodeOptions = {}): TNetValue {
  const parser = new Parser(buf, opts.base ?? 0, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  const [value, end] = parser.parse(0, buf.length, 0);
  if (end !== buf.length) parser.fail(end, `${buf.length - end} bytes follow the value`);
  return value;
}

/** Decodes the value that starts at `start`; returns it and where it ended. */
export function decodeTNetPrefix(buf: Buffer, start = 0, opts: DecodeOptions = {}): { value: TNetValue; end: number } {
  const parser = new Parser(buf, opts.base ?? 0, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  const [value, end] = parser.parse(start, buf.length, 0);
  return { value, end };
}

/** A byte as an error message shows it: a printable character quoted, else its hex value. */
export function describeByte(b: number | undefined): string {
  if (b === undefined) return "the end of the data";
  if (b >= 0x21 && b < 0x7f) return `'${String.fromCharCode(b)}'`;
  return `byte 0x${b.toString(16).padStart(2, "0")}`;
}

class Parser {
  constructor(
    private readonly buf: Buffer,
    private readonly base: number,
    private readonly maxDepth: number,
  ) {}

  fail(at: number, reason: string): never {
    throw new TNetstringError(this.base + at, reason);
  }

  /** Parses one value in `[pos, limit)`: its value and the offset after its tag. */
  parse(pos: number, limit: number, depth: number): [TNetValue, number] {
    const { buf } = this;
    let i = pos;
    let length = 0;
    while (i < limit && buf[i]! >= 0x30 && buf[i]! <= 0x39) {
      if (i - pos === MAX_LENGTH_DIGITS) this.fail(pos, `a tnetstring length of more than ${MAX_LENGTH_DIGITS} digits`);
      length = length * 10 + (buf[i]! - 0x30);
      i++;
    }
    if (i === pos) {
      const found = i < limit ? describeByte(buf[i]) : "the end of its container";
      this.fail(pos, `expected a tnetstring length (a digit), found ${found}`);
    }
    if (i >= limit || buf[i] !== COLON) this.fail(i, "expected ':' after a tnetstring length");
    const start = i + 1;
    const end = start + length;
    if (end >= limit) {
      this.fail(
        pos,
        `a tnetstring of ${length} bytes does not fit in the ${Math.max(0, limit - start - 1)} bytes left`,
      );
    }
    return [this.value(buf[end]!, start, end, depth), end + 1];
  }

  private value(tag: number, start: number, end: number, depth: number): TNetValue {
    const { buf } = this;
    switch (tag) {
      case 0x2c: // bytes
        return buf.subarray(start, end);
      case 0x3b: // str
        return this.utf8(start, end);
      case 0x23: // int
        return this.integer(start, end);
      case 0x5e: // float
        return this.float(start, end);
      case 0x21: // bool
        return this.boolean(start, end);
      case 0x7e: // null
        if (end !== start) this.fail(start, `a null must be empty, this one has ${end - start} bytes`);
        return null;
      case 0x5d: // list
        return this.list(start, end, depth + 1);
      case 0x7d: // dict
        return this.dict(start, end, depth + 1);
      default:
        return this.fail(end, `unknown tnetstring type tag ${describeByte(tag)}`);
    }
  }

  private utf8(start: number, end: number): string {
    const bytes = this.buf.subarray(start, end);
    if (!isUtf8(bytes)) this.fail(start + firstBadUtf8(bytes), "a str (;) that is not valid UTF-8");
    return bytes.toString("utf8");
  }

  private integer(start: number, end: number): number | bigint {
    const text = this.buf.toString("latin1", start, end);
    if (!/^[+-]?\d+$/.test(text)) this.fail(start, `an int (#) that is not an integer: ${JSON.stringify(clip(text))}`);
    if (text.length <= 15) return Number(text);
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  private float(start: number, end: number): TNetFloat {
    const text = this.buf.toString("latin1", start, end);
    const lower = text.toLowerCase().replace(/^\+/, "");
    if (/^-?(inf|infinity)$/.test(lower)) return new TNetFloat(lower.startsWith("-") ? -Infinity : Infinity);
    if (/^-?nan$/.test(lower)) return new TNetFloat(NaN);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text))
      this.fail(start, `a float (^) that is not a number: ${JSON.stringify(clip(text))}`);
    return new TNetFloat(Number(text));
  }

  private boolean(start: number, end: number): boolean {
    const text = this.buf.toString("latin1", start, end);
    if (text === "true") return true;
    if (text === "false") return false;
    return this.fail(start, `a bool (!) that is neither true nor false: ${JSON.stringify(clip(text))}`);
  }

  private list(start: number, end: number, depth: number): TNetValue[] {
    if (depth > this.maxDepth) this.fail(start, `values nested deeper than ${this.maxDepth} levels`);
    const out: TNetValue[] = [];
    let pos = start;
    while (pos < end) {
      const [item, next] = this.parse(pos, end, depth);
      out.push(item);
      pos = next;
    }
    return out;
  }

  private dict(start: number, end: number, depth: number): TNetDict {
    if (depth > this.maxDepth) this.fail(start, `values nested deeper than ${this.maxDepth} levels`);
    const out: TNetDict = {};
    let pos = start;
    while (pos < end) {
      const keyAt = pos;
      const [key, afterKey] = this.parse(pos, end, depth);
      if (typeof key !== "string" && !Buffer.isBuffer(key))
        this.fail(keyAt, `a dict key must be a str or bytes, not ${TAG_NAMES[this.buf[afterKey - 1]!] ?? "that"}`);
      if (afterKey >= end) this.fail(afterKey, "a dict key without a value");
      const [value, next] = this.parse(afterKey, end, depth);
      setKey(out, typeof key === "string" ? key : key.toString("utf8"), value);
      pos = next;
    }
    return out;
  }
}

/** `__proto__` is an ordinary key in a flow file: define it rather than set the prototype. */
function setKey(dict: TNetDict, key: string, value: TNetValue): void {
  if (key === "__proto__")
    Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
  else dict[key] = value;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
