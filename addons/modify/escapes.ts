/**
 * Python's `codecs.escape_decode`, which mitmproxy applies to modify_headers'
 * and modify_body's subject and replacement (`strutils.escaped_str_to_bytes`):
 * the text as UTF-8 bytes with `\n`, `\t`, `\x41`, `\101`, `\\` and the other
 * string escapes decoded. An escape Python does not know (`\d`, `\.`) stays as
 * written, so a regex keeps its meaning; `\b` and `\1` are bytes (a backspace,
 * 0x01), as in mitmproxy: a regex that means a word boundary writes `\\b`.
 */
export function unescapeBytes(text: string): Buffer {
  const raw = Buffer.from(text, "utf8");
  if (!raw.includes(BACKSLASH)) return raw;
  const out: number[] = [];
  let i = 0;
  while (i < raw.length) {
    const b = raw[i]!;
    if (b !== BACKSLASH) {
      out.push(b);
      i++;
      continue;
    }
    i = decodeEscape(raw, i, out);
  }
  return Buffer.from(out);
}

/** A bad escape (`\x4`, a trailing backslash); `index` is the byte where it starts. */
export class EscapeError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

const BACKSLASH = 0x5c;
const SIMPLE: Record<string, number> = {
  "\\": 0x5c,
  "'": 0x27,
  '"': 0x22,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
};

/** Decodes the escape at `raw[at]` (a backslash) into `out`; returns where the next byte is. */
function decodeEscape(raw: Buffer, at: number, out: number[]): number {
  if (at + 1 >= raw.length) throw new EscapeError("trailing \\ in string", at);
  const c = String.fromCharCode(raw[at + 1]!);
  if (c === "\n") return at + 2;
  const simple = SIMPLE[c];
  if (simple !== undefined) {
    out.push(simple);
    return at + 2;
  }
  if (c >= "0" && c <= "7") {
    let end = at + 2;
    while (end < at + 4 && end < raw.length && raw[end]! >= 0x30 && raw[end]! <= 0x37) end++;
    out.push(parseInt(raw.toString("latin1", at + 1, end), 8) & 0xff);
    return end;
  }
  if (c === "x") {
    const hex = raw.toString("latin1", at + 2, at + 4);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new EscapeError(`invalid \\x escape at position ${at}`, at);
    out.push(parseInt(hex, 16));
    return at + 4;
  }
  out.push(BACKSLASH, raw[at + 1]!);
  return at + 2;
}
