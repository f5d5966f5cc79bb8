import type { AnyFlow } from "../flow.ts";
import type { FilterArgument, FilterNode } from "./ast.ts";
import { FilterError } from "./errors.ts";
import { literalMatcher, type Matcher } from "./literal-search.ts";
import { FLAG_PREDICATES, MEMO_OPERATORS, REGEX_PREDICATES, statusPredicate, type Predicate } from "./matchers.ts";
import { OPERATOR_SPECS } from "./operators.ts";
import { parseFilter } from "./parser.ts";
import { RegexProblem } from "./python-re/problem.ts";
import { translatePythonRegex } from "./python-re/translate.ts";
import { Memo } from "./subjects.ts";

/**
 * A compiled filter expression: call it with a flow.
 *
 * A plain function rather than an object with `test()`, because that is what
 * addon code hands around: `flows.filter(f)`, `flows.some(f)`, `if (f(flow))`,
 * no binding or wrapping. `source` keeps the expression for messages, saving
 * and display.
 */
export interface FlowFilter {
  (flow: AnyFlow): boolean;
  /** The expression this filter was compiled from. */
  readonly source: string;
}

export interface CompileFilterOptions {
  /**
   * Match regexes case-sensitively. Today's mitmproxy ignores case in every
   * regex unless `MITMPROXY_CASE_SENSITIVE_FILTERS=1`; this is that switch.
   * Default `false`. (mitmproxy 8.1.1 ignored case only in `~d` and `~m`; we
   * follow today's.)
   */
  caseSensitive?: boolean;
}

interface Context {
  readonly expr: string;
  readonly ignoreCase: boolean;
  /** One Matcher per distinct (subject, pattern) in the expression. */
  readonly matchers: Map<string, Matcher>;
  usesMemo: boolean;
}

/** Shared by evaluations of filters that read no body or header block: nothing ever writes to it. */
const UNUSED_MEMO = new Memo();

/**
 * Compiles one of mitmproxy's filter expressions (`~d api\.example\.com & ~m POST`)
 * into a predicate on flows. Throws `FilterError` (with a 1-based `column`)
 * for an expression that is not valid, including a regex too large for V8's
 * compiler: that fails here rather than when the filter is called.
 *
 * ```ts
 * const posts = compileFilter("~d api.example.com & ~m POST");
 * if (posts(flow)) flow.metadata.api = true;
 * ```
 */
export function compileFilter(expr: string, options: CompileFilterOptions = {}): FlowFilter {
  if (typeof expr !== "string") throw new TypeError(`a filter expression is a string, not ${typeof expr}`);
  const ctx: Context = { expr, ignoreCase: options.caseSensitive !== true, matchers: new Map(), usesMemo: false };
  const root = build(parseFilter(expr), ctx);
  const filter = ctx.usesMemo
    ? (flow: AnyFlow): boolean => root(flow, new Memo())
    : (flow: AnyFlow): boolean => root(flow, UNUSED_MEMO);
  Object.defineProperty(filter, "source", { value: expr, enumerable: true });
  return filter as FlowFilter;
}

function build(node: FilterNode, ctx: Context): Predicate {
  switch (node.kind) {
    case "and":
      return every(node.items.map((item) => build(item, ctx)));
    case "or":
      return some(node.items.map((item) => build(item, ctx)));
    case "not": {
      const inner = build(node.item, ctx);
      return (f, m) => !inner(f, m);
    }
    case "operator":
      return operator(node, ctx);
  }
}

function every(items: Predicate[]): Predicate {
  if (items.length === 2) {
    const [a, b] = items as [Predicate, Predicate];
    return (f, m) => a(f, m) && b(f, m);
  }
  if (items.length === 3) {
    const [a, b, c] = items as [Predicate, Predicate, Predicate];
    return (f, m) => a(f, m) && b(f, m) && c(f, m);
  }
  return (f, m) => {
    for (const item of items) if (!item(f, m)) return false;
    return true;
  };
}

function some(items: Predicate[]): Predicate {
  if (items.length === 2) {
    const [a, b] = items as [Predicate, Predicate];
    return (f, m) => a(f, m) || b(f, m);
  }
  return (f, m) => {
    for (const item of items) if (item(f, m)) return true;
    return false;
  };
}

function operator(node: Extract<FilterNode, { kind: "operator" }>, ctx: Context): Predicate {
  const flag = FLAG_PREDICATES[node.operator];
  if (flag) return flag;
  if (node.code !== undefined) return statusPredicate(node.code);
  const make = REGEX_PREDICATES[node.operator]!;
  if (MEMO_OPERATORS.has(node.operator)) ctx.usesMemo = true;
  return make(compileRegex(node.operator, node.argument!, node.bare === true, ctx));
}

function compileRegex(op: string, arg: FilterArgument, bare: boolean, ctx: Context): Matcher {
  const subject = OPERATOR_SPECS.get(op)!.regex!;
  const key = `${subject.bytes ? "b" : "t"}${subject.multiline ? "m" : ""}${subject.dotall ? "s" : ""}:${arg.text}`;
  const known = ctx.matchers.get(key);
  if (known) return known;
  const what = bare ? "invalid regex" : `invalid regex after '${op}'`;
  let matcher: Matcher;
  try {
    const t = translatePythonRegex(arg.text, Object.assign({}, subject, { ignoreCase: ctx.ignoreCase }));
    if (t.source.length > MAX_REGEX_SOURCE)
      throw new FilterError(
        ctx.expr,
        arg.at,
        `${what}: too large (over ${MAX_REGEX_SOURCE} characters once translated)`,
      );
    const rx = new RegExp(t.source, t.flags);
    compileNow(rx);
    matcher = t.literal === undefined ? (s) => rx.test(s) : literalMatcher(t.literal, t.ignoreCase, subject.bytes, rx);
  } catch (err) {
    if (err instanceof FilterError) throw err;
    if (err instanceof RegexProblem)
      throw new FilterError(ctx.expr, sourceIndex(arg, err.index), `${what}: ${err.message}`);
    // What the translation let through and V8 still refuses: a pattern too large for its compiler.
    const reason =
      err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/\w*: /s, "") : String(err);
    throw new FilterError(ctx.expr, arg.at, `${what}: ${reason === "Stack overflow" ? "too large" : reason}`);
  }
  ctx.matchers.set(key, matcher);
  return matcher;
}

/**
 * The longest regex (as translated) a filter may hold. V8's compiler takes
 * about a second for an alternation this long on a busy 2-core machine and
 * grows faster than the pattern, so hostile input is cut off here; filters
 * written by hand are far shorter.
 */
const MAX_REGEX_SOURCE = 32_768;

/** Patterns shorter than this compile in V8 whatever their shape (the smallest failure seen is 6,000 characters). */
const COMPILE_NOW_FROM = 1000;

/**
 * V8 compiles a RegExp when it first runs, once for one-byte and once for
 * two-byte subjects, and again when it tiers up from its interpreter; a pattern
 * too large for its compiler fails there. Running it now makes that a
 * FilterError at compile time instead of an exception in a hook.
 */
function compileNow(rx: RegExp): void {
  if (rx.source.length < COMPILE_NOW_FROM) return;
  for (const subject of ["", "", "\u0100", "\u0100"]) rx.test(subject);
}

/** Where character `index` of an argument's text was written in the expression. */
function sourceIndex(arg: FilterArgument, index: number): number {
  if (!arg.sourceIndex) return arg.at + index;
  const known = arg.sourceIndex[index];
  if (known !== undefined) return known;
  return (arg.sourceIndex[arg.sourceIndex.length - 1] ?? arg.at) + 1;
}
