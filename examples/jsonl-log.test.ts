import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import jsonlLog, { type FlowLine } from "./jsonl-log.ts";

const tmp = mkdtempSync(join(tmpdir(), "interloper-jsonl-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function lines(file: string): FlowLine[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as FlowLine);
}

test("one line per completed flow, written by the time done() returns", async () => {
  const file = join(tmp, "flows.jsonl");
  const ctx = await testContext(jsonlLog, { jsonlLog: file });
  await ctx.http(testFlow({ url: "https://example.com/a?q=1", method: "POST", body: "12345" }), {
    status: 201,
    body: "created!",
  });
  await ctx.http(testFlow({ url: "http://example.com:8080/missing" }), { status: 404 });
  await ctx.http(testFlow({ url: "https://down.test/" }), { error: "connection refused" });
  await ctx.shutdown();

  const got = lines(file);
  assert.is(got.length, 3);
  const [a, b, c] = got as [FlowLine, FlowLine, FlowLine];
  assert.equal(
    {
      method: a.method,
      url: a.url,
      status: a.status,
      reason: a.reason,
      error: a.error,
      requestSize: a.requestSize,
      responseSize: a.responseSize,
    },
    {
      method: "POST",
      url: "https://example.com/a?q=1",
      status: 201,
      reason: "Created",
      error: null,
      requestSize: 5,
      responseSize: 8,
    },
  );
  assert.equal([b.url, b.status, b.responseSize], ["http://example.com:8080/missing", 404, 0]);
  assert.equal([c.url, c.status, c.error], ["https://down.test/", null, "connection refused"]);
  for (const l of got) {
    assert.type(l.timestampStart, "number");
    assert.ok(l.timestampStart > 1_600_000_000, "Unix seconds");
    assert.ok(l.timestampEnd >= l.timestampStart);
  }
  assert.equal(ctx.logLines("error"), []);
});

test("lines are appended to an existing file", async () => {
  const file = join(tmp, "append.jsonl");
  writeFileSync(file, '{"earlier":true}\n');
  const ctx = await testContext(jsonlLog, { jsonlLog: file });
  await ctx.http(testFlow({ url: "https://example.com/" }), { status: 200 });
  await ctx.shutdown();
  const text = readFileSync(file, "utf8").split("\n");
  assert.is(text[0], '{"earlier":true}');
  assert.is((JSON.parse(text[1]!) as FlowLine).url, "https://example.com/");
});

test("changing the option at run time switches files", async () => {
  const first = join(tmp, "first.jsonl");
  const second = join(tmp, "second.jsonl");
  const ctx = await testContext(jsonlLog, { jsonlLog: first });
  await ctx.http(testFlow({ url: "https://example.com/1" }), { status: 200 });
  await ctx.setOptions({ jsonlLog: second });
  await ctx.http(testFlow({ url: "https://example.com/2" }), { status: 200 });
  await ctx.setOptions({ jsonlLog: undefined });
  await ctx.http(testFlow({ url: "https://example.com/3" }), { status: 200 });
  await ctx.shutdown();
  assert.equal(
    lines(first).map((l) => l.url),
    ["https://example.com/1"],
  );
  assert.equal(
    lines(second).map((l) => l.url),
    ["https://example.com/2"],
  );
});

test("without the option nothing is written", async () => {
  const ctx = await testContext(jsonlLog);
  const flow = await ctx.http(testFlow(), { status: 200 });
  await ctx.shutdown();
  assert.is(flow.response?.status, 200);
});

test("a file that cannot be opened is an error in the log, not a crash", async () => {
  const file = join(tmp, "no-such-dir", "flows.jsonl");
  const ctx = await testContext(jsonlLog, { jsonlLog: file });
  // The open fails asynchronously: flows meanwhile must not throw either.
  await ctx.http(testFlow(), { status: 200 });
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error("no error was logged")), 30_000);
    const check = () => {
      if (ctx.logLines("error").length > 0) {
        clearTimeout(deadline);
        resolve();
      } else setTimeout(check, 5);
    };
    check();
  });
  assert.match(ctx.logLines("error")[0]!, /^\[jsonl-log\] cannot write .*no-such-dir.*ENOENT/);
  await ctx.http(testFlow(), { status: 200 });
  await ctx.shutdown();
  assert.not.ok(existsSync(file));
});

test.run();
