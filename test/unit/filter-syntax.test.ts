// Filter expressions that do not compile: each syntax error with its column
// and its own one-line message, the tree the parser builds, and hostile input
// (deep nesting, megabyte expressions) that must end in a FilterError or a
// working filter, never a stack overflow. Compile times of the large inputs are
// printed, not asserted (a quadratic step would not finish at this size).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilter, FilterError, FILTER_OPERATORS, parseFilter, type FilterNode } from "@interloper/sdk";
import { buildFlow } from "../helpers/filter-flows.ts";

type ErrorRow = [expression: string, column: number, reason: string];

const ERRORS: ErrorRow[] = [
  ["", 1, "the expression is empty"],
  ["   ", 1, "the expression is empty"],
  // a trailing or dangling combinator
  ["~q &", 4, "expected an expression after '&'"],
  ["~q & ~s &", 9, "expected an expression after '&'"],
  ["& ~q", 1, "expected an expression before '&'"],
  ["~q | | ~s", 4, "expected an expression after '|'"],
  ["!", 1, "expected an expression after '!'"],
  ["~q & !", 6, "expected an expression after '!'"],
  // parentheses
  ["(~q", 1, "'(' is never closed"],
  ["((~q)", 1, "'(' is never closed"],
  ["~q )", 4, "')' without a matching '('"],
  [")", 1, "')' without a matching '('"],
  ["()", 1, "empty parentheses '()'"],
  ["( & ~q)", 3, "expected an expression before '&'"],
  ["x(", 2, "expected an expression after '('"],
  // side by side means "and" only at the top level, as in mitmproxy
  ["(~q ~s)", 5, "expected '&', '|' or ')' before '~s'"],
  // operators
  ["~zz", 1, "unknown operator '~zz'"],
  ["~q & ~zz", 6, "unknown operator '~zz'"],
  ["~Q", 1, "unknown operator '~Q' (did you mean '~q'?)"],
  ["~dexample.com", 1, "unknown operator '~dexample.com' (put a space after '~d')"],
  ["~", 1, "expected an operator name after '~'"],
  ["~q&~s", 3, "expected a space after '~q', found '&'"],
  ["~a|~q", 3, "expected a space after '~a', found '|'"],
  // missing or wrong arguments
  ["~d", 1, "expected a regular expression after '~d'"],
  ["~d ~m GET", 1, "expected a regular expression after '~d', found '~'"],
  ["~d (a)", 1, "expected a regular expression after '~d', found '(' (a regex with parentheses goes in quotes)"],
  ["~c", 1, "expected a number after '~c'"],
  ["~c abc", 4, "~c needs a number, not 'abc'"],
  ["~c 200x", 4, "~c needs a number, not '200x'"],
  ["~c -1", 4, "~c needs a number, not '-1'"],
  // quotes
  ['~d "abc', 4, 'unterminated quoted argument: no closing "'],
  ["~d 'abc\\'", 4, "unterminated quoted argument: no closing '"],
  ["~d 'a\nb'", 6, "a quoted argument cannot contain a line break (the quote opened at column 4)"],
  // regexes: the column of the offending character
  ["~d [", 4, "invalid regex after '~d': unterminated character set"],
  ['~d "x(y"', 6, "invalid regex after '~d': missing ), unterminated subpattern"],
  ["~b a**", 6, "invalid regex after '~b': multiple repeat"],
  ["~b *a", 4, "invalid regex after '~b': nothing to repeat"],
  ["~b \\q", 4, "invalid regex after '~b': bad escape \\q"],
  ["~h \\", 4, "invalid regex after '~h': bad escape (end of pattern)"],
  ["~u \\8", 4, "invalid regex after '~u': invalid group reference 8"],
  ["~t a{2,1}", 5, "invalid regex after '~t': min repeat greater than max repeat"],
  ['~u "\\\\x4"', 5, "invalid regex after '~u': incomplete escape \\x4"],
  ['~d "x(?i)y"', 6, "invalid regex after '~d': global flags not at the start of the expression"],
  ['~u "(?P<x>a)(?P<x>b)"', 13, "invalid regex after '~u': redefinition of group name 'x' as group 2; was group 1"],
  ['~u "(?P<a\\nb>x)"', 9, "invalid regex after '~u': bad character in group name 'a\\nb'"],
  ["~b '(?u)x'", 5, "invalid regex after '~b': bad inline flags: cannot use 'u' flag with a bytes pattern"],
  ["zz[", 3, "invalid regex: unterminated character set"],
  // what JavaScript cannot do is refused by name
  ["~u \\N{DASH}", 4, "invalid regex after '~u': named characters (\\N{...}) are not supported"],
  ['~u "(?(1)a)"', 5, "invalid regex after '~u': conditional groups (?(...)...) are not supported"],
  ["~b '(?L)x'", 5, "invalid regex after '~b': the locale flag (?L) is not supported"],
  // columns count characters, not UTF-16 units
  ["~d 😀 & &", 6, "expected an expression after '&'"],
  ['~d "😀["', 6, "invalid regex after '~d': unterminated character set"],
];

test(`syntax errors: ${ERRORS.length} expressions, each with its column and message`, () => {
  const wrong: string[] = [];
  for (const [expr, column, reason] of ERRORS) {
    try {
      compileFilter(expr);
      wrong.push(`${JSON.stringify(expr)} compiled`);
    } catch (err) {
      if (!(err instanceof FilterError)) {
        wrong.push(`${JSON.stringify(expr)} threw ${String(err)}`);
        continue;
      }
      const got = `${err.column}: ${err.reason}`;
      if (got !== `${column}: ${reason}`) wrong.push(`${JSON.stringify(expr)} → ${got}`);
      assert.is(err.message, `invalid filter at column ${err.column}: ${err.reason}`);
      assert.not.ok(/[\r\n]/.test(err.message), `one line: ${JSON.stringify(err.message)}`);
      assert.is(err.expression, expr);
    }
  }
  assert.equal(wrong, []);
});

test("FilterError is an Error with a name, a column and a reason", () => {
  let err: unknown;
  try {
    compileFilter("~q & ~s &");
  } catch (e) {
    err = e;
  }
  assert.instance(err, Error);
  assert.instance(err, FilterError);
  assert.is((err as FilterError).name, "FilterError");
  assert.is((err as FilterError).message, "invalid filter at column 9: expected an expression after '&'");
});

function shape(node: FilterNode): string {
  switch (node.kind) {
    case "and":
    case "or":
      return `${node.kind}(${node.items.map(shape).join(", ")})`;
    case "not":
      return `not(${shape(node.item)})`;
    case "operator":
      return node.argument ? `${node.operator} ${node.argument.text}` : node.operator;
  }
}

test("the tree: precedence, flattening, side-by-side 'and', bare regexes", () => {
  const cases: [string, string][] = [
    ["~a | ~b x & ~c 200", "or(~a, and(~b x, ~c))"],
    ["!~a & ~q", "and(not(~a), ~q)"],
    ["!(~a & ~q)", "not(and(~a, ~q))"],
    ["~a & ~q & ~s | ~e | ~tcp", "or(and(~a, ~q, ~s), ~e, ~tcp)"],
    ["~a | ~q ~s", "and(or(~a, ~q), ~s)"],
    ["~d x ~m y | ~u z", "and(~d x, or(~m y, ~u z))"],
    ["example.com", "~u example.com"],
    ["\"a b\" & 'c'", "and(~u a b, ~u c)"],
    ["~u a&b ~q", "and(~u a&b, ~q)"],
    ["~d !x", "~d !x"],
    ["!!~q", "not(not(~q))"],
    ["(~q)", "~q"],
  ];
  for (const [expr, expected] of cases) assert.is(shape(parseFilter(expr)), expected, expr);
});

test("FILTER_OPERATORS lists every operator of today's mitmproxy, with a one-line help", () => {
  const names = FILTER_OPERATORS.map((o) => o.operator);
  const expected =
    "~a ~all ~b ~bq ~bs ~c ~comment ~d ~dns ~dst ~e ~h ~hq ~hs ~http ~m ~marked ~marker ~meta ~q ~replay ~replayq ~replays ~s ~src ~t ~tcp ~tq ~ts ~u ~udp ~websocket";
  assert.equal(
    names.filter((n) => n.startsWith("~")),
    expected.split(" "),
  );
  assert.equal(names.slice(-4), ["!", "&", "|", "(...)"]);
  for (const { operator, argument, help } of FILTER_OPERATORS) {
    assert.ok(help.length > 0 && !help.includes("\n"), operator);
    // Every listed operator compiles with the argument it announces.
    if (operator.startsWith("~")) {
      const arg = argument === "regex" ? " x" : argument === "integer" ? " 200" : "";
      compileFilter(`${operator}${arg}`);
    }
  }
  assert.match(FILTER_OPERATORS.find((o) => o.operator === "~dns")!.help, /never matches/);
  assert.match(FILTER_OPERATORS.find((o) => o.operator === "~udp")!.help, /never matches/);
  assert.is(FILTER_OPERATORS.find((o) => o.operator === "~c")!.argument, "integer");
  assert.ok(Object.isFrozen(FILTER_OPERATORS) && Object.isFrozen(FILTER_OPERATORS[0]));
});

const DEEP = 100_000;

function expectError(expr: string, what: string, column?: number, reason?: RegExp): void {
  try {
    compileFilter(expr);
  } catch (err) {
    assert.instance(err, FilterError, `${what}: ${String(err)}`);
    if (column !== undefined) assert.is((err as FilterError).column, column, what);
    if (reason) assert.match((err as FilterError).reason, reason, what);
    return;
  }
  assert.unreachable(`${what} compiled`);
}

test("100,000 deep: '!' chains, parentheses and regex groups give a FilterError, not a stack overflow", () => {
  const nested = /nested too deeply \(more than 500 levels/;
  expectError(`${"!".repeat(DEEP)}~q`, "!!!!…", 501, nested);
  expectError(`${"(".repeat(DEEP)}~q${")".repeat(DEEP)}`, "((((…))))", 501, nested);
  expectError(`${"(!".repeat(DEEP / 2)}~q${")".repeat(DEEP / 2)}`, "(!(!…", 501, nested);
  expectError(`~u "${"(".repeat(DEEP)}a${")".repeat(DEEP)}"`, "regex groups", 205, /groups nested too deeply/);
  expectError(`~b ${"[".repeat(DEEP)}`, "regex classes", 4, /unterminated character set/);
  expectError(")".repeat(DEEP), "))))", 1);
  expectError("(".repeat(DEEP), "((((", 501, nested);
  expectError("&".repeat(DEEP), "&&&&", 1);
  expectError("~".repeat(DEEP), "~~~~", 1);
});

test("nesting up to the limit compiles and evaluates", () => {
  const req = buildFlow({});
  assert.ok(compileFilter(`${"!".repeat(500)}~q`)(req));
  assert.not.ok(compileFilter(`${"!".repeat(499)}~q`)(req));
  assert.ok(compileFilter(`${"(".repeat(500)}~q${")".repeat(500)}`)(req));
  assert.ok(compileFilter(`${"(!".repeat(250)}~q${")".repeat(250)}`)(req));
  assert.ok(compileFilter(`~u "${"(".repeat(200)}example${")".repeat(200)}"`)(req));
});

const MB = 1 << 20;

function repeatTo(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length));
}

test("1 MB expressions compile (times printed) and work", () => {
  const flow = buildFlow({ request: { path: "/a", body: "x" } });
  const inputs: [string, string, boolean][] = [
    ["~d a & … (and chain)", `${repeatTo("~d example & ", MB)}~q`, true],
    ["~s | … (or chain)", `${repeatTo("~s | ", MB)}~q`, true],
    ["~d a ~d b … (side by side)", repeatTo("~d exa ~m GET ", MB), true],
    ["distinct regexes", Array.from({ length: MB / 16 }, (_, i) => `~u a${i}`).join(" | "), false],
    ["1 MB of empty quoted regexes", repeatTo('"" ', MB), true],
    [
      "1 MB of distinct 4 KB regexes",
      Array.from({ length: MB / 4096 }, (_, i) => `~b "${i}${repeatTo("[xa]", 4080)}"`).join(" | "),
      false,
    ],
  ];
  for (const [what, expr, expected] of inputs) {
    const start = process.hrtime.bigint();
    const filter = compileFilter(expr);
    const compiled = Number(process.hrtime.bigint() - start) / 1e6;
    assert.is(filter(flow), expected, what);
    console.log(`  ${what}: ${(expr.length / MB).toFixed(2)} MB compiled in ${compiled.toFixed(0)} ms`);
  }
});

test("one huge regex is refused as too large, at its column, before V8 spends long on it", () => {
  const tooLarge = /too large \(over 32768 characters once translated\)/;
  expectError(repeatTo("a", MB), "a 1 MB bare regex", 1, tooLarge);
  expectError(`~q & "${repeatTo("\\a", MB)}"`, "a 1 MB quoted regex", 6, tooLarge);
  expectError(`~u ${repeatTo("zz|", MB)}`, "a 1 MB alternation", 4, tooLarge);
  expectError(`~b ${repeatTo("[xa]", MB)}`, "1 MB of classes", 4, tooLarge);
  expectError(`~u "${repeatTo("(?:a|/)*", MB)}"`, "1 MB of quantified groups", 4, tooLarge);
  // Case folded by hand makes a bytes pattern 4 times longer: 10,000 letters are too many.
  expectError(`~b ${repeatTo("a", 10_000)}`, "a long bytes literal", 4, tooLarge);
  // Shorter patterns that V8's compiler still cannot take fail at compile time, not when called.
  expectError(repeatTo("a", 7000), "a 7,000-letter case-insensitive literal", 1, /too large$/);
  const flow = buildFlow({});
  assert.is(compileFilter(`~b ${repeatTo("a", 7000)}`, { caseSensitive: true })(flow), false);
  assert.is(compileFilter(`~u "${repeatTo("(?:a|/)*", 25_000)}"`)(flow), true);
});

test.run();
