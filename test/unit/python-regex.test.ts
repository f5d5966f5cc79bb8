// The sdk's Python regexes (compilePythonRegex: search, sub, templates) against
// Python's own re, run on the same cases by test/fixtures/python-re/sub.py:
// every case must give what Python gives, errors included. Then the pieces
// Python cannot be asked about directly (error positions, hostile input).
import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compilePythonRegex, PythonRegexError, type PythonRegex } from "@interloper/sdk";
import { WAIT_MS } from "../helpers/harness.ts";

const SCRIPT = new URL("../fixtures/python-re/sub.py", import.meta.url).pathname;

interface Case {
  pattern: string;
  repl: string;
  subject: string;
  flags?: string;
  count?: number;
  /** Pattern, replacement and subject are latin1 bytes. */
  bytes?: boolean;
}

interface Result {
  error?: "pattern" | "template";
  sub?: string;
  search?: (number | string | null)[] | null;
}

const CASES: Case[] = [
  // group references in every spelling
  { pattern: "(a)(b)", repl: "\\2\\1", subject: "xaby" },
  { pattern: "(a)(b)", repl: "\\g<2>\\g<1>\\g<0>", subject: "xaby" },
  { pattern: "(?P<first>a)(?P<second>b)", repl: "\\g<second>-\\g<first>", subject: "ab ab" },
  { pattern: "(?P<x>a)", repl: "\\g<y>", subject: "a" },
  { pattern: "(a)", repl: "\\g<-1>", subject: "a" },
  { pattern: "(a)", repl: "\\g<1", subject: "a" },
  { pattern: "(a)", repl: "\\g1", subject: "a" },
  { pattern: "(a)", repl: "\\g<>", subject: "a" },
  { pattern: "(a)", repl: "\\2", subject: "a" },
  { pattern: "(a)", repl: "\\10", subject: "a" },
  { pattern: "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", repl: "\\11\\10-\\1", subject: "abcdefghijk" },
  { pattern: "(a)", repl: "\\101\\0\\07\\1", subject: "a" },
  { pattern: "(a)", repl: "\\400", subject: "a" },
  { pattern: "(a)", repl: "\\181", subject: "a" },
  // escapes in templates
  { pattern: "a", repl: "\\n\\t\\\\\\r\\a\\f\\v\\b", subject: "a" },
  { pattern: "a", repl: "\\-\\.\\/\\é", subject: "xay" },
  { pattern: "a", repl: "\\q", subject: "a" },
  { pattern: "a", repl: "\\", subject: "a" },
  { pattern: "a", repl: "\\x41", subject: "a" },
  { pattern: "a", repl: "\\u00e9", subject: "a" },
  // groups that take no part
  { pattern: "(a)|(b)", repl: "[\\1|\\2]", subject: "ab" },
  { pattern: "(a)?b", repl: "<\\1>", subject: "b ab" },
  // empty matches as Python 3.7+ takes them
  { pattern: "x*", repl: "-", subject: "abxd" },
  { pattern: "", repl: "-", subject: "abc" },
  { pattern: "\\b", repl: "|", subject: "one two" },
  { pattern: "(?=b)", repl: "^", subject: "abab" },
  { pattern: "$", repl: "!", subject: "line\n" },
  { pattern: "(?m)^", repl: "> ", subject: "a\nb\n" },
  // count
  { pattern: "a", repl: "b", subject: "aaaa", count: 2 },
  { pattern: "a", repl: "b", subject: "aaaa", count: 0 },
  // flags
  { pattern: "abc", repl: "x", subject: "ABC abc", flags: "i" },
  { pattern: "a.c", repl: "x", subject: "a\nc", flags: "s" },
  { pattern: "a.c", repl: "x", subject: "a\nc" },
  { pattern: "^b", repl: "x", subject: "a\nb", flags: "m" },
  // Python-only syntax through the translator
  { pattern: "(?P<q>['\"]).*?(?P=q)", repl: "Q", subject: "say 'hi' and \"yo\"" },
  { pattern: "\\d+(?#comment)", repl: "N", subject: "a12b345" },
  { pattern: "(?i:AB)c", repl: "x", subject: "abc abC" },
  { pattern: "a{,2}", repl: "x", subject: "aaa" },
  { pattern: "\\Ahttp://", repl: "https://", subject: "http://example.org/http://" },
  { pattern: "(?x) a b  # spaced", repl: "X", subject: "ab" },
  // URLs as map_remote rewrites them
  { pattern: "//example\\.org/", repl: "//mitmproxy.org/", subject: "https://example.org/path?q=1" },
  { pattern: ".*\\.jpg$", repl: "https://placedog.net/640/480?random", subject: "http://h/a.jpg" },
  { pattern: "^https://([^/]+)/(.*)$", repl: "http://127.0.0.1:8080/\\1/\\2", subject: "https://a.test/x/y" },
  { pattern: "(?P<host>[a-z.]+):(?P<port>\\d+)", repl: "\\g<port>@\\g<host>", subject: "http://h.test:81/" },
  // invalid patterns
  { pattern: "(", repl: "", subject: "" },
  { pattern: "a**", repl: "", subject: "" },
  { pattern: "(?P<1>a)", repl: "", subject: "" },
  { pattern: "[z-a]", repl: "", subject: "" },
  { pattern: "\\", repl: "", subject: "" },
  // bytes
  { pattern: "foo", repl: "bar", subject: "foo \xff foo", bytes: true },
  { pattern: "\xff+", repl: "[\\g<0>]", subject: "a\xff\xffb", bytes: true },
  { pattern: "(?P<n>\\d+)", repl: "<\\g<n>>", subject: "x1y22", bytes: true },
  { pattern: "ABC", repl: "x", subject: "abc \xc0\xe0", bytes: true, flags: "i" },
  { pattern: "\xe0", repl: "x", subject: "\xc0\xe0", bytes: true, flags: "i" },
  { pattern: ".", repl: "x", subject: "\n\x00", bytes: true, flags: "s" },
  { pattern: "\\w+", repl: "W", subject: "caf\xe9 ok", bytes: true },
  { pattern: "(a)", repl: "\\g<é>", subject: "a", bytes: true },
  { pattern: "<title>.*</title>", repl: "<title>x</title>", subject: "<title>a\nb</title>", bytes: true, flags: "s" },
];

function runPython(cases: Case[]): Result[] {
  const run = spawnSync("/usr/bin/python3", [SCRIPT], { input: JSON.stringify(cases), timeout: WAIT_MS });
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
  return JSON.parse(run.stdout.toString("utf8")) as Result[];
}

function runOurs(c: Case): Result {
  const flags = {
    ignoreCase: c.flags?.includes("i"),
    multiline: c.flags?.includes("m"),
    dotall: c.flags?.includes("s"),
  };
  const text = (v: string | Buffer | undefined) =>
    v === undefined ? null : Buffer.isBuffer(v) ? v.toString("latin1") : v;
  let rx: PythonRegex<string> | PythonRegex<Buffer>;
  try {
    rx = c.bytes ? compilePythonRegex(Buffer.from(c.pattern, "latin1"), flags) : compilePythonRegex(c.pattern, flags);
  } catch (err) {
    if (err instanceof PythonRegexError) return { error: "pattern" };
    throw err;
  }
  const subject = c.bytes ? Buffer.from(c.subject, "latin1") : c.subject;
  const m = (rx as PythonRegex<string | Buffer>).search(subject);
  const search =
    m === null ? null : [m.start, m.end, ...Array.from({ length: rx.groups }, (_, i) => text(m.group(i + 1)))];
  try {
    const out = c.bytes
      ? (rx as PythonRegex<Buffer>).sub(Buffer.from(c.repl, "latin1"), subject as Buffer, c.count)
      : (rx as PythonRegex<string>).sub(c.repl, subject as string, c.count);
    return { sub: text(out)!, search };
  } catch (err) {
    if (err instanceof PythonRegexError) return { error: "template", search };
    throw err;
  }
}

test("search and sub give what Python's re gives, errors included", () => {
  const expected = runPython(CASES);
  CASES.forEach((c, i) => {
    assert.equal(runOurs(c), expected[i], `case ${i}: ${JSON.stringify(c)}`);
  });
});

test("a template is checked once, against the pattern's groups", () => {
  const rx = compilePythonRegex("(?P<a>x)(y)");
  assert.equal(rx.template("\\g<a>\\2").parts, [{ group: 1 }, { group: 2 }]);
  assert.equal(rx.template("a\\nb").parts, ["a\nb"]);
  assert.throws(
    () => rx.template("\\3"),
    (e: unknown) => e instanceof PythonRegexError && /invalid group reference 3/.test(e.message),
  );
  assert.throws(
    () => rx.template("\\g<b>"),
    (e: unknown) => e instanceof PythonRegexError && /unknown group name 'b'/.test(e.message),
  );
  assert.is(rx.sub(rx.template("\\2\\1"), "xyxy"), "yxyx");
});

test("a function replacement is taken literally, backslashes and all", () => {
  const rx = compilePythonRegex(Buffer.from("a"));
  assert.is(rx.sub(() => Buffer.from("\\1\\n"), Buffer.from("bab")).toString("latin1"), "b\\1\\nb");
  const text = compilePythonRegex("(\\w+)@");
  assert.is(
    text.sub((m) => `${m.group(1)!.toUpperCase()} at `, "me@x you@y"),
    "ME at x YOU at y",
  );
});

test("errors say where: the index in the pattern (bytes for a bytes pattern)", () => {
  const at = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      if (err instanceof PythonRegexError) return err.index;
      throw err;
    }
    return -1;
  };
  assert.is(
    at(() => compilePythonRegex("ab(c")),
    2,
  );
  assert.is(
    at(() => compilePythonRegex(Buffer.from("é(", "utf8"))),
    2,
  );
  assert.is(
    at(() => compilePythonRegex("a").template("xy\\q")),
    2,
  );
});

test("beyond Python: a look-behind of varying width works (Python refuses it)", () => {
  assert.is(compilePythonRegex("(?<=a+)b").sub("x", "aab b"), "aax b");
});

test("hostile input: huge, deeply nested and binary patterns fail cleanly or work", () => {
  assert.throws(
    () => compilePythonRegex("(".repeat(5000)),
    (e: unknown) => e instanceof PythonRegexError,
  );
  assert.throws(
    () => compilePythonRegex("a".repeat(10) + ")"),
    (e: unknown) => e instanceof PythonRegexError,
  );
  const bin = compilePythonRegex(Buffer.from([0, 0x0a, 0xff, 0x5c, 0x5c]));
  assert.is(bin.sub(Buffer.from("Z"), Buffer.from([1, 0, 0x0a, 0xff, 0x5c, 2])).toString("hex"), "015a02");
  const big = "x".repeat(1 << 20);
  assert.is(compilePythonRegex("x+").sub("y", big), "y");
  assert.throws(
    () => compilePythonRegex("a").template("\\g<" + "9".repeat(30) + ">"),
    (e: unknown) => e instanceof PythonRegexError,
  );
  assert.equal(compilePythonRegex("(a)").search("b"), null);
  assert.throws(
    () => compilePythonRegex("(a)").search("a")!.group(2),
    (e: unknown) => e instanceof PythonRegexError,
  );
});

test.run();
