// The flags of mitmproxy's request options (--anticache, --anticomp, --stickycookie, --stickyauth)
// and --proxyauth, turned into option changes by core/cli/args.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseCli, UsageError } from "../../core/cli/args.ts";

const parse = (...argv: string[]) => parseCli(argv, "1.2.3-test");

test("each flag sets its option; the last of a repeated one wins; the positional filter stays a filter", async () => {
  const r = await parse(
    "--anticache",
    "--anticomp",
    "--stickycookie",
    "~d shop",
    "--stickyauth",
    ".",
    "--stickyauth",
    "~u /api",
    "--proxyauth",
    "@/etc/htpasswd",
    "~m POST",
  );
  assert.equal(r.changes, {
    proxyauth: "@/etc/htpasswd",
    anticache: true,
    anticomp: true,
    stickycookie: "~d shop",
    stickyauth: "~u /api",
    viewFilter: "~m POST",
    saveStreamFilter: "~m POST",
  });
});

test("without the flags nothing is set; a filter flag without its value is a usage error", async () => {
  assert.equal((await parse()).changes, {});
  for (const flag of ["--stickycookie", "--stickyauth", "--proxyauth"]) {
    try {
      await parse(flag);
      assert.unreachable(`${flag} without a value was accepted`);
    } catch (err) {
      if (err instanceof assert.Assertion) throw err;
      assert.instance(err, UsageError);
      assert.match((err as Error).message, /Not enough arguments following/);
    }
  }
});

test("--help lists them", async () => {
  const text = (await parse("--help")).exitText ?? "";
  for (const flag of ["--anticache", "--anticomp", "--stickycookie", "--stickyauth", "--proxyauth"]) {
    assert.ok(text.includes(flag), flag);
  }
});

test.run();
