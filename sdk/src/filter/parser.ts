import type { FilterNode } from "./ast.ts";
import { FilterError, quote } from "./errors.ts";
import { Scanner, type Token } from "./lexer.ts";

/**
 * How deep `(` and `!` may nest. Compiling and evaluating recurse along the
 * tree, so a bound keeps hostile input (`!!!!…`, `((((…`) from overflowing the
 * stack; no real filter comes near it.
 */
export const MAX_NESTING = 500;

type Combinator = "(" | "!" | "&" | "|";
type Junction = { kind: "and" | "or"; items: FilterNode[] };

/**
 * Parses a filter expression into its tree, with mitmproxy's grammar:
 * `!` binds tighter than `&`, `&` tighter than `|`, and expressions written
 * side by side at the top level are joined with "and" (more loosely than
 * `|`: `~a | ~b ~c` is `(~a | ~b) & ~c`). Throws `FilterError`.
 *
 * An iterative operator-precedence parser: no recursion, linear in the input.
 */
export function parseFilter(expr: string): FilterNode {
  return new Parser(expr).parse();
}

class Parser {
  private readonly scanner: Scanner;
  private readonly operands: FilterNode[] = [];
  private readonly stack: { kind: Combinator; at: number }[] = [];
  /** Finished top-level expressions, joined with "and" at the end. */
  private readonly top: FilterNode[] = [];
  private openParens = 0;
  private nesting = 0;
  private prev: Token | undefined;

  constructor(private readonly expr: string) {
    this.scanner = new Scanner(expr);
  }

  parse(): FilterNode {
    let expectOperand = true;
    for (;;) {
      const tok = this.scanner.next();
      if (expectOperand) {
        expectOperand = this.operand(tok);
      } else if (tok.kind === "end") {
        this.finishTopLevel();
        return this.top.length === 1 ? this.top[0]! : { kind: "and", items: this.top };
      } else if (tok.kind === "&" || tok.kind === "|") {
        this.reduceWhile(tok.kind === "&" ? (k) => k === "!" || k === "&" : (k) => k !== "(");
        this.stack.push({ kind: tok.kind, at: tok.at });
        expectOperand = true;
      } else if (tok.kind === ")") {
        this.closeParen(tok.at);
      } else {
        // Side by side: a new top-level expression begins (only outside parentheses, as in mitmproxy).
        if (this.openParens > 0)
          throw new FilterError(this.expr, tok.at, `expected '&', '|' or ')' before ${describe(tok)}`);
        this.finishTopLevel();
        expectOperand = this.operand(tok);
      }
      this.prev = tok;
    }
  }

  /** Handles a token where an expression must start; returns whether one is still expected. */
  private operand(tok: Token): boolean {
    switch (tok.kind) {
      case "!":
      case "(":
        if (++this.nesting > MAX_NESTING)
          throw new FilterError(
            this.expr,
            tok.at,
            `nested too deeply (more than ${MAX_NESTING} levels of '(' and '!')`,
          );
        if (tok.kind === "(") this.openParens++;
        this.stack.push({ kind: tok.kind, at: tok.at });
        this.prev = tok;
        return true;
      case "operator": {
        const { spec } = tok;
        const op = spec.operator;
        if (spec.argument === "regex")
          this.operands.push({
            kind: "operator",
            operator: op,
            at: tok.at,
            argument: this.scanner.argument(op, tok.at),
          });
        else if (spec.argument === "integer")
          this.operands.push({ kind: "operator", operator: op, at: tok.at, code: this.scanner.integer(op, tok.at) });
        else this.operands.push({ kind: "operator", operator: op, at: tok.at });
        return false;
      }
      case "regex":
        this.operands.push({ kind: "operator", operator: "~u", at: tok.at, argument: tok.argument, bare: true });
        return false;
      default:
        throw this.missingOperand(tok);
    }
  }

  private missingOperand(tok: Token): FilterError {
    const prev = this.prev;
    if (prev === undefined) {
      if (tok.kind === "end") return new FilterError(this.expr, 0, "the expression is empty");
      if (tok.kind === ")") return new FilterError(this.expr, tok.at, "')' without a matching '('");
      return new FilterError(this.expr, tok.at, `expected an expression before '${tok.kind}'`);
    }
    if (prev.kind === "(" && tok.kind === ")") return new FilterError(this.expr, prev.at, "empty parentheses '()'");
    if (prev.kind === "(" && tok.kind !== "end")
      return new FilterError(this.expr, tok.at, `expected an expression before '${tok.kind}'`);
    return new FilterError(this.expr, prev.at, `expected an expression after '${prev.kind}'`);
  }

  private closeParen(at: number): void {
    this.reduceWhile((k) => k !== "(");
    if (this.stack.length === 0) throw new FilterError(this.expr, at, "')' without a matching '('");
    this.stack.pop();
    this.openParens--;
    this.nesting--;
  }

  /** Ends the current top-level expression (the input ended or another one starts beside it). */
  private finishTopLevel(): void {
    this.reduceWhile((k) => k !== "(");
    const open = this.stack[this.stack.length - 1];
    if (open) throw new FilterError(this.expr, open.at, "'(' is never closed");
    this.top.push(this.operands.pop()!);
  }

  private reduceWhile(applies: (kind: Combinator) => boolean): void {
    for (let top = this.stack.at(-1); top && applies(top.kind); top = this.stack.at(-1)) {
      this.stack.pop();
      const right = this.operands.pop()!;
      if (top.kind === "!") {
        this.nesting--;
        this.operands.push({ kind: "not", item: right });
      } else {
        const left = this.operands.pop()!;
        this.operands.push(join(top.kind === "&" ? "and" : "or", left, right));
      }
    }
  }
}

/** `a & b` with `a` already an "and" adds to it: long chains stay one flat node. */
function join(kind: "and" | "or", left: FilterNode, right: FilterNode): FilterNode {
  if (left.kind === kind) {
    (left as Junction).items.push(right);
    return left;
  }
  const node: Junction = { kind, items: [left, right] };
  return node;
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case "operator":
      return `'${tok.spec.operator}'`;
    case "regex":
      return quote(tok.argument.quoted ? `${tok.argument.text}` : tok.argument.text);
    default:
      return `'${tok.kind}'`;
  }
}
