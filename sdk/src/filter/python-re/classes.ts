import { caseVariants, classLiteral } from "./chars.ts";
import { readChar, readClassEscape, type Cursor, type Escape } from "./escapes.ts";
import { RegexProblem } from "./problem.ts";

export interface ClassContext {
  /** Spell out case variants (`[a-c]` → `[a-cA-C]`): manual case handling with ignore-case in force. */
  fold: boolean;
  /**
   * How many more characters of non-ASCII ranges this pattern may spell out for
   * case folding by hand; beyond that it is refused rather than made huge.
   */
  budget: { left: number };
}

/**
 * Reads a Python character class at `cur.i` (the `[`) and returns its
 * JavaScript spelling. Python's rules: a `]` first is literal, a `-` first or
 * last is literal, range ends must be single characters in order.
 */
export function readClass(cur: Cursor, ctx: ClassContext): string {
  const start = cur.i;
  const { src } = cur;
  cur.i++;
  const negate = src[cur.i] === "^";
  if (negate) cur.i++;
  const parts: string[] = [];
  const alone: string[] = [];
  for (let first = true; ; first = false) {
    if (cur.i >= src.length) throw new RegexProblem("unterminated character set", start);
    if (src[cur.i] === "]" && !first) {
      cur.i++;
      break;
    }
    const itemAt = cur.i;
    const item = readItem(cur);
    if (src[cur.i] !== "-") {
      addItem(item, cur.bytes, ctx, parts, alone);
      continue;
    }
    if (cur.i + 1 >= src.length) throw new RegexProblem("unterminated character set", start);
    if (src[cur.i + 1] === "]") {
      // `[a-]`: the dash is literal and the class ends.
      addItem(item, cur.bytes, ctx, parts, alone);
      parts.push("\\-");
      cur.i += 2;
      break;
    }
    cur.i++;
    const end = readItem(cur);
    if (item.kind !== "char" || end.kind !== "char" || end.code < item.code)
      throw new RegexProblem(`bad character range ${src.slice(itemAt, cur.i)}`, itemAt);
    addRange(item.code, end.code, cur.bytes, ctx, parts, itemAt);
  }
  return assemble(negate, parts, alone);
}

function readItem(cur: Cursor): Escape {
  if (cur.src[cur.i] === "\\") return readClassEscape(cur);
  return { kind: "char", code: readChar(cur) };
}

function addItem(item: Escape, bytes: boolean, ctx: ClassContext, parts: string[], alone: string[]): void {
  if (item.kind === "char") {
    const codes = ctx.fold ? caseVariants(item.code, bytes) : [item.code];
    for (const code of codes) parts.push(classLiteral(code, bytes));
  } else if (item.kind === "set") {
    if (item.set.inClass !== undefined) parts.push(item.set.inClass);
    else alone.push(item.set.alone);
  }
}

function addRange(lo: number, hi: number, bytes: boolean, ctx: ClassContext, parts: string[], at: number): void {
  parts.push(`${classLiteral(lo, bytes)}-${classLiteral(hi, bytes)}`);
  if (!ctx.fold) return;
  // ASCII letters: the other case of the overlap, as a range.
  const upper = [Math.max(lo, 0x41), Math.min(hi, 0x5a)] as const;
  if (upper[0] <= upper[1])
    parts.push(`${classLiteral(upper[0] + 0x20, bytes)}-${classLiteral(upper[1] + 0x20, bytes)}`);
  const lower = [Math.max(lo, 0x61), Math.min(hi, 0x7a)] as const;
  if (lower[0] <= lower[1])
    parts.push(`${classLiteral(lower[0] - 0x20, bytes)}-${classLiteral(lower[1] - 0x20, bytes)}`);
  if (bytes || hi < 0x80) return;
  // Non-ASCII: each character's variants outside the range, within a budget.
  const from = Math.max(lo, 0x80);
  ctx.budget.left -= hi - from + 1;
  if (ctx.budget.left < 0)
    throw new RegexProblem("this character range is too large to match case-insensitively under scoped flags", at);
  for (let code = from; code <= hi; code++) {
    for (const variant of caseVariants(code, false)) {
      if (variant < lo || variant > hi) parts.push(classLiteral(variant, false));
    }
  }
}

/** A JavaScript class, or for sets JavaScript cannot put in one (Python's Unicode `\W`, `\S`) an alternation. */
function assemble(negate: boolean, parts: string[], alone: string[]): string {
  const body = parts.join("");
  if (alone.length === 0) return negate ? `[^${body}]` : `[${body}]`;
  const alternatives = body === "" ? alone : [`[${body}]`, ...alone];
  const any = alternatives.join("|");
  return negate ? `(?:(?!${any})[\\s\\S])` : `(?:${any})`;
}
