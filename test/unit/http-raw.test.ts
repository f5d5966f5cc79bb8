// Hand-written HTTP/1.1 answers: a reason or field from an addon or a client
// can never split the head.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rawHead, textResponse } from "../../core/http/raw.ts";

const lines = (b: Buffer) => b.toString("latin1").split("\r\n");

test("a plain head: status line, fields in order and spelling, empty line", () => {
  assert.is(
    rawHead(200, "OK", [
      ["X-A", "1"],
      ["x-b", "two words"],
    ]).toString("latin1"),
    "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-b: two words\r\n\r\n",
  );
});

test("an empty reason keeps the space after the status", () => {
  assert.is(lines(rawHead(204, "", []))[0], "HTTP/1.1 204 ");
});

for (const reason of ["OK\r\nX-Injected: 1", "OK\nX-Injected: 1", "OK\rX", "A\0B", "bell\x07", "esc\x1b[31m"]) {
  test(`a reason with control bytes stays on the status line: ${JSON.stringify(reason)}`, () => {
    const head = rawHead(403, reason, [["A", "1"]]);
    const l = lines(head);
    assert.is(l.length, 4, JSON.stringify(l));
    assert.ok(l[0]!.startsWith("HTTP/1.1 403 "));
    assert.not.match(l[0]!, /[\0-\x08\x0a-\x1f\x7f]/);
    assert.is(l[1], "A: 1");
  });
}

test("obs-text and tabs are allowed in a reason", () => {
  assert.is(lines(rawHead(200, "Tr\xe8s\tbien", []))[0], "HTTP/1.1 200 Tr\xe8s\tbien");
});

for (const [name, value] of [
  ["X-Bad", "a\r\nX-Injected: 1"],
  ["X-Bad", "a\nb"],
  ["X-Bad", "a\0"],
  ["Bad Name", "v"],
  ["Bad:Name", "v"],
  ["", "v"],
  ["X\r\nY", "v"],
] as const) {
  test(`a field that cannot go on the wire is left out: ${JSON.stringify([name, value])}`, () => {
    const l = lines(
      rawHead(200, "OK", [
        ["Before", "1"],
        [name, value],
        ["After", "2"],
      ]),
    );
    assert.equal(l, ["HTTP/1.1 200 OK", "Before: 1", "After: 2", "", ""]);
  });
}

test("a text response is framed by its byte length and closes", () => {
  const r = textResponse(502, "Bad Gateway", "señor").toString("latin1");
  assert.ok(r.startsWith("HTTP/1.1 502 Bad Gateway\r\n"));
  assert.match(r, /\r\nContent-Length: 7\r\n/);
  assert.match(r, /\r\nConnection: close\r\n\r\n/);
  assert.is(
    Buffer.from(r, "latin1")
      .subarray(r.indexOf("\r\n\r\n") + 4)
      .toString("utf8"),
    "señor\n",
  );
});

test.run();
