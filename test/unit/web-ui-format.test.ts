// The web UI's formatting of sizes, durations and times, and its column sorting
// (addons/web/ui/lib): ordinary values, unit edges, and hostile values (NaN,
// Infinity, negatives, missing, mixed types) that must never print "NaN" or throw.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatDateTime, formatDuration, formatSize, formatTime } from "../../addons/web/ui/lib/format.ts";
import { fieldsToText, textToFields } from "../../addons/web/ui/lib/fields-text.ts";
import { isEarlierState, type ProgressFields } from "../../addons/web/ui/lib/flow-progress.ts";
import { sortRows, type SortKey } from "../../addons/web/ui/lib/sort.ts";

test("formatSize: bytes, then KB, MB, GB with one decimal below ten", () => {
  const cases: Array<[number, string]> = [
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KB"],
    [1536, "1.5 KB"],
    [10 * 1024, "10 KB"],
    [1024 * 1024 - 1, "1 MB"],
    [1024 * 1024, "1 MB"],
    [5.25 * 1024 * 1024, "5.3 MB"],
    [3 * 1024 ** 3, "3 GB"],
    [2 * 1024 ** 5, "2 PB"],
    [2 * 1024 ** 6, "2048 PB"],
  ];
  for (const [bytes, shown] of cases) assert.is(formatSize(bytes), shown, String(bytes));
});

test("formatSize: missing and broken values are empty, never NaN", () => {
  for (const bad of [NaN, -1, Infinity, -Infinity, null, undefined, "12" as unknown as number]) {
    assert.is(formatSize(bad), "", String(bad));
  }
});

test("formatDuration: µs, ms, s, minutes and hours", () => {
  const cases: Array<[number, string]> = [
    [0, "0 µs"],
    [0.0000004, "0 µs"],
    [0.00085, "850 µs"],
    [0.001, "1 ms"],
    [0.00456, "4.6 ms"],
    [0.0123, "12 ms"],
    [0.9994, "999 ms"],
    [1, "1.00 s"],
    [1.234, "1.23 s"],
    [12.34, "12.3 s"],
    [59.4, "59.4 s"],
    [60, "1 m 00 s"],
    [125, "2 m 05 s"],
    [3599.6, "1 h 00 m"],
    [3600, "1 h 00 m"],
    [3 * 3600 + 7 * 60 + 59, "3 h 07 m"],
  ];
  for (const [s, shown] of cases) assert.is(formatDuration(s), shown, String(s));
});

test("formatDuration: missing, negative (a clock that stepped back) and broken values are empty", () => {
  for (const bad of [NaN, -0.5, Infinity, null, undefined, {} as unknown as number]) {
    assert.is(formatDuration(bad), "", String(bad));
  }
});

test("formatTime and formatDateTime: local time with milliseconds; nonsense is empty", () => {
  const t = new Date(2026, 0, 2, 3, 4, 5, 67).getTime() / 1000;
  assert.is(formatTime(t), "03:04:05.067");
  assert.is(formatDateTime(t), "2026-01-02 03:04:05.067");
  for (const bad of [NaN, Infinity, null, undefined, 1e20]) {
    assert.is(formatTime(bad), "", String(bad));
    assert.is(formatDateTime(bad), "", String(bad));
  }
});

interface Row {
  id: number;
  key: SortKey;
}

function ids(rows: Row[]): number[] {
  return rows.map((r) => r.id);
}

const byKey = (r: Row): SortKey => r.key;

test("sortRows: numbers ascending and descending, ties in arrival order both ways", () => {
  const rows: Row[] = [
    { id: 1, key: 3 },
    { id: 2, key: 1 },
    { id: 3, key: 3 },
    { id: 4, key: 2 },
  ];
  assert.equal(ids(sortRows(rows, byKey, "asc")), [2, 4, 1, 3]);
  assert.equal(ids(sortRows(rows, byKey, "desc")), [1, 3, 4, 2]);
  assert.equal(ids(rows), [1, 2, 3, 4], "the input is left as it was");
});

test("sortRows: strings case-insensitively; missing values and NaN last in both directions", () => {
  const rows: Row[] = [
    { id: 1, key: "beta" },
    { id: 2, key: undefined },
    { id: 3, key: "Alpha" },
    { id: 4, key: NaN },
    { id: 5, key: "alpha" },
    { id: 6, key: null },
  ];
  assert.equal(ids(sortRows(rows, byKey, "asc")), [3, 5, 1, 2, 4, 6]);
  assert.equal(ids(sortRows(rows, byKey, "desc")), [1, 3, 5, 2, 4, 6]);
});

test("sortRows: a column mixing numbers and strings does not throw and is a total order", () => {
  const rows: Row[] = [
    { id: 1, key: "b" },
    { id: 2, key: 10 },
    { id: 3, key: "a" },
    { id: 4, key: 2 },
  ];
  assert.equal(ids(sortRows(rows, byKey, "asc")), [4, 2, 3, 1]);
  assert.equal(ids(sortRows(rows, byKey, "desc")), [1, 3, 2, 4]);
});

test("sortRows: empty input, one row, and 50,000 rows stay stable", () => {
  assert.equal(sortRows([], byKey, "asc"), []);
  assert.equal(ids(sortRows([{ id: 1, key: 5 }], byKey, "desc")), [1]);
  const many: Row[] = Array.from({ length: 50_000 }, (_, i) => ({ id: i, key: i % 7 }));
  const sorted = sortRows(many, byKey, "asc");
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    assert.ok((a.key as number) < (b.key as number) || (a.key === b.key && a.id < b.id));
  }
});

test("fields as text and back: order, spelling, repeats, empty values, colons in values, pseudo-fields", () => {
  const fields: Array<[string, string]> = [
    ["Host", "example.com:8080"],
    ["X-Dup", "1"],
    ["x-dup", "2"],
    ["X-Empty", ""],
    [":authority", "example.com"],
    ["Cookie", "a=b; c=d:e"],
  ];
  const text = fieldsToText(fields);
  assert.is(text.split("\n")[0], "Host: example.com:8080");
  assert.equal(textToFields(text), fields);
  assert.equal(textToFields("A:1\r\n\r\n  \nB :  two words  \n"), [
    ["A", "1"],
    ["B", "two words"],
  ]);
  assert.equal(textToFields(""), []);
});

test("fields text: a line without a name is refused with its number", () => {
  for (const [text, line] of [
    ["A: 1\nno colon here", 2],
    [": value", 1],
    ["Bad Name: x", 1],
    ["A: 1\n\n   : x", 3],
  ] as Array<[string, number]>) {
    assert.throws(
      () => textToFields(text),
      (e: unknown) => e instanceof Error && e.message.includes(`line ${line} `),
      text,
    );
  }
});

test("isEarlierState: a held update older than the loaded list's state is recognised; equal or later is not", () => {
  const at = (p: Partial<ProgressFields>): ProgressFields => ({
    live: true,
    status: null,
    error: null,
    timestampEnd: null,
    messageCount: 0,
    ...p,
  });
  const requestOnly = at({});
  const answered = at({ status: 200, timestampEnd: 5 });
  const done = at({ live: false, status: 200, timestampEnd: 5 });
  assert.ok(isEarlierState(requestOnly, answered));
  assert.ok(isEarlierState(answered, done));
  assert.ok(isEarlierState(at({ messageCount: 1 }), at({ messageCount: 2 })));
  assert.ok(isEarlierState(at({ live: false, status: 200, timestampEnd: 4 }), done));
  assert.not.ok(isEarlierState(done, answered));
  assert.not.ok(isEarlierState(done, done), "the same state (a mark or comment changed) applies");
  assert.not.ok(isEarlierState(at({ error: "refused", live: false }), at({ live: false })));
  assert.ok(isEarlierState(at({ live: false }), at({ error: "refused", live: false })));
});

test.run();
