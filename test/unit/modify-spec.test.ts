// The spec syntax shared by map_remote, map_local, modify_headers and
// modify_body (addons/modify/spec.ts) and the string escapes mitmproxy decodes
// in modify_headers' and modify_body's values (addons/modify/escapes.ts, as
// Python's codecs.escape_decode), hostile values included.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OptionError } from "@interloper/sdk";
import { testFlow } from "@interloper/sdk/testing";
import { EscapeError, unescapeBytes } from "../../addons/modify/escapes.ts";
import { parseAll, parseSpec, SpecError } from "../../addons/modify/spec.ts";

const parts = (text: string) => {
  const s = parseSpec(text);
  return [s.filter?.source, s.subject, s.replacement];
};
const refused = (text: string, reason: RegExp) =>
  assert.throws(
    () => parseSpec(text),
    (e: unknown) => e instanceof SpecError && reason.test(e.message),
    text,
  );

test("the first character is the separator; the filter is optional", () => {
  assert.equal(parts("|a|b"), [undefined, "a", "b"]);
  assert.equal(parts("|~q|Host|example.org"), ["~q", "Host", "example.org"]);
  assert.equal(parts(":~q:foo:@~/xss-exploit"), ["~q", "foo", "@~/xss-exploit"]);
  assert.equal(parts("/~s/X-A/"), ["~s", "X-A", ""]);
  assert.equal(parts("#~d example.com#//example.com/#//example.org/"), [
    "~d example.com",
    "//example.com/",
    "//example.org/",
  ]);
  assert.equal(parts("xaxb"), [undefined, "a", "b"]);
  assert.equal(parts("🙂a🙂b"), [undefined, "a", "b"], "a separator outside the BMP is one character");
  assert.equal(parts("\0~q\0a\0b"), ["~q", "a", "b"]);
});

test("the replacement is the rest: it may hold the separator; nothing escapes it", () => {
  assert.equal(parts("|~q|a|b|c"), ["~q", "a", "b|c"]);
  assert.equal(parts("|~q|a|https://x/?a=1|2"), ["~q", "a", "https://x/?a=1|2"]);
  // A backslash before the separator is no escape (as in mitmproxy): it splits there.
  assert.equal(parts("|a\\|b"), [undefined, "a\\", "b"]);
  assert.equal(parts("|~q|a\\|b\\|c"), ["~q", "a\\", "b\\|c"]);
  assert.equal(parseSpec("/a/b/c/").replacement, "c/");
});

test("empty parts: an empty subject or replacement is kept, an empty filter is refused", () => {
  refused("|||", /empty filter expression/);
  refused("||a|b", /empty filter expression/);
  refused("| |a|b", /empty filter expression/);
  assert.equal(parts("|a|"), [undefined, "a", ""]);
  assert.equal(parts("||"), [undefined, "", ""]);
});

test("too few parts, an empty value and bad filters are refused with the reason", () => {
  refused("", /empty/);
  refused("|", /expected 2 or 3 parts .* found 1/);
  refused("|a", /found 1/);
  refused("abc", /separated by 'a'/);
  refused("|~zz|a|b", /invalid filter/);
  refused("|~q &|a|b", /invalid filter/);
  refused("|~d (|a|b", /invalid filter/);
  refused("|(~q|a|b", /invalid filter/);
});

test("parseAll names the option and the value in one line, control characters escaped", async () => {
  const err = await parseAll("modify_headers", ["|~q|a|b", "|~zz\n|a|b"], parseSpec).catch((e: unknown) => e);
  assert.ok(err instanceof OptionError);
  assert.match(err.message, /^invalid value for modify_headers '\|~zz\\n\|a\|b': invalid filter/);
  assert.not.match(err.message, /\n/);
  const ok = await parseAll("map_remote", ["|a|b", ":~q:c:d"], parseSpec);
  assert.is(ok.length, 2);
  const long = await parseAll("x", ["|~zz|" + "a".repeat(100_000)], parseSpec).catch((e: Error) => e.message);
  assert.ok((long as string).length < 1000, "a huge value is cut in the message");
});

test("a parsed filter is the sdk's filter language", () => {
  const s = parseSpec("|~m POST & ~d example\\.com|a|b");
  assert.ok(s.filter!(testFlow({ url: "https://example.com/", method: "POST" })));
  assert.not.ok(s.filter!(testFlow({ url: "https://example.com/", method: "GET" })));
});

const bytes = (text: string) => unescapeBytes(text).toString("latin1");

test("escapes decode as Python's codecs.escape_decode", () => {
  assert.is(bytes("plain"), "plain");
  assert.equal([...unescapeBytes("é\\x41")], [0xc3, 0xa9, 0x41], "text is UTF-8 first");
  assert.is(bytes("\\a\\f\\v\\r\\t\\n"), "\x07\x0c\x0b\r\t\n");
  assert.is(bytes("\\b\\1"), "\x08\x01", "\\b is a backspace and \\1 a byte, as in mitmproxy");
  assert.is(bytes("\\\\1"), "\\1");
  assert.is(bytes("\\d\\.\\N{DASH}\\u00e9"), "\\d\\.\\N{DASH}\\u00e9", "unknown escapes stay");
  assert.is(bytes("\\'\\\""), "'\"");
  assert.is(bytes("a\\\nb"), "ab", "a backslash-newline is removed");
  assert.is(bytes("\\8\\9\\400"), "\\8\\9\x00");
  assert.is(bytes("\\777"), "\xff");
  assert.is(bytes("\\0"), "\x00");
  assert.is(bytes("\\12z"), "\nz");
  assert.is(bytes("\\x4a\\x4A"), "JJ");
});

test("bad escapes are refused with their position", () => {
  const at = (text: string) => {
    try {
      unescapeBytes(text);
    } catch (err) {
      if (err instanceof EscapeError) return [err.index, err.message];
      throw err;
    }
    return null;
  };
  assert.equal(at("\\x"), [0, "invalid \\x escape at position 0"]);
  assert.equal(at("ab\\x4g"), [2, "invalid \\x escape at position 2"]);
  assert.equal(at("abc\\"), [3, "trailing \\ in string"]);
  assert.equal(at("\\b\\1\\d\\\\\\x4"), [8, "invalid \\x escape at position 8"]);
});

test("hostile values: long, binary, every byte", () => {
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
  assert.ok(unescapeBytes(all.replace(/\\/g, "\\\\")).length > 256);
  assert.is(unescapeBytes("\\\\".repeat(100_000)).length, 100_000);
  assert.equal(parts(`|${"~q & ".repeat(200)}~q|a|b`)[1], "a");
});

test.run();
