import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, NextLayerData } from "@interloper/sdk";
import { testClientHello, testContext, testNextLayer, type TestContext } from "@interloper/sdk/testing";
import { IgnoreFromFile } from "./ignore-from-file.ts";

const tmp = mkdtempSync(join(tmpdir(), "interloper-ignore-file-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const newFile = (text: string) => {
  const file = join(tmp, `ignore-${++n}.txt`);
  writeFileSync(file, text);
  return file;
};

const to = (host: string, sni?: string) =>
  testNextLayer({ destination: { host, port: 443 }, clientHello: testClientHello({ sni }) });
const ignored = async (ctx: TestContext, host: string, sni?: string) => (await ctx.decide(to(host, sni))).ignore;

/** Polls `check` until it holds; the bound only turns a hang into a clear failure. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("patterns from the file ignore matching connections; comments and blanks are skipped", async () => {
  const file = newFile("# pinned apps\n\n(^|\\.)pinned\\.test:443$\n   # indented comment\n^10\\.0\\.0\\.\\d+:\n");
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: file });
  try {
    assert.ok(await ignored(ctx, "pinned.test"));
    assert.ok(await ignored(ctx, "10.0.0.7"));
    // The SNI is a candidate too: a transparent-mode connection to an IP.
    assert.ok(await ignored(ctx, "203.0.113.5", "api.pinned.test"));
    assert.not.ok(await ignored(ctx, "notpinned.test"));
    assert.not.ok(await ignored(ctx, "example.com", "example.com"));
    assert.ok(ctx.logLines("info").some((l) => l === `[ignore-from-file] read ${file}: 2 patterns`));
    // The decision is explained at debug level, like the built-in's.
    assert.ok(
      ctx
        .logLines("debug")
        .some((l) => /ignoring connection: '\(\^\|\\\.\)pinned\\\.test:443\$' matched 'pinned\.test:443'/.test(l)),
    );
  } finally {
    await ctx.shutdown();
  }
});

test("an incomplete ClientHello makes the decision wait for the SNI", async () => {
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: newFile("pinned\\.test\n") });
  try {
    const d = await ctx.decide(
      testNextLayer({ destination: { host: "203.0.113.5", port: 443 }, clientHello: "incomplete" }),
    );
    assert.equal(d, { ignore: false, needMoreData: true, tcp: false });
  } finally {
    await ctx.shutdown();
  }
});

test("a non-matching connection is left undecided for the addons after it (the built-in hosts)", async () => {
  const seen: Array<boolean | undefined> = [];
  const after: Addon = { name: "after", nextLayer: (d: NextLayerData) => void seen.push(d.ignoreConnection) };
  const ctx = await testContext([new IgnoreFromFile(), after], { ignoreHostsFile: newFile("pinned\\.test\n") });
  try {
    await ctx.decide(to("other.test"));
    await ctx.decide(to("pinned.test"));
    assert.equal(seen, [undefined, true]);
  } finally {
    await ctx.shutdown();
  }
});

test("an invalid pattern is logged with file and line; the other patterns still apply", async () => {
  const file = newFile("(unclosed\nok\\.test\n^example\\.com$\n");
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: file });
  try {
    assert.equal(ctx.logLines("error"), [
      `[ignore-from-file] invalid ${file}:1 pattern '(unclosed': Unterminated group`,
    ]);
    // A pattern that can never match (no port after the name) is a warning, as with --ignore-hosts.
    assert.ok(
      ctx.logLines("warn").some((l) => l.includes(`${file}:3`)),
      ctx.logLines("warn").join("\n"),
    );
    assert.ok(await ignored(ctx, "ok.test"));
  } finally {
    await ctx.shutdown();
  }
});

test("the file is watched: in-place writes and rename-over saves take effect", async () => {
  const file = newFile("first\\.test\n");
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: file });
  try {
    assert.ok(await ignored(ctx, "first.test"));

    writeFileSync(file, "# now the second\nsecond\\.test\n");
    await until("second.test is ignored", () => ignored(ctx, "second.test"));
    assert.not.ok(await ignored(ctx, "first.test"));

    // How many editors save: write a temporary file, rename it over the old one.
    writeFileSync(`${file}.tmp`, "third\\.test\n(bad\n");
    renameSync(`${file}.tmp`, file);
    await until("third.test is ignored", () => ignored(ctx, "third.test"));
    assert.not.ok(await ignored(ctx, "second.test"));
    await until("the bad line is logged", async () => ctx.logLines("error").some((l) => l.includes("'(bad'")));

    // A vanished file keeps the last rules (a save in progress must not open the gate).
    unlinkSync(file);
    await until("the missing file is reported", async () => ctx.logLines("warn").some((l) => l.includes("ENOENT")));
    assert.ok(await ignored(ctx, "third.test"));
    writeFileSync(file, "fourth\\.test\n");
    await until("fourth.test is ignored", () => ignored(ctx, "fourth.test"));
  } finally {
    await ctx.shutdown();
  }
});

test("the option switches files at run time; unset, nothing is ignored", async () => {
  const a = newFile("a\\.test\n");
  const b = newFile("b\\.test\n");
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: a });
  try {
    await ctx.setOptions({ ignoreHostsFile: b });
    assert.not.ok(await ignored(ctx, "a.test"));
    assert.ok(await ignored(ctx, "b.test"));
    await ctx.setOptions({ ignoreHostsFile: undefined });
    assert.not.ok(await ignored(ctx, "b.test"));
  } finally {
    await ctx.shutdown();
  }
});

test("a missing file at start is a warning, and its creation is picked up", async () => {
  const file = join(tmp, "created-later.txt");
  const ctx = await testContext(new IgnoreFromFile(), { ignoreHostsFile: file });
  try {
    assert.ok(ctx.logLines("warn").some((l) => l.includes(`cannot read ${file} (ENOENT): no patterns yet`)));
    assert.not.ok(await ignored(ctx, "late.test"));
    writeFileSync(file, "late\\.test\n");
    await until("late.test is ignored", () => ignored(ctx, "late.test"));
  } finally {
    await ctx.shutdown();
  }
});

test.run();
