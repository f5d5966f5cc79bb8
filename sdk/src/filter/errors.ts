/**
 * A filter expression that cannot be compiled. The message is one line, e.g.
 * `invalid filter at column 9: expected an expression after '&'`.
 */
export class FilterError extends Error {
  override readonly name = "FilterError";
  /** 1-based position in the expression (counted in characters, across lines) of what is wrong. */
  readonly column: number;
  /** The message without the `invalid filter at column N: ` prefix. */
  readonly reason: string;
  /** The expression that failed. */
  readonly expression: string;

  constructor(expression: string, index: number, reason: string) {
    const column = columnAt(expression, index);
    const oneLine = reason.replace(/[\x00-\x1f\x7f]/g, escapeControl);
    super(`invalid filter at column ${column}: ${oneLine}`);
    this.column = column;
    this.reason = oneLine;
    this.expression = expression;
  }
}

/** A control character quoted from the expression (a regex may hold a newline) keeps the message on one line. */
function escapeControl(ch: string): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return named[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * The 1-based column of UTF-16 `index` in `text`, counting a surrogate pair as
 * one character (what a terminal shows). Only computed for errors.
 */
export function columnAt(text: string, index: number): number {
  const end = Math.max(0, Math.min(index, text.length));
  let column = 1;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < end) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    column++;
  }
  return column;
}

/** Shows a piece of the expression in a message: quoted, and shortened when long. */
export function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  return `'${shown}'`;
}
