// The soak harness's finding: a reload read a half-written save (an editor that truncates the
// file, then writes it). A reload that fails now waits a moment for the rest of the save and
// builds that instead; the old version serves meanwhile and no failure is reported. A save that
// stays broken is still reported.
import { appendFileSync, writeFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sleep, waitFor } from "../helpers/harness.ts";
import { reloadAfter, scriptHost, settle, type ScriptHost } from "../helpers/script-host.ts";
import { scriptDir, type ScriptDir } from "../helpers/scripts.ts";

const script = (tag: string) => `export default {
  name: "saved",
  request(flow: any) {
    flow.metadata.v = "${tag}";
  },
};
`;

let h: ScriptHost | undefined;
let dir: ScriptDir | undefined;

test.after.each(async () => {
  await h?.stop();
  dir?.remove();
});

async function loaded(): Promise<{ h: ScriptHost; file: string }> {
  dir = scriptDir("interloper-settle-");
  const file = dir.write("saved.ts", script("v1"));
  h = await scriptHost({ scripts: [file] });
  await settle(h, file);
  return { h, file };
}

test("a save that truncates, then writes in pieces: the finished file loads, nothing half-written does", async () => {
  const { h, file } = await loaded();
  const from = h.reloads.length;
  const next = script("v2");
  const cut = next.indexOf("request");
  // The pauses only space the writes out (longer than the loader's debounce), as a slow editor or disk would.
  writeFileSync(file, "");
  await sleep(150);
  assert.is((await h.http()).metadata.v, "v1", "the old version serves while the file is empty");
  appendFileSync(file, next.slice(0, cut));
  await sleep(150);
  appendFileSync(file, next.slice(cut));
  await waitFor(() => h.reloads.slice(from).find((e) => e.changed && e.ok), "the reload of the finished save");
  assert.equal(
    h.reloads.slice(from).filter((e) => !e.ok),
    [],
    "no reload of the half-written file was reported",
  );
  assert.equal(h.messages("error"), []);
  assert.is((await h.http()).metadata.v, "v2");
});

test("a save that stays broken is still reported, and the old version stays", async () => {
  const { h, file } = await loaded();
  const failed = await reloadAfter(
    h,
    () => writeFileSync(file, "export default {\n  request(flow: any) {\n"),
    "the broken save",
  );
  assert.is(failed.ok, false);
  assert.match(failed.error ?? "", /saved\.ts:3:\d+: /);
  assert.match(h.messages("error")[0] ?? "", /^reloading .*saved\.ts failed, the previous version stays active: /);
  assert.is((await h.http()).metadata.v, "v1");
});

test.run();
