// The Python regex translation (sdk/src/filter/python-re), end to end through
// compileFilter: each pattern searched in each subject as a text pattern
// (`~marker`) and as a bytes pattern (`~m`, the subject its UTF-8 bytes), each
// case-sensitive and ignoring case. The expected results are what Python 3.11's
// `re` answered for the same pattern, subject and flags.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilter, FilterError } from "@interloper/sdk";
import { buildFlow } from "../helpers/filter-flows.ts";

/**
 * [pattern, subject, results]: results has one letter per mode, in the order
 * text, text ignoring case, bytes, bytes ignoring case: T matches, F does not,
 * E Python refuses the pattern.
 */
const ROWS: [string, string, string][] = [
  ["a.c", "abc", "TTTT"],
  ["a.c", "a\nc", "FFFF"],
  ["a.c", "A.C", "FTFT"],
  ["^b$", "b", "TTTT"],
  ["^b$", "b\n", "TTTT"],
  ["^b$", "a\nb", "FFFF"],
  ["^b$", "b\n\n", "FFFF"],
  ["(?m)^b$", "a\nb\nc", "TTTT"],
  ["(?m)^b$", "b\r\n", "FFFF"],
  ["(?m)^b$", "ab", "FFFF"],
  ["(?s)a.c", "a\nc", "TTTT"],
  ["\\Aab\\Z", "ab", "TTTT"],
  ["\\Aab\\Z", "ab\n", "FFFF"],
  ["[]a]+", "]]a", "TTTT"],
  ["[]a]+", "b", "FFFF"],
  ["[^]a]", "]", "FFFF"],
  ["[^]a]", "a", "FFFF"],
  ["[^]a]", "b", "TTTT"],
  ["[a-]", "-", "TTTT"],
  ["[a-]", "b", "FFFF"],
  ["a{,2}b", "aab", "TTTT"],
  ["a{,2}b", "b", "TTTT"],
  ["a{x}", "a{x}", "TTTT"],
  ["a{x}", "ax", "FFFF"],
  ["a{", "a{", "TTTT"],
  ["a{}", "a{}", "TTTT"],
  ["a{,}b", "aaab", "TTTT"],
  ["\\d+", "١٢٣", "TTFF"],
  ["\\d+", "123", "TTTT"],
  ["\\d+", "x", "FFFF"],
  ["\\w+$", "héllo", "TTTT"],
  ["\\w+$", "_x", "TTTT"],
  ["\\w+$", "-", "FFFF"],
  ["(?a)\\w+$", "héllo", "TTTT"],
  ["(?a)\\w+$", "hello", "TTTT"],
  ["\\s", " ", "TTFF"],
  ["\\s", "\u001c", "TTFF"],
  ["\\s", "﻿", "FFFF"],
  ["\\s", " ", "TTTT"],
  ["\\S", "﻿", "TTTT"],
  ["\\S", "\u001c", "FFTT"],
  ["[\\W]", "é", "FFTT"],
  ["[\\W]", "-", "TTTT"],
  ["[\\W]", "a", "FFFF"],
  ["[^\\W]", "é", "TTFF"],
  ["[^\\W]", "-", "FFFF"],
  ["[^\\W]", "a", "TTTT"],
  ["[\\S]", "\u001c", "FFTT"],
  ["[\\S]", "﻿", "TTTT"],
  ["[\\S]", "a", "TTTT"],
  ["[\\S]", " ", "FFFF"],
  ["\\bfoo\\b", "éfoo", "FFTT"],
  ["\\bfoo\\b", "a foo b", "TTTT"],
  ["\\bfoo\\b", "_foo", "FFFF"],
  ["(?P<x>a)(?P=x)", "aa", "TTTT"],
  ["(?P<x>a)(?P=x)", "ab", "FFFF"],
  ["(a)\\1", "aa", "TTTT"],
  ["(a)\\1", "aA", "FTFT"],
  ["(?i)(a)\\1", "aA", "TTTT"],
  ["\\x41\\101\\0", "AA\u0000", "TTTT"],
  ["[\\1]", "\u0001", "TTTT"],
  ["(?i)straße", "STRASSE", "FFFF"],
  ["(?i)straße", "Straße", "TTTT"],
  ["(?i)straße", "STRAẞE", "TTFF"],
  ["(?i:a)b", "Ab", "TTTT"],
  ["(?i:a)b", "AB", "FTFT"],
  ["(?i)a(?-i:b)", "AB", "FFFF"],
  ["(?i)a(?-i:b)", "Ab", "TTTT"],
  ["(?x) a b # comment\n c", "abc", "TTTT"],
  ["(?>a+)b", "aab", "TTTT"],
  ["a++b", "aab", "TTTT"],
  ["a*+a", "aaa", "FFFF"],
  ["(?=a)*b", "b", "TTTT"],
  ["é", "é", "TTTT"],
  ["é", "É", "FTFF"],
  ["(?i)é", "É", "TTFF"],
  ["[à-é]", "ç", "TTTT"],
  ["[à-é]", "ê", "FFTT"],
  ["(?i)[à-é]", "Ç", "TTTT"],
  ["(?i)[à-é]", "Ê", "FFTT"],
  ["(?i)k", "K", "TTFF"],
  ["\\U0001F600", "😀", "TTEE"],
  [".", "😀", "TTTT"],
  ["^.$", "😀", "TTFF"],
  ["\\$", "$", "TTTT"],
  ["a|b|", "c", "TTTT"],
  ["x*", "", "TTTT"],
  ["x*", "y", "TTTT"],
  ["\\-\\_", "-_", "TTTT"],
  ["[\\d-]", "-", "TTTT"],
  ["a\\Z", "a\n", "FFFF"],
  ["a\\Z", "a", "TTTT"],
  ["(?#c)a", "a", "TTTT"],
  ["\\u00e9", "é", "TTEE"],
  ["(?i)é", "ã©", "FFFF"],
  ["(?i)é", "Ã©", "FFFF"],
  ["é", "ã©", "FFFF"],
  ["(?i)[a-z]+", "ABC", "TTTT"],
  ["(?i)[a-z]+", "ſ", "TTFF"],
  ["(?i)[a-z]+", "K", "TTTT"],
  ["[Z-a]", "z", "FTFT"],
  ["[Z-a]", "A", "FTFT"],
  ["[Z-a]", "`", "TTTT"],
  ["(?i)[Z-a]", "z", "TTTT"],
  ["(?i)[Z-a]", "A", "TTTT"],
  ["(?i)[Z-a]", "`", "TTTT"],
  ["x(?i)a", "xa", "EEEE"],
  ["(?i)(?s)a.", "A\n", "TTTT"],
  ["(?-i)a", "a", "EEEE"],
  ["(?u)a", "a", "TTEE"],
  ["a{2}{3}", "aaaaaa", "EEEE"],
  ["a**", "a", "EEEE"],
  ["*a", "a", "EEEE"],
  ["\\q", "q", "EEEE"],
  ["\\8", "8", "EEEE"],
  ["(a)\\2", "a", "EEEE"],
  ["(a\\1)", "a", "EEEE"],
  ["[z-a]", "a", "EEEE"],
  ["[\\d-z]", "a", "EEEE"],
  ["(", "(", "EEEE"],
  [")", ")", "EEEE"],
  ["[", "[", "EEEE"],
  ["]", "]", "TTTT"],
  ["}", "}", "TTTT"],
  ["a{3,2}", "aaa", "EEEE"],
  ["(?P<1>a)", "a", "EEEE"],
  ["(?P<a>a)(?P<a>b)", "ab", "EEEE"],
  ["(?P=z)", "a", "EEEE"],
  ["(?<n>a)", "a", "EEEE"],
  ["\\x4", "\u0004", "EEEE"],
  ["\\u00e", "x", "EEEE"],
  ["\\777", "x", "EEEE"],
  ["[\\777]", "x", "EEEE"],
  ["[\\8]", "8", "EEEE"],
  ["[\\A]", "A", "EEEE"],
  ["\\", "x", "EEEE"],
  ["a(?#unterminated", "a", "EEEE"],
  ["(?i", "a", "EEEE"],
  ["(?z)", "a", "EEEE"],
  ["^*", "a", "EEEE"],
  ["\\b*", "a", "EEEE"],
  ["(?=a)+a", "a", "TTTT"],
  ["(?<=ab)c", "abc", "TTTT"],
  ["(?<=ab)c", "xbc", "FFFF"],
  ["(?<!a)b", "ab", "FFFF"],
  ["(?<!a)b", "cb", "TTTT"],
  ["(?:a|b)+c", "abac", "TTTT"],
  ["a(?=b)", "ab", "TTTT"],
  ["a(?=b)", "ac", "FFFF"],
  ["(?i:A(?-i:b))", "aB", "FFFF"],
  ["(?i:A(?-i:b))", "ab", "TTTT"],
  ["(?i:[a-c](?-i:[d-f]))", "AD", "FFFF"],
  ["(?i:[a-c](?-i:[d-f]))", "Ad", "TTTT"],
  ["(?-i:A)", "a", "FFFF"],
  ["(?-i:A)", "A", "TTTT"],
  ["\\t\\n\\r\\f\\v\\a", "\t\n\r\f\u000b\u0007", "TTTT"],
  ["[\\b]", "\b", "TTTT"],
  ["\\0101", "\b1", "TTTT"],
  ["\\12", "x", "EEEE"],
  ["(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)\\11", "abcdefghijkk", "TTTT"],
  ["(?x)[ ]a", " a", "TTTT"],
  ["(?x)a\\ b", "a b", "TTTT"],
  ["(?x)a #c\nb", "ab", "TTTT"],
  ["\\w", "́", "FFFF"],
  ["\\w", "²", "TTFF"],
  ["\\w", "Ⅳ", "TTFF"],
  ["\\d", "²", "FFFF"],
  ["\\d", "٣", "TTFF"],
  ["(?i)ß", "SS", "FFFF"],
  ["(?i)ß", "ẞ", "TTFF"],
  ["(?i)ǅ", "Ǆ", "TTFF"],
  ["(?i)ǅ", "ǆ", "TTFF"],
  ["[^\\s\\d]", " ", "FFFF"],
  ["[^\\s\\d]", "1", "FFFF"],
  ["[^\\s\\d]", "a", "TTTT"],
  ["[\\s\\d]", " ", "TTTT"],
  ["[\\s\\d]", "1", "TTTT"],
  ["[\\s\\d]", "a", "FFFF"],
  ["[\\s\\d]", "", "TTFF"],
  ["a$", "a\n", "TTTT"],
  ["a$", "a\r\n", "FFFF"],
  ["(?m)a$", "a\r\nb", "FFFF"],
  ["(?i)ÿ", "Ÿ", "TTFF"],
  ["\\Z", "", "TTTT"],
  ["\\Z", "\n", "TTTT"],
  ["(?a)\\s", " ", "FFFF"],
  ["(?a)\\S", " ", "TTTT"],
  ["(?a)[\\S]", " ", "TTTT"],
  ["(?a)[\\S]", " ", "FFFF"],
  ["(?a:\\w)", "é", "FFFF"],
  ["(?a:\\w)", "e", "TTTT"],
  ["(?a)(?u)x", "x", "EEEE"],
  ["(?au)x", "x", "EEEE"],
  ["(?i-i:a)", "A", "EEEE"],
  ["[[]", "[", "TTTT"],
  ["[a&&b]", "&", "TTTT"],
  ["a{1,2}?", "a", "TTTT"],
  ["a{1,2}+b", "aab", "TTTT"],
  ["(?>(a))\\1", "aa", "TTTT"],
];

/** The pattern as a double-quoted filter argument (whose escapes are mitmproxy's: \t \n \f \r, else the character). */
function quoted(pattern: string): string {
  const escaped = pattern.replace(
    /[\\"\t\n\f\r]/g,
    (c) => ({ "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" })[c] ?? `\\${c}`,
  );
  return `"${escaped}"`;
}

const MODES = [
  { name: "text", operator: "~marker", bytes: false, caseSensitive: true },
  { name: "text, ignoring case", operator: "~marker", bytes: false, caseSensitive: false },
  { name: "bytes", operator: "~m", bytes: true, caseSensitive: true },
  { name: "bytes, ignoring case", operator: "~m", bytes: true, caseSensitive: false },
];

test(`Python's re and the translation agree on ${ROWS.length} (pattern, subject) pairs in 4 modes`, () => {
  const wrong: string[] = [];
  for (const [pattern, subject, results] of ROWS) {
    MODES.forEach((mode, i) => {
      const expected = results[i];
      const flow = buildFlow({});
      if (flow.type !== "http") throw new Error("an HTTP flow");
      flow.marked = subject;
      flow.request.method = Buffer.from(subject, "utf8").toString("latin1");
      let got: string;
      try {
        got = compileFilter(`${mode.operator} ${quoted(pattern)}`, { caseSensitive: mode.caseSensitive })(flow)
          ? "T"
          : "F";
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        got = "E";
      }
      if (got !== expected)
        wrong.push(
          `${JSON.stringify(pattern)} on ${JSON.stringify(subject)} (${mode.name}): expected ${expected}, got ${got}`,
        );
    });
  }
  assert.equal(wrong, []);
});

/** The reason compileFilter gives for `expr`, or "" when it compiles. */
function reasonOf(expr: string): string {
  try {
    compileFilter(expr);
    return "";
  } catch (err) {
    if (!(err instanceof FilterError)) throw err;
    return err.reason;
  }
}

test("what JavaScript cannot do is refused with a reason, not mistranslated", () => {
  // Inside quotes a backslash escapes the next character: a regex backslash is written twice.
  assert.match(reasonOf("~u \\N{DIGIT}"), /named characters \(\\N\{\.\.\.\}\) are not supported/);
  assert.match(reasonOf("~u '(?(1)a|b)'"), /conditional groups/);
  assert.match(reasonOf("~b '(?L)a'"), /locale flag \(\?L\) is not supported/);
  assert.match(reasonOf("~u '(?-i:a)(a)\\\\2'"), /invalid group reference 2/);
  assert.match(reasonOf("~u '(?-i:A)(a)\\\\1'"), /back-reference cannot ignore case/);
  assert.match(reasonOf("~b '(?-i:A)(a)\\\\1'"), /scoped case flags cannot be combined with a back-reference/);
});

test("a bytes pattern's error column counts characters, not the UTF-8 bytes it is matched as", () => {
  let column = 0;
  try {
    compileFilter('~b "ééé["');
  } catch (err) {
    column = (err as FilterError).column;
  }
  assert.is(column, 8);
});

test("a back-reference under ignore-case in a bytes pattern uses the i flag (Python folds it)", () => {
  const flow = buildFlow({ request: { method: "POST", body: "abcABC" } });
  assert.ok(compileFilter("~b '(abc)\\\\1'")(flow));
  assert.not.ok(compileFilter("~b '(abc)\\\\1'", { caseSensitive: true })(flow));
});

test.run();
