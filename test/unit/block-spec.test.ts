// block_list specs (`/flow-filter/status-code`): parsing with any separator, and refusals.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testFlow } from "@interloper/sdk/testing";
import { parseBlockSpec } from "../../addons/http-options/block-spec.ts";

test("the first character is the separator; the filter and the status follow", () => {
  const cases: Array<[spec: string, status: number, matches: string, misses: string]> = [
    ["/~u ads/404", 404, "http://example.com/ads/1", "http://example.com/news"],
    ["|~u /ads/|403", 403, "http://example.com/ads/1", "http://example.com/adsx"],
    [":~d tracker\\.example:444", 444, "http://tracker.example/p", "http://example.com/p"],
    ["#~m POST & ~u /api#500", 500, "http://example.com/api", "http://example.com/other"],
    ["§~u /xx§200", 200, "http://example.com/xx", "http://example.com/y"],
    ["😀~u /xx😀204", 204, "http://example.com/xx", "http://example.com/y"],
    ["/~u ads/ 404 ", 404, "http://example.com/ads", "http://example.com/"],
    ["\n~u /xx\n410", 410, "http://example.com/xx", "http://example.com/y"],
  ];
  for (const [spec, status, matches, misses] of cases) {
    const parsed = parseBlockSpec(spec);
    assert.is(parsed.status, status, spec);
    const method = spec.includes("POST") ? "POST" : "GET";
    assert.ok(parsed.filter(testFlow({ url: matches, method })), `${spec} matches ${matches}`);
    assert.not.ok(parsed.filter(testFlow({ url: misses, method })), `${spec} misses ${misses}`);
  }
});

test("a bare regex is a URL filter, as in mitmproxy", () => {
  const parsed = parseBlockSpec("!example\\.org!410");
  assert.ok(parsed.filter(testFlow({ url: "https://example.org/x" })));
  assert.not.ok(parsed.filter(testFlow({ url: "https://example.com/x" })));
});

test("bad specs are refused with one line naming the option, the value and what is wrong", () => {
  const cases: Array<[spec: string, why: RegExp]> = [
    ["", /expected \/flow-filter\/status-code/],
    ["/", /expected \/flow-filter\/status-code/],
    ["/~u x", /expected 2 parts after the separator '\/', found 1/],
    ["/~u x/404/", /found 3/],
    ["/~u /x/404", /found 3/],
    ["/~u x/abc", /'abc' is not an HTTP status code/],
    ["/~u x/4040", /not an HTTP status code/],
    ["/~u x/", /'' is not an HTTP status code/],
    ["/~u x/-40", /not an HTTP status code/],
    ["/~u x/100", /status 100 is not 200-599/],
    ["/~u x/999", /status 999 is not 200-599/],
    ["//404", /the filter is empty/],
    ["/  /404", /the filter is empty/],
    ["/~zz/404", /invalid filter at column 1/],
    ["/~u (/404", /invalid filter at column/],
    ["/~u x & /404", /invalid filter at column/],
  ];
  for (const [spec, why] of cases) {
    assert.throws(
      () => parseBlockSpec(spec),
      (err: Error) => {
        assert.is(err.name, "OptionError", spec);
        assert.ok(err.message.startsWith("invalid value for block_list: '"), err.message);
        assert.match(err.message, why);
        assert.not.match(err.message, /[\n\r]/, "one line");
        return true;
      },
      JSON.stringify(spec),
    );
  }
});

test("a hostile spec costs linear time and stays one line", () => {
  const long = `/${"~u a & ".repeat(5000)}~u a/404`;
  assert.is(parseBlockSpec(long).status, 404);
  const controls = `/~u \x1b[31m/40x`;
  assert.throws(
    () => parseBlockSpec(controls),
    (err: Error) => !/\x1b/.test(err.message) && err.message.includes("\\x1b"),
  );
});

test.run();
