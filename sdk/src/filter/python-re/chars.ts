/**
 * Characters and character sets spelled for a JavaScript RegExp. Text patterns
 * are compiled with the `u` flag (code points, `\p{…}`); bytes patterns without
 * it, over strings whose characters are bytes (latin1).
 */

// Syntax characters, escaped outside a class (the `u` flag allows no other identity escapes there).
const SYNTAX = new Set(["^", "$", "\\", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "/"]);
const CLASS_SYNTAX = new Set(["\\", "]", "[", "^", "-"]);

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}

function spelled(code: number, bytes: boolean, syntax: ReadonlySet<string>): string {
  if (code < 0x20 || code === 0x7f || (bytes && code >= 0x80)) return `\\x${hex(code, 2)}`;
  if (code >= 0x80) return `\\u{${code.toString(16)}}`;
  const ch = String.fromCharCode(code);
  return syntax.has(ch) ? `\\${ch}` : ch;
}

/** One character, outside a class. */
export function literal(code: number, bytes: boolean): string {
  return spelled(code, bytes, SYNTAX);
}

/** One character, inside a class. */
export function classLiteral(code: number, bytes: boolean): string {
  return spelled(code, bytes, CLASS_SYNTAX);
}

/**
 * The characters that match `code` when case is ignored, `code` first. Bytes
 * patterns fold ASCII letters only, as Python does; text patterns take the
 * simple upper and lower case mappings (and theirs).
 */
export function caseVariants(code: number, bytes: boolean): number[] {
  if (bytes || code < 0x80) {
    if (code >= 0x41 && code <= 0x5a) return [code, code + 0x20];
    if (code >= 0x61 && code <= 0x7a) return [code, code - 0x20];
    return [code];
  }
  const found = [code];
  for (let k = 0; k < found.length && k < 4; k++) {
    const ch = String.fromCodePoint(found[k]!);
    for (const mapped of [ch.toLowerCase(), ch.toUpperCase()]) {
      const cp = mapped.codePointAt(0)!;
      if (mapped.length === String.fromCodePoint(cp).length && !found.includes(cp)) found.push(cp);
    }
  }
  return found;
}

/**
 * A shorthand set (`\d`, `\w`, `\s` and their negations). `inClass` is its
 * spelling inside a class when JavaScript has one; `alone` stands by itself.
 */
export interface CharSet {
  readonly inClass?: string;
  readonly alone: string;
}

const ASCII_SPACE = "\\t\\n\\v\\f\\r ";
// Whitespace to JavaScript's \s but not to Python's ASCII \s.
const JS_ONLY_SPACE = "\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
// Python's str.isspace() characters.
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
// Python's Unicode \w: letters, numbers and the underscore.
const PY_WORD = "\\p{L}\\p{N}_";

function both(body: string): CharSet {
  return { inClass: body, alone: body.startsWith("\\") && body.length === 2 ? body : `[${body}]` };
}

/**
 * Python's meaning of `\d \D \s \S \w \W` for bytes patterns, for text
 * patterns under `(?a)` (ASCII), and for text patterns (Unicode).
 */
export function shorthandSet(letter: string, bytes: boolean, ascii: boolean): CharSet {
  if (bytes) {
    // JavaScript's \d \w are ASCII without the u flag; its \s adds only \xa0 among bytes.
    if (letter === "s") return both(ASCII_SPACE);
    if (letter === "S") return both("\\S\\xa0");
    return both(`\\${letter}`);
  }
  if (ascii) {
    switch (letter) {
      case "d":
        return both("0-9");
      case "w":
        return both("A-Za-z0-9_");
      case "s":
        return both(ASCII_SPACE);
      case "S":
        return both(`\\S${JS_ONLY_SPACE}`);
      default:
        return both(`\\${letter}`);
    }
  }
  switch (letter) {
    case "d":
      return both("\\p{Nd}");
    case "D":
      return both("\\P{Nd}");
    case "w":
      return both(PY_WORD);
    case "W":
      return { alone: `[^${PY_WORD}]` };
    case "s":
      return both(PY_SPACE);
    default:
      return { alone: `[^${PY_SPACE}]` };
  }
}

/** Python's `\b` / `\B`: JavaScript's for ASCII words, spelled out with look-arounds for Unicode words. */
export function wordBoundary(negated: boolean, bytes: boolean, ascii: boolean): string {
  if (bytes || ascii) return negated ? "\\B" : "\\b";
  const w = `[${PY_WORD}]`;
  return negated ? `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w}))` : `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
}
