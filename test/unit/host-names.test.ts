// Which client-given host names may go into a minted certificate.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isPlausibleHostName } from "../../core/tls/names.ts";

const GOOD = [
  "example.com",
  "EXAMPLE.com",
  "a.b.c.d.e",
  "xn--bcher-kva.example",
  "under_score.example",
  "localhost",
  "127.0.0.1",
  "::1",
  "[::1]",
  "fe80::1%eth0",
  "example.com.",
  "a".repeat(63) + ".com",
  "1.2.3",
];
const BAD = [
  "",
  "*",
  "*.example.com",
  "a..b",
  ".example.com",
  "exa mple.com",
  "example.com\n",
  "ex\u0000ample",
  "bücher.example",
  "a".repeat(64) + ".com",
  `${"a.".repeat(127)}ab`,
  "example.com:443",
  "a/b",
  "a@b",
  "[example.com]",
  "..",
];

for (const name of GOOD) test(`plausible: ${JSON.stringify(name)}`, () => assert.ok(isPlausibleHostName(name)));
for (const name of BAD)
  test(`refused: ${JSON.stringify(name).slice(0, 40)}`, () => assert.not.ok(isPlausibleHostName(name)));

test.run();
