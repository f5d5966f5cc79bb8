// Errors that point at the user's code: a hook failure names the error's class and the first
// frame in the addon's own files (a throw in the hook, inside an sdk helper such as
// `res.json()` on a bad body, in a helper file the script imports), the debug log has the whole
// mapped stack; a misspelled hook is a warning at load naming the hook meant; type errors are
// reported after every (re)load with file:line:column while the new code runs anyway, and not
// at all with addon_typecheck=false.
import { writeFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AddonHost } from "@interloper/sdk/host";
import { testResponse } from "@interloper/sdk/testing";
import { Block } from "../../addons/block.ts";
import { Dumper } from "../../addons/dumper.ts";
import { ErrorCheck } from "../../addons/errorcheck.ts";
import { Hosts } from "../../addons/hosts.ts";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";
import { ScriptLoader } from "../../addons/script-loader.ts";
import { escapeRe, nextTypecheck, reloadAfter, scriptHost, settle, type ScriptHost } from "../helpers/script-host.ts";
import { scriptDir, type ScriptDir } from "../helpers/scripts.ts";

const open: Array<{ h: ScriptHost; dir: ScriptDir }> = [];

async function withScripts(files: Record<string, string>, options: Record<string, unknown> = {}) {
  const dir = scriptDir("interloper-addon-errors-");
  for (const [name, content] of Object.entries(files)) dir.write(name, content);
  const h = await scriptHost({ ...options, scripts: [dir.path(Object.keys(files)[0]!)] });
  open.push({ h, dir });
  return { h, dir };
}

test.after.each(async () => {
  for (const { h, dir } of open.splice(0)) {
    await h.stop();
    dir.remove();
  }
});

test("a hook's TypeError: the line names the class and the addon's own file, not the sdk's", async () => {
  const host = new AddonHost();
  const errors: string[] = [];
  host.events.on("log", (e) => e.level === "error" && errors.push(e.message));
  await host.add({
    name: "typed",
    request() {
      (null as unknown as { x: number }).x = 1;
    },
  });
  await host.trigger("request", undefined as never);
  assert.is(errors.length, 1);
  const here = escapeRe(new URL(import.meta.url).pathname);
  assert.match(
    errors[0]!,
    new RegExp(
      `^addon typed failed in request: TypeError: Cannot set properties of null .*\\(at ${here}:\\d+:\\d+\\)$`,
    ),
  );
});

test("res.json() on a bad body: SyntaxError at the script's line that called it, not inside the sdk", async () => {
  const script = `import { defineAddon } from "@interloper/sdk";

export default defineAddon({
  name: "rewrite-json",
  response(flow) {
    const data = flow.response!.json() as { n: number };
    flow.metadata.n = data.n;
  },
});
`;
  const { h, dir } = await withScripts({ "rewrite-json.ts": script });
  await h.http("/", testResponse({ status: 200, body: "{not json", headers: { "content-type": "application/json" } }));
  const [line] = h.messages("error");
  assert.ok(line, `an error line; log: ${JSON.stringify(h.logs)}`);
  assert.match(line, /^addon rewrite-json failed in response: SyntaxError: /);
  assert.match(line, new RegExp(`\\(at ${escapeRe(dir.path("rewrite-json.ts"))}:6:\\d+\\)$`));
  assert.not.match(line, /sdk\/src|flow\.ts|dist\/cli\.js/);
  // -v: the whole stack, mapped to the script's file.
  const stack = h.logs.find((e) => e.level === "debug" && e.message.startsWith("SyntaxError"));
  assert.ok(stack, "the stack at debug level");
  assert.match(stack.message, `${dir.path("rewrite-json.ts")}:6:`);
});

test("an error thrown in a helper file the script imports is placed in the helper", async () => {
  const { h, dir } = await withScripts({
    "main.ts": `import { parsePrice } from "./price.ts";\nexport default {\n  name: "shop",\n  request(flow: any) {\n    flow.metadata.price = parsePrice(flow.request.path);\n  },\n};\n`,
    "price.ts": `export function parsePrice(path: string): number {\n  if (!path.startsWith("/price/")) throw new RangeError("no price in " + path);\n  return Number(path.slice(7));\n}\n`,
  });
  assert.is((await h.http("/price/12")).metadata.price, 12);
  await h.http("/free");
  const [line] = h.messages("error");
  assert.match(
    line ?? "",
    new RegExp(
      `^addon shop failed in request: RangeError: no price in /free \\(at ${escapeRe(dir.path("price.ts"))}:2:\\d+\\)$`,
    ),
  );
  const stack = h.logs.find((e) => e.level === "debug" && e.message.startsWith("RangeError"))?.message ?? "";
  assert.match(stack, `${dir.path("price.ts")}:2:`);
  assert.match(stack, `${dir.path("main.ts")}:5:`, "the caller in the script, mapped too");
});

test("misspelled hooks are warnings at load naming the hook meant; helpers and hooks are not", async () => {
  const { h } = await withScripts({
    "typos.ts": `export default {
  name: "typos",
  reponse() {},
  requestHeaders() {},
  client_connected() {},
  tlsClientHello() {},
  response() {},
  respond() {},
  reload() {},
  helper() {},
};
`,
  });
  assert.equal(h.messages("warn").sort(), [
    "'client_connected' is not a hook and never runs: did you mean 'clientConnect'?",
    "'reponse' is not a hook and never runs: did you mean 'response'?",
    "'requestHeaders' is not a hook and never runs: did you mean 'requestheaders'?",
    "'tlsClientHello' is not a hook and never runs: did you mean 'tlsClienthello'?",
  ]);
  assert.ok(h.logs.filter((e) => e.level === "warn").every((e) => e.addon === "typos"));
});

test("the built-in addons have no method that looks like a misspelled hook", async () => {
  const host = new AddonHost();
  const warnings: string[] = [];
  host.events.on("log", (e) => e.level === "warn" && warnings.push(e.message));
  for (const a of [
    new Block(),
    new ProxyAuth(),
    new ScriptLoader({ watch: false }),
    new Hosts(),
    new Dumper({ write: () => true }),
    new ErrorCheck(),
  ])
    await host.add(a);
  assert.equal(warnings, []);
  await host.stop();
});

const typed = (tag: string, bad: string) => `import { defineAddon } from "@interloper/sdk";

export default defineAddon({
  name: "typed",
  request(flow) {
    ${bad}
    flow.metadata.v = "${tag}";
  },
});
`;

test("type errors: reported after load and after each reload with file:line:column; the new code runs anyway", async () => {
  const { h, dir } = await withScripts({ "typed.ts": typed("v1", `const n: number = "one";`) });
  const file = dir.path("typed.ts");
  const first = await nextTypecheck(h, 0);
  assert.equal(
    first.problems.map((p) => [p.file, p.line, p.column, p.code]),
    [[file, 6, 11, 2322]],
  );
  assert.match(
    h.messages("warn").join("\n"),
    new RegExp(`type error at ${escapeRe(file)}:6:11: Type 'string' is not assignable to type 'number'\\.`),
  );
  assert.is((await h.http()).metadata.v, "v1", "it runs despite the type error");

  await settle(h, file);
  const from = h.typechecks.length;
  await reloadAfter(
    h,
    () => writeFileSync(file, typed("v2", `flow.metadata.x = flow.request.nope;`)),
    "the save of v2",
  );
  assert.is((await h.http()).metadata.v, "v2", "the new version runs at once");
  const second = await nextTypecheck(h, from);
  assert.equal(
    second.problems.map((p) => [p.file, p.line, p.code]),
    [[file, 6, 2339]],
  );
  assert.match(second.problems[0]!.message, /Property 'nope' does not exist/);
});

test("addon_typecheck=false: no check starts on load or reload; turned on, the loaded version is checked", async () => {
  const { h, dir } = await withScripts({ "typed.ts": typed("v1", `const a: string = 1;`) }, { addonTypecheck: false });
  const file = dir.path("typed.ts");
  // A check starts (and says so) before the load or reload that caused it is reported.
  const started = () => h.messages("debug").filter((m) => m.startsWith("type-checking"));
  assert.equal(started(), []);
  await settle(h, file);
  await reloadAfter(h, () => writeFileSync(file, typed("v2", `const b: boolean = "b";`)), "the save of v2");
  assert.is((await h.http()).metadata.v, "v2");
  assert.equal(started(), []);
  await h.host.setOptions({ addonTypecheck: true });
  assert.is(started().length, 1);
  const report = await nextTypecheck(h, 0);
  assert.equal(
    report.problems.map((p) => [p.line, p.message]),
    [[6, "Type 'string' is not assignable to type 'boolean'."]],
  );
});

test.run();
