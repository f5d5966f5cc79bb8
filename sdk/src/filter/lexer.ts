import type { FilterArgument } from "./ast.ts";
import { FilterError, columnAt, quote } from "./errors.ts";
import { OPERATOR_SPECS, type OperatorSpec } from "./operators.ts";

export type Token =
  | { readonly kind: "end" | "(" | ")" | "!" | "&" | "|"; readonly at: number }
  | { readonly kind: "operator"; readonly at: number; readonly spec: OperatorSpec }
  /** A bare or quoted regex where an expression may start: mitmproxy's "naked" URL regex. */
  | { readonly kind: "regex"; readonly at: number; readonly argument: FilterArgument };

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const LPAREN = 0x28;
const RPAREN = 0x29;
const TILDE = 0x7e;
const BACKSLASH = 0x5c;

/** pyparsing's default whitespace, the only characters skipped between tokens. */
function isSpace(code: number): boolean {
  return code === SPACE || code === TAB || code === LF || code === CR;
}

/** A bare argument runs until whitespace, a parenthesis, `~` or a quote (mitmproxy's CharsNotIn). */
function isWordChar(code: number): boolean {
  return !isSpace(code) && code !== LPAREN && code !== RPAREN && code !== TILDE && code !== DQUOTE && code !== SQUOTE;
}

/** Characters of an operator's name: printable ASCII that is not syntax. */
function isNameChar(code: number): boolean {
  return code > 0x20 && code < 0x7f && isWordChar(code) && code !== 0x21 && code !== 0x26 && code !== 0x7c;
}

// Escapes inside quotes, as pyparsing's QuotedString unquotes them: these four
// become whitespace, a backslash before anything else stands for that character.
const QUOTE_ESCAPES: Record<string, string> = { t: "\t", n: "\n", f: "\f", r: "\r" };

/**
 * Splits a filter expression into tokens. The parser asks for a token where an
 * expression or a combinator may come (`next`), and for an operator's argument
 * right after the operator (`argument`, `integer`): there `!`, `&` and `|` are
 * ordinary regex characters, as in mitmproxy.
 */
export class Scanner {
  private pos = 0;

  constructor(readonly expr: string) {}

  next(): Token {
    this.skipSpace();
    const at = this.pos;
    if (at >= this.expr.length) return { kind: "end", at };
    const c = this.expr[at]!;
    if (c === "(" || c === ")" || c === "!" || c === "&" || c === "|") {
      this.pos++;
      return { kind: c, at };
    }
    if (c === "~") return { kind: "operator", at, spec: this.operator() };
    return { kind: "regex", at, argument: this.readArgument() };
  }

  /** The regex after `op` (at `opAt`); throws when there is none. */
  argument(op: string, opAt: number): FilterArgument {
    this.skipSpace();
    const code = this.expr.charCodeAt(this.pos);
    if (this.pos >= this.expr.length || !(isWordChar(code) || code === DQUOTE || code === SQUOTE))
      throw this.missing(op, opAt, "a regular expression");
    return this.readArgument();
  }

  /** The whole number after `op`, e.g. the status code of `~c`. */
  integer(op: string, opAt: number): number {
    this.skipSpace();
    const at = this.pos;
    if (at >= this.expr.length || !isWordChar(this.expr.charCodeAt(at))) throw this.missing(op, opAt, "a number");
    const end = this.wordEnd(at);
    const word = this.expr.slice(at, end);
    // mitmproxy reads the digits and leaves the rest as a regex of its own (`~c 200x`); we refuse that.
    if (!/^[0-9]+$/.test(word)) throw new FilterError(this.expr, at, `${op} needs a number, not ${quote(word)}`);
    this.pos = end;
    return Number(word);
  }

  private missing(op: string, opAt: number, what: string): FilterError {
    const next = this.expr[this.pos];
    let found = next === undefined ? "" : `, found ${quote(next)}`;
    if (next === "(" || next === ")") found += " (a regex with parentheses goes in quotes)";
    return new FilterError(this.expr, opAt, `expected ${what} after '${op}'${found}`);
  }

  private skipSpace(): void {
    const { expr } = this;
    while (this.pos < expr.length && isSpace(expr.charCodeAt(this.pos))) this.pos++;
  }

  private wordEnd(from: number): number {
    const { expr } = this;
    let end = from;
    while (end < expr.length && isWordChar(expr.charCodeAt(end))) end++;
    return end;
  }

  private operator(): OperatorSpec {
    const { expr } = this;
    const at = this.pos;
    let end = at + 1;
    while (end < expr.length && isNameChar(expr.charCodeAt(end))) end++;
    const name = expr.slice(at, end);
    if (name === "~") throw new FilterError(expr, at, "expected an operator name after '~'");
    const spec = OPERATOR_SPECS.get(name);
    if (!spec) throw new FilterError(expr, at, `unknown operator ${quote(name)}${unknownHint(name)}`);
    // mitmproxy wants the operator to end a word (pyparsing's WordEnd): no printable ASCII may follow.
    // We also let `)` follow, so `(~q)` works: mitmproxy refuses it, and nothing valid changes meaning.
    if (end < expr.length) {
      const code = expr.charCodeAt(end);
      if (code > 0x20 && code < 0x7f && code !== RPAREN)
        throw new FilterError(expr, end, `expected a space after '${name}', found ${quote(expr[end]!)}`);
    }
    this.pos = end;
    return spec;
  }

  /** A bare word or a quoted string, at `pos`. */
  private readArgument(): FilterArgument {
    const at = this.pos;
    const code = this.expr.charCodeAt(at);
    if (code === DQUOTE || code === SQUOTE) return this.quoted(code);
    const end = this.wordEnd(at);
    this.pos = end;
    return { text: this.expr.slice(at, end), at, quoted: false };
  }

  private quoted(quoteCode: number): FilterArgument {
    const { expr } = this;
    const at = this.pos;
    const parts: string[] = [];
    const sourceIndex: number[] = [];
    let i = at + 1;
    for (;;) {
      if (i >= expr.length) throw this.unterminated(at);
      const code = expr.charCodeAt(i);
      if (code === LF || code === CR)
        throw new FilterError(
          expr,
          i,
          `a quoted argument cannot contain a line break (the quote opened at column ${columnAt(expr, at)})`,
        );
      if (code === quoteCode) break;
      if (code === BACKSLASH) {
        const next = expr[i + 1];
        if (next === undefined) throw this.unterminated(at);
        if (next === "\n" || next === "\r")
          throw new FilterError(expr, i + 1, "a quoted argument cannot contain a line break");
        parts.push(QUOTE_ESCAPES[next] ?? next);
        sourceIndex.push(i);
        i += 2;
      } else {
        parts.push(expr[i]!);
        sourceIndex.push(i);
        i++;
      }
    }
    this.pos = i + 1;
    return { text: parts.join(""), at, quoted: true, sourceIndex };
  }

  private unterminated(at: number): FilterError {
    return new FilterError(this.expr, at, `unterminated quoted argument: no closing ${this.expr[at]}`);
  }
}

/** A hint for an unknown operator: the lowercase spelling, or the known operator it starts with. */
function unknownHint(name: string): string {
  if (OPERATOR_SPECS.has(name.toLowerCase())) return ` (did you mean '${name.toLowerCase()}'?)`;
  for (let len = name.length - 1; len > 1; len--) {
    const prefix = name.slice(0, len);
    if (OPERATOR_SPECS.has(prefix)) return ` (put a space after '${prefix}')`;
  }
  return "";
}
