/** How many characters of a client-controlled value `logText` shows by default. */
export const LOG_TEXT_MAX = 256;

/**
 * Characters that must not reach a one-line log entry raw: C0 controls, DEL,
 * C1 controls (U+0085 is a line break to some viewers, U+009B a terminal
 * escape), the Unicode line and paragraph separators, and the bidirectional
 * overrides and isolates (they make a line read differently from its bytes).
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** The visible escape of one unsafe character: `\n`, `\r`, `\t`, `\x1b`, `\u2028`. */
function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** A value of any type as a string, without letting a hostile `toString` (or a revoked Proxy) throw. */
function asString(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    // Fall through to the plainer forms.
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return `[${typeof value}]`;
  }
}

/**
 * A client-controlled value (a username, a CONNECT target, a Host header, a
 * URL, a header value, an addon's reason…) made safe to put into a one-line
 * log entry: control characters become visible escapes (`\n`, `\r`, `\t`,
 * `\x1b`, `\x85`, `\u2028`) so the value can neither start a line of its own
 * nor drive the terminal, and output longer than `max` characters is cut, with
 * `…` and the value's full length: `aaaa… (5000 chars)`. Backslashes are left
 * alone: the escapes show what was there, they are not meant to be decoded.
 * Anything that is not a string is converted first. `max` = Infinity: no cap.
 */
export function logText(value: unknown, max: number = LOG_TEXT_MAX): string {
  const s = asString(value);
  if (s.length <= max && !UNSAFE.test(s)) return s;
  const escaped = s.replace(UNSAFE_ALL, escapeChar);
  return escaped.length <= max ? escaped : cut(s, max);
}

/** The escaped start of `s` that fits in `max` characters, then `…` and the length of `s`. */
function cut(s: string, max: number): string {
  let out = "";
  // By code point, so that neither an escape nor a surrogate pair is split.
  for (const c of s) {
    const piece = UNSAFE.test(c) ? escapeChar(c) : c;
    if (out.length + piece.length > max) break;
    out += piece;
  }
  return `${out}… (${s.length} chars)`;
}
