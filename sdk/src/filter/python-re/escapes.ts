import { shorthandSet, wordBoundary, type CharSet } from "./chars.ts";
import { RegexProblem } from "./problem.ts";

/** The pattern being read: `src` is latin1 bytes for bytes patterns, else text. */
export interface Cursor {
  readonly src: string;
  i: number;
  readonly bytes: boolean;
  /** `(?a)`: `\d \s \w \b` are ASCII-only in a text pattern. */
  ascii: boolean;
}

export type Escape =
  | { readonly kind: "char"; readonly code: number }
  | { readonly kind: "set"; readonly set: CharSet }
  | { readonly kind: "assert"; readonly js: string }
  | { readonly kind: "backref"; readonly group: number };

const CONTROL: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
const SHORTHANDS = "dDsSwW";
const OCTAL = /[0-7]/;
const DIGIT = /[0-9]/;
const ASCII_LETTER = /[A-Za-z]/;

/** The character (code point in text patterns) at `cur.i`, consumed. */
export function readChar(cur: Cursor): number {
  const code = cur.bytes ? cur.src.charCodeAt(cur.i) : cur.src.codePointAt(cur.i)!;
  cur.i += code > 0xffff ? 2 : 1;
  return code;
}

/** An escape outside a class; `cur.i` is at the backslash. */
export function readEscape(cur: Cursor): Escape {
  const start = cur.i;
  const c = escapeLetter(cur);
  if (c === "A") return { kind: "assert", js: "^" };
  if (c === "Z") return { kind: "assert", js: "$" };
  if (c === "b" || c === "B") return { kind: "assert", js: wordBoundary(c === "B", cur.bytes, cur.ascii) };
  if (c === "0") return { kind: "char", code: octalAfter(cur, start, c, 2) };
  if (DIGIT.test(c)) return groupOrOctal(cur, start);
  return common(cur, start, c);
}

/** An escape inside a class, where `\b` is a backspace and digits are octal. */
export function readClassEscape(cur: Cursor): Escape {
  const start = cur.i;
  const c = escapeLetter(cur);
  if (c === "b") return { kind: "char", code: 8 };
  if (OCTAL.test(c)) return { kind: "char", code: octalAfter(cur, start, c, 2) };
  if (DIGIT.test(c) || c === "A" || c === "Z" || c === "B") throw bad(cur, start);
  return common(cur, start, c);
}

/** Consumes the backslash and the letter after it (the letter as a string, not yet interpreted). */
function escapeLetter(cur: Cursor): string {
  cur.i++;
  if (cur.i >= cur.src.length) throw new RegexProblem("bad escape (end of pattern)", cur.i - 1);
  const c = cur.src[cur.i]!;
  cur.i++;
  return c;
}

function common(cur: Cursor, start: number, c: string): Escape {
  if (SHORTHANDS.includes(c)) return { kind: "set", set: shorthandSet(c, cur.bytes, cur.ascii) };
  const control = CONTROL[c];
  if (control !== undefined) return { kind: "char", code: control };
  if (c === "x") return { kind: "char", code: hexDigits(cur, start, 2) };
  if (!cur.bytes && c === "u") return { kind: "char", code: hexDigits(cur, start, 4) };
  if (!cur.bytes && c === "U") {
    const code = hexDigits(cur, start, 8);
    if (code > 0x10ffff) throw bad(cur, start);
    return { kind: "char", code };
  }
  if (!cur.bytes && c === "N") throw new RegexProblem("named characters (\\N{...}) are not supported", start);
  if (ASCII_LETTER.test(c) || DIGIT.test(c)) throw bad(cur, start);
  // Any other character stands for itself (a whole code point in a text pattern).
  cur.i--;
  return { kind: "char", code: readChar(cur) };
}

function bad(cur: Cursor, start: number): RegexProblem {
  return new RegexProblem(`bad escape ${cur.src.slice(start, cur.i)}`, start);
}

function hexDigits(cur: Cursor, start: number, count: number): number {
  const digits = cur.src.slice(cur.i, cur.i + count);
  if (!new RegExp(`^[0-9a-fA-F]{${count}}$`).test(digits))
    throw new RegexProblem(`incomplete escape ${cur.src.slice(start, cur.i + digits.length)}`, start);
  cur.i += count;
  return parseInt(digits, 16);
}

/** The octal escape whose first digit was just read: up to `more` further octal digits. */
function octalAfter(cur: Cursor, start: number, first: string, more: number): number {
  let digits = first;
  while (digits.length <= more && cur.i < cur.src.length && OCTAL.test(cur.src[cur.i]!)) {
    digits += cur.src[cur.i]!;
    cur.i++;
  }
  const code = parseInt(digits, 8);
  if (code > 0o377) throw new RegexProblem(`octal escape value \\${digits} outside of range 0-0o377`, start);
  return code;
}

/** `\12` is group 12, `\123` (three octal digits) a character, as Python decides. */
function groupOrOctal(cur: Cursor, start: number): Escape {
  const { src } = cur;
  let digits = src[cur.i - 1]!;
  if (cur.i < src.length && DIGIT.test(src[cur.i]!)) {
    digits += src[cur.i]!;
    cur.i++;
    if (OCTAL.test(digits[0]!) && OCTAL.test(digits[1]!) && cur.i < src.length && OCTAL.test(src[cur.i]!)) {
      digits += src[cur.i]!;
      cur.i++;
      const code = parseInt(digits, 8);
      if (code > 0o377) throw new RegexProblem(`octal escape value \\${digits} outside of range 0-0o377`, start);
      return { kind: "char", code };
    }
  }
  return { kind: "backref", group: Number(digits) };
}
