// Secret options (OptionSpec.secret): passwords never shown by --options, loader.listOptions()
// (the web UI's /api/options), the config files' restart warning or their value messages.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SECRET_MASK, shownValue, type LogEntry, type OptionSpec } from "@interloper/sdk";
import { AddonHost, Options } from "@interloper/sdk/host";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";
import { formatOptions } from "../../core/cli/options-list.ts";
import { applyConfigFiles } from "../../core/config/start.ts";
import { CORE_OPTIONS } from "../../core/engine/core-options.ts";
import { removeDir, tempDir, waitFor } from "../helpers/harness.ts";

const PASSWORD = "hunter2-s3cret";

const SPECS: OptionSpec[] = [
  { name: "webPassword", type: "optional-string", default: undefined, startupOnly: true, secret: true, help: "" },
  { name: "upstreamAuth", type: "optional-string", default: undefined, secret: true, help: "" },
  { name: "flowDetail", type: "number", default: 1, help: "" },
  { name: "passwords", type: "strings", default: [], secret: true, help: "" },
  { name: "confdir", type: "string", default: "~/.interloper", startupOnly: true, help: "" },
];

async function hostWithLog(): Promise<{ host: AddonHost; logs: LogEntry[] }> {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  await host.add({
    name: "opts",
    load(loader) {
      for (const spec of SPECS) loader.addOption(spec);
    },
  });
  return { host, logs };
}

test("shownValue: a set secret is masked; unset shows as it is; other options are untouched", () => {
  const secret = { secret: true };
  assert.is(shownValue(secret, PASSWORD), SECRET_MASK);
  assert.is(shownValue(secret, "x"), SECRET_MASK);
  assert.is(shownValue(secret, 0), SECRET_MASK);
  assert.is(shownValue(secret, true), SECRET_MASK);
  assert.equal(shownValue(secret, ["a:b", "c:d"]), [SECRET_MASK, SECRET_MASK]);
  assert.equal(shownValue(secret, []), []);
  assert.is(shownValue(secret, undefined), undefined);
  assert.is(shownValue(secret, null), null);
  assert.is(shownValue(secret, ""), "");
  assert.is(shownValue({}, PASSWORD), PASSWORD);
  assert.is(shownValue({ secret: false }, PASSWORD), PASSWORD);
});

test("--options: a secret's current value is masked, the others are shown", async () => {
  const options = new Options();
  for (const spec of SPECS) options.add(spec);
  options.update({ upstreamAuth: `user:${PASSWORD}`, passwords: [PASSWORD], flowDetail: 3 });
  const text = formatOptions(options);
  assert.not.match(text, PASSWORD);
  assert.match(text, /^upstream_auth: "\*\*\*\*\*\*\*\*"$/m);
  assert.match(text, /^passwords: \["\*\*\*\*\*\*\*\*"\]$/m);
  assert.match(text, /^web_password: null$/m, "unset shows as unset");
  assert.match(text, /^flow_detail: 3$/m);
});

test("loader.listOptions (the web UI's /api/options): a secret is masked and flagged; the option keeps its value", async () => {
  const { host } = await hostWithLog();
  await host.setOptions({ upstreamAuth: `user:${PASSWORD}` });
  const info = host.listOptions().find((o) => o.name === "upstreamAuth")!;
  assert.is(info.value, SECRET_MASK);
  assert.is(info.secret, true);
  assert.not.match(JSON.stringify(host.listOptions()), PASSWORD);
  assert.is(host.listOptions().find((o) => o.name === "flowDetail")!.secret, undefined);
  assert.is(host.options.get("upstreamAuth"), `user:${PASSWORD}`);
  await host.stop();
});

test("config files: the restart warning for a start-up-only secret does not show it", async () => {
  const dir = tempDir("interloper-secret-");
  try {
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 2\n");
    const { host, logs } = await hostWithLog();
    const files = await applyConfigFiles(
      host,
      { confdir: dir },
      { projectFile: undefined, run: () => Promise.reject(new Error("none")), cwd: dir },
    );
    await files.watch();
    writeFileSync(join(dir, "config.yaml"), `flow_detail: 2\nweb_password: ${PASSWORD}\n`);
    const warning = await waitFor(
      () => logs.find((e) => /web_password changed to/.test(e.message)),
      "the restart warning",
    );
    assert.match(warning.message, /config\.yaml:2: web_password changed to "\*\*\*\*\*\*\*\*": restart interloper/);
    assert.not.match(logs.map((e) => e.message).join("\n"), PASSWORD);
    await files.close();
    await host.stop();
  } finally {
    removeDir(dir);
  }
});

test("the built-in credential options are secret: upstream_auth, proxyauth", async () => {
  assert.is(CORE_OPTIONS.find((s) => s.name === "upstreamAuth")?.secret, true);
  const host = new AddonHost();
  await host.add(new ProxyAuth());
  assert.is(host.options.spec("proxyauth")?.secret, true);
  await host.stop();
});

test.run();
