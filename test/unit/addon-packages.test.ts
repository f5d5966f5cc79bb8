// Addon packages: `-s NAME` looks in the project first, then in the addon home; a package's
// entry comes from its `exports` (ESM or CommonJS conditions), `main` or index file; a package
// whose sdk range leaves out this sdk is refused with one line naming both versions, one built
// for an older sdk major gets a warning; the semver ranges that judgement reads; and a package
// in the addon home reloads when npm replaces it (npm rewrites node_modules/.package-lock.json).
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SDK_VERSION } from "@interloper/sdk";
import { checkCompatibility } from "../../addons/scripts/compat.ts";
import { resolveScript, type ScriptPackage } from "../../addons/scripts/resolve.ts";
import { minVersion, satisfies } from "../../addons/scripts/semver.ts";
import { removeDir, tempDir, waitFor } from "../helpers/harness.ts";
import { scriptHost, settle, type ScriptHost } from "../helpers/script-host.ts";

const work = tempDir("interloper-addon-packages-");
const hosts: ScriptHost[] = [];

test.after.each(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});
test.after(() => removeDir(work));

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

/** An installed package `name` under `nodeModules`, answering `/NAME` with `answer`. */
function addonPackage(nodeModules: string, name: string, version: string, answer: string, extra: object = {}): string {
  const dir = join(nodeModules, name);
  writeFiles(dir, {
    "package.json": JSON.stringify({
      name,
      version,
      main: "index.js",
      peerDependencies: { "@interloper/sdk": `^${SDK_VERSION}` },
      ...extra,
    }),
    "index.js": `module.exports = { name: ${JSON.stringify(name)}, request(flow) { flow.metadata.v = ${JSON.stringify(answer)}; } };\n`,
  });
  return dir;
}

function pkg(name: string, manifest: ScriptPackage["manifest"]): ScriptPackage {
  return { dir: "/nowhere", name, version: manifest.version ?? "1.0.0", manifest };
}

test("semver: the ranges addon packages declare", () => {
  const cases: Array<[string, string, boolean]> = [
    ["0.1.0", "^0.1.0", true],
    ["0.1.9", "^0.1.0", true],
    ["0.2.0", "^0.1.0", false],
    ["1.4.2", "^1.2", true],
    ["2.0.0", "^1.2", false],
    ["0.0.3", "^0.0.3", true],
    ["0.0.4", "^0.0.3", false],
    ["1.2.9", "~1.2.3", true],
    ["1.3.0", "~1.2.3", false],
    ["2.5.0", ">=1 <3", true],
    ["3.0.0", ">=1 <3", false],
    ["1.9.9", "1.x", true],
    ["2.0.0", "1.x || 3.x", false],
    ["3.1.0", "1.x || 3.x", true],
    ["5.0.0", "*", true],
    ["1.5.0", "1.0.0 - 2.0.0", true],
    ["2.0.1", "1.0.0 - 2.0.0", false],
    ["1.0.0-beta.2", "^1.0.0-beta.1", true],
    ["0.1.0", ">= 0.1.0", true],
  ];
  for (const [version, range, expected] of cases)
    assert.is(satisfies(version, range), expected, `${version} in ${range}`);
  assert.is(satisfies("1.0.0", "file:../sdk"), undefined, "not a range: not judged");
  assert.is(satisfies("1.0.0", "latest"), undefined);
  assert.equal(minVersion("^1.2"), { major: 1, minor: 2, patch: 0, pre: "" });
  assert.equal(minVersion(">2.1.3"), { major: 2, minor: 1, patch: 4, pre: "" });
  assert.equal(minVersion("^3 || ^2.5"), { major: 2, minor: 5, patch: 0, pre: "" });
});

test("compatibility: outside the peer range is a refusal naming both versions; a newer major than built for, a warning", () => {
  const refused = checkCompatibility(
    pkg("@me/old", { version: "1.0.0", peerDependencies: { "@interloper/sdk": "^9.0.0" } }),
    "0.1.0",
  );
  assert.equal(refused, {
    refused: "@me/old@1.0.0 needs @interloper/sdk ^9.0.0, but this interloper has @interloper/sdk 0.1.0",
  });
  const older = pkg("@me/wide", {
    version: "2.0.0",
    peerDependencies: { "@interloper/sdk": ">=1" },
    devDependencies: { "@interloper/sdk": "^1.4.0" },
  });
  const warned = checkCompatibility(older, "2.3.0");
  assert.ok(warned && "warning" in warned);
  assert.match(
    warned.warning,
    /^@me\/wide@2\.0\.0 was built for @interloper\/sdk 1\.4\.0; this interloper has 2\.3\.0, a newer major/,
  );
  assert.is(checkCompatibility(older, "1.9.0"), undefined, "the same major: nothing to say");
  assert.is(checkCompatibility(pkg("plain", { version: "1.0.0" }), "0.1.0"), undefined, "no sdk range: not judged");
  assert.is(
    checkCompatibility(pkg("linked", { peerDependencies: { "@interloper/sdk": "file:../sdk" } }), "0.1.0"),
    undefined,
  );
});

test("-s NAME: the project's package first, then the addon home's; a miss names both places", () => {
  const project = join(work, "lookup", "project");
  const home = join(work, "lookup", "home");
  const nested = join(project, "src", "deep");
  mkdirSync(nested, { recursive: true });
  addonPackage(join(project, "node_modules"), "@me/both", "1.0.0", "project");
  addonPackage(join(home, "node_modules"), "@me/both", "2.0.0", "home");
  addonPackage(join(home, "node_modules"), "only-home", "1.0.0", "home");
  const both = resolveScript("@me/both", nested, home);
  assert.is(both.from, "project", "found from a subfolder, as Node finds packages");
  assert.is(both.pkg?.version, "1.0.0");
  assert.is(both.entry, join(project, "node_modules/@me/both/index.js"));
  const homeOnly = resolveScript("only-home", project, home);
  assert.is(homeOnly.from, "home");
  assert.is(homeOnly.entry, join(home, "node_modules/only-home/index.js"));
  try {
    resolveScript("@me/missing", project, home);
    assert.unreachable("a missing package is an error");
  } catch (err) {
    assert.is(
      (err as Error).message,
      `script not found: @me/missing (no such file, and no npm package @me/missing in this project or in the addon home ${home} (interloper install @me/missing puts it there))`,
    );
  }
});

test("a package's entry: exports with ESM or CommonJS conditions (types skipped), subpaths, main, index.js", () => {
  const nm = join(work, "entries", "node_modules");
  const files = (name: string, manifest: object, rels: string[]) =>
    writeFiles(join(nm, name), {
      "package.json": JSON.stringify({ name, version: "1.0.0", ...manifest }),
      ...Object.fromEntries(rels.map((r) => [r, "export default {};\n"])),
    });
  files("esm-only", { exports: { ".": { types: "./index.d.ts", import: "./esm/index.mjs" } } }, [
    "esm/index.mjs",
    "index.d.ts",
  ]);
  files("conditions", { exports: { require: "./cjs.cjs", import: "./esm.mjs" } }, ["cjs.cjs", "esm.mjs"]);
  files("subpaths", { exports: { ".": "./main.js", "./extra": { default: "./extra/index.ts" } } }, [
    "main.js",
    "extra/index.ts",
  ]);
  files("by-main", { main: "lib/start" }, ["lib/start.js"]);
  files("bare", {}, ["index.js"]);
  const entry = (spec: string) => resolveScript(spec, join(work, "entries"), undefined).entry.slice(nm.length + 1);
  assert.is(entry("esm-only"), "esm-only/esm/index.mjs");
  assert.is(entry("conditions"), "conditions/cjs.cjs", "the package's own order of conditions");
  assert.is(entry("subpaths"), "subpaths/main.js");
  assert.is(entry("subpaths/extra"), "subpaths/extra/index.ts");
  assert.is(entry("by-main"), "by-main/lib/start.js");
  assert.is(entry("bare"), "bare/index.js");
});

test("the loader refuses a package outside its sdk range: one message naming both versions", async () => {
  const confdir = join(work, "refuse-conf");
  addonPackage(join(confdir, "addons", "node_modules"), "@me/old", "1.0.0", "old", {
    peerDependencies: { "@interloper/sdk": "^9.0.0" },
  });
  try {
    const h = await scriptHost({ scripts: ["@me/old"] }, confdir);
    hosts.push(h);
    assert.unreachable("the package was loaded");
  } catch (err) {
    assert.is(
      (err as Error).message,
      `cannot load script @me/old: @me/old@1.0.0 needs @interloper/sdk ^9.0.0, but this interloper has @interloper/sdk ${SDK_VERSION}`,
    );
  }
});

test("a package in the addon home reloads when npm replaces it (a new version, then an uninstall)", async () => {
  const confdir = join(work, "update-conf");
  const nm = join(confdir, "addons", "node_modules");
  addonPackage(nm, "@me/live", "1.0.0", "one");
  writeFileSync(join(nm, ".package-lock.json"), "{}\n");
  const h = await scriptHost({ scripts: ["@me/live"] }, confdir);
  hosts.push(h);
  assert.is((await h.http()).metadata.v, "one");
  assert.match(h.messages("info").join("\n"), /loaded @me\/live 1\.0\.0 \(addon home\)/);
  await settle(h, join(nm, ".package-lock.json"));
  // As npm does: the new version is unpacked beside the old folder, moved into place, then its record rewritten.
  const staged = addonPackage(join(confdir, "staging"), "@me/live", "1.1.0", "two");
  rmSync(join(nm, "@me/live"), { recursive: true });
  renameSync(staged, join(nm, "@me/live"));
  writeFileSync(join(nm, ".package-lock.json"), `{"v": 2}\n`);
  await waitFor(() => h.messages("info").find((m) => m.includes("reloaded @me/live 1.1.0 (addon home)")), "the reload");
  assert.is((await h.http()).metadata.v, "two");
  // Uninstalled: unloaded once the home has settled without it.
  rmSync(join(nm, "@me/live"), { recursive: true });
  writeFileSync(join(nm, ".package-lock.json"), `{"v": 3}\n`);
  await waitFor(() => h.messages("info").find((m) => m.includes("@me/live is no longer installed")), "the unload");
  assert.is((await h.http()).metadata.v, undefined);
  assert.equal(h.messages("error"), []);
});

test.run();
