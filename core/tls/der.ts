// Just enough ASN.1 DER to lay out certificates and to read the few fields of
// a CA certificate that its children repeat. Written here rather than taken
// from node-forge: forge costs the idle proxy about 10 MB of memory, and
// every leaf certificate would load it.

/** Universal tags (the identifier octet of a primitive or constructed value). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * A DER value: an identifier octet with its content (bytes, or the values
 * inside a constructed one), or a complete encoding kept as it was read.
 */
export type Der =
  | { readonly tag: number; readonly content: Buffer }
  | { readonly tag: number; readonly children: readonly Der[] }
  | { readonly raw: Buffer };

export const primitive = (tag: number, content: Buffer): Der => ({ tag, content });
export const constructed = (tag: number, children: readonly Der[]): Der => ({ tag: tag | 0x20, children });
export const sequence = (children: readonly Der[]): Der => constructed(Tag.SEQUENCE, children);
/** A context-specific tag: `[n]` IMPLICIT over bytes, or `[n]` around values (EXPLICIT, or IMPLICIT SEQUENCE). */
export const contextPrimitive = (n: number, content: Buffer): Der => primitive(0x80 | n, content);
export const contextConstructed = (n: number, children: readonly Der[]): Der => constructed(0x80 | n, children);

export function oid(dotted: string): Der {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new TypeError(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const base128 = (n: number) => {
    const group: number[] = [n % 128];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) group.unshift(0x80 | (n % 128));
    bytes.push(...group);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) base128(arc);
  return primitive(Tag.OID, Buffer.from(bytes));
}

export function oidToString(content: Buffer): string {
  const arcs: number[] = [];
  let n = 0;
  for (const byte of content) {
    n = n * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
    else arcs.push(n);
    n = 0;
  }
  return arcs.join(".");
}

/** UTCTime for 1950–2049 (RFC 5280 §4.1.2.5), GeneralizedTime otherwise; whole seconds, Zulu. */
export function time(date: Date): Der {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const year = date.getUTCFullYear();
  const rest =
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds()) +
    "Z";
  return year >= 1950 && year < 2050
    ? primitive(Tag.UTC_TIME, Buffer.from(p(year % 100) + rest, "latin1"))
    : primitive(Tag.GENERALIZED_TIME, Buffer.from(p(year, 4) + rest, "latin1"));
}

/** UTCTime or GeneralizedTime content as a Date (with or without seconds, fractions, offsets). */
export function parseTime(tag: number, content: Buffer): Date {
  const text = content.toString("latin1");
  const m =
    tag === Tag.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,]\d+)?(Z|[+-]\d{4})?$/.exec(text);
  if (!m) throw new Error(`bad time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (tag === Tag.UTC_TIME) year += year >= 50 ? 1900 : 2000;
  let ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const zone = m[7];
  if (zone && zone !== "Z") {
    const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
    ms -= zone[0] === "+" ? offset : -offset;
  }
  return new Date(ms);
}

function header(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

export function encode(value: Der): Buffer {
  if ("raw" in value) return value.raw;
  const content = "content" in value ? value.content : Buffer.concat(value.children.map(encode));
  return Buffer.concat([header(value.tag, content.length), content]);
}

/** A value read by `decode`: its identifier, where its content lies, and its complete encoding. */
export interface Parsed {
  tag: number;
  content: Buffer;
  /** The whole encoding (identifier, length, content), a view into the input. */
  raw: Buffer;
  /** The values inside a constructed one. */
  children: Parsed[];
}

/**
 * Reads exactly one DER value that fills `input`. Refuses what DER forbids
 * in the framing (indefinite or non-minimal lengths, high tag numbers,
 * trailing bytes): embedded verbatim, such bytes would not be DER either.
 * BIT STRING and OCTET STRING contents are left as bytes.
 */
export function decode(input: Buffer): Parsed {
  const [value, end] = decodeAt(input, 0, input.length, 0);
  if (end !== input.length) throw new Error(`not DER: ${input.length - end} bytes after the value`);
  return value;
}

/** The value at `offset`, which must end by `limit` (its parent's end). */
function decodeAt(input: Buffer, offset: number, limit: number, depth: number): [Parsed, number] {
  if (depth > 32) throw new Error("not DER: nested too deeply");
  if (offset + 2 > limit) throw new Error("not DER: truncated");
  const tag = input[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("not DER: high tag numbers are not supported");
  let length = input[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new Error("not DER: indefinite length");
    if (count > 4 || pos + count > limit) throw new Error("not DER: bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + input[pos + i]!;
    if (input[pos] === 0 || length < 0x80) throw new Error("not DER: length not minimally encoded");
    pos += count;
  }
  const end = pos + length;
  if (end > limit) throw new Error("not DER: truncated");
  const content = input.subarray(pos, end);
  const children: Parsed[] = [];
  if (tag & 0x20) {
    for (let at = pos; at < end;) {
      const [child, next] = decodeAt(input, at, end, depth + 1);
      children.push(child);
      at = next;
    }
  }
  return [{ tag, content, raw: input.subarray(offset, end), children }, end];
}
