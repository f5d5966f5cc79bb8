// The rewrite options changed while the proxy runs, through the confdir's
// config.yaml (a live change): new rules apply to the next request, and a bad
// value is refused with a line naming the file, the option and the value, the
// old rules staying in force.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { confdirWith, countMatches } from "../helpers/config-cli.ts";
import { curl, startOrigin, startProxy, waitFor } from "../helpers/harness.ts";

const yaml = (headers: string[], body: string[]) =>
  `modify_headers:\n${headers.map((h) => `  - ${JSON.stringify(h)}\n`).join("")}` +
  `modify_body:\n${body.map((b) => `  - ${JSON.stringify(b)}\n`).join("")}`;

test("config.yaml: changed rules apply live; refused ones leave the old rules in force", async () => {
  const origin = await startOrigin((req, res) => res.end(`x-live=${String(req.headers["x-live"])} body`));
  const confdir = confdirWith(yaml(["|~q|X-Live|one"], ["|~s|body|BODY"]));
  const proxy = await startProxy([], { confdir });
  const get = async () =>
    (await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${origin.port}/`])).stdout.toString();
  const seen = (re: RegExp, n: number, what: string) => waitFor(() => countMatches(proxy.stdout(), re) >= n, what);
  try {
    assert.is(await get(), "x-live=one BODY");

    writeFileSync(join(confdir, "config.yaml"), yaml(["|~q|X-Live|two"], ["|~s|(b)ody|\\\\1ODY!"]));
    await seen(/config\.yaml: applied modify_headers, modify_body/, 1, "the change applied");
    assert.is(await get(), "x-live=two bODY!");

    writeFileSync(join(confdir, "config.yaml"), yaml(["|~zz|X-Live|three"], ["|~s|body|x"]));
    await seen(
      /config\.yaml:\d+: invalid value for modify_headers '\|~zz\|X-Live\|three': invalid filter.*; the options stay as they were/,
      1,
      "the bad filter refused",
    );
    writeFileSync(join(confdir, "config.yaml"), yaml(["|~q|X-Live|four"], ["|~s|(body|x"]));
    await seen(
      /config\.yaml:\d+: invalid value for modify_body '\|~s\|\(body\|x': invalid regex: missing \).*; the options stay as they were/,
      1,
      "the bad regex refused",
    );
    assert.is(await get(), "x-live=two bODY!", "the old rules stay");
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test.run();
