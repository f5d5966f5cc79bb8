// What npm would publish, checked without a registry (test/e2e/registry.test.ts publishes and
// installs them for real): interloper's tarball holds the bundle and its workers and imports
// nothing at run time but Node's modules and its declared dependencies; the sdk's holds its
// build with types; their versions are one; and `interloper new-addon` writes a package with
// its scope, a peer range on the sdk, the addon keyword, and no path of this machine.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import ts from "typescript";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SDK_VERSION } from "@interloper/sdk";
import { removeDir, ROOT, tempDir } from "../helpers/harness.ts";

const work = tempDir("interloper-packages-");
const TSX = import.meta.resolve("tsx");

interface Manifest {
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Manifest;
const root = readJson(join(ROOT, "package.json"));
const sdk = readJson(join(ROOT, "sdk/package.json"));

/** The files `npm pack` would put in the package's tarball (its prepack build not run: the build is checked as it is). */
function packedFiles(dir: string): string[] {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir, encoding: "utf8" });
  return (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path).sort();
}

/** The bare module names a built file loads at run time (imports, dynamic imports, require calls), read by the TypeScript compiler: never text inside strings. */
function runtimeImports(file: string): Set<string> {
  const names = new Set<string>();
  for (const { fileName: spec } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
    if (spec.startsWith(".") || spec.startsWith("/")) continue;
    names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
  }
  return names;
}

function isBuiltin(name: string): boolean {
  return name.startsWith("node:") || builtinModules.includes(name);
}

test.before(() => {
  // npm test builds first; a file run on its own builds what it checks.
  if (!existsSync(join(ROOT, "dist/cli.js")))
    execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs")], { cwd: ROOT });
  if (!existsSync(join(ROOT, "sdk/dist/index.js")))
    execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--sdk"], { cwd: ROOT });
});
test.after(() => removeDir(work));

test("interloper, @interloper/sdk and SDK_VERSION are one version; interloper depends on exactly that sdk", () => {
  assert.is(sdk.version, root.version);
  assert.is(SDK_VERSION, root.version);
  assert.is(root.dependencies?.["@interloper/sdk"], root.version);
  for (const m of [root, sdk]) {
    assert.ok((m.engines as { node?: string } | undefined)?.node, "engines.node");
    assert.ok((m.scripts as Record<string, string>).prepack?.includes("build.mjs"), "a prepack that builds");
  }
});

test("interloper's tarball: the bundle, its worker threads and the README; no sources, tests or build scripts", () => {
  const files = packedFiles(ROOT);
  for (const f of ["README.md", "package.json", "dist/cli.js", "dist/splice-worker.js", "dist/typecheck-worker.js"])
    assert.ok(files.includes(f), `${f} is packed`);
  const stray = files.filter((f) => !f.startsWith("dist/") && f !== "README.md" && f !== "package.json");
  assert.equal(stray, []);
  assert.is(root.bin && (root.bin as Record<string, string>).interloper, "dist/cli.js");
  assert.ok(statSync(join(ROOT, "dist/cli.js")).mode & 0o100, "the binary is executable");
});

test("what interloper runs imports only Node's modules and its declared dependencies (nothing dev-only)", () => {
  const declared = new Set(Object.keys(root.dependencies ?? {}));
  for (const file of ["dist/cli.js", "dist/splice-worker.js", "dist/typecheck-worker.js"]) {
    const foreign = [...runtimeImports(join(ROOT, file))].filter((n) => !isBuiltin(n) && !declared.has(n));
    assert.equal(foreign, [], `${file} imports undeclared packages`);
  }
  // The type checker finds TypeScript where the script lives (or beside interloper): an optional peer.
  assert.equal(root.peerDependenciesMeta, { typescript: { optional: true } });
});

test("the sdk's tarball: its build, with declarations for every export, and nothing else of the tree", () => {
  const files = packedFiles(join(ROOT, "sdk"));
  const exportsMap = sdk.exports as Record<string, { types?: string; default?: string } | string>;
  for (const [sub, target] of Object.entries(exportsMap)) {
    const paths = typeof target === "string" ? [target] : [target.types!, target.default!];
    for (const p of paths) assert.ok(files.includes(p.replace(/^\.\//, "")), `${sub}: ${p} is packed`);
  }
  assert.equal(
    files.filter((f) => !f.startsWith("dist/") && f !== "README.md" && f !== "package.json"),
    [],
  );
  const deps = new Set(Object.keys(sdk.dependencies ?? {}));
  for (const f of readdirSync(join(ROOT, "sdk/dist")).filter((n) => n.endsWith(".js"))) {
    const foreign = [...runtimeImports(join(ROOT, "sdk/dist", f))].filter((n) => !isBuiltin(n) && !deps.has(n));
    assert.equal(foreign, [], `sdk/dist/${f} imports undeclared packages`);
  }
});

function newAddon(args: string[], cwd: string) {
  return spawnSync(process.execPath, ["--import", TSX, join(ROOT, "core/cli/main.ts"), "new-addon", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json") },
  });
}

test("new-addon @me/scoped-addon: the scope kept, a peer range on this sdk, the keyword, no machine paths", () => {
  const parent = join(work, "scaffolds");
  mkdirSync(parent);
  const made = newAddon(["@me/scoped-addon"], parent);
  assert.is(made.status, 0, made.stderr);
  const dir = join(parent, "scoped-addon");
  assert.match(made.stdout, `created @me/scoped-addon in ${dir}`);
  const pkg = readJson(join(dir, "package.json"));
  assert.is(pkg.name, "@me/scoped-addon");
  assert.equal(pkg.peerDependencies, { "@interloper/sdk": `^${SDK_VERSION}` });
  assert.is(pkg.devDependencies?.["@interloper/sdk"], `^${SDK_VERSION}`);
  assert.ok((pkg.keywords as string[]).includes("interloper-addon"));
  assert.equal(pkg.publishConfig, { access: "public" }, "a scoped package publishes publicly as it is");
  for (const rel of ["package.json", "tsconfig.json", "src/index.ts", "test/index.test.ts", "README.md"]) {
    const text = readFileSync(join(dir, rel), "utf8");
    for (const local of [ROOT, work, "file:", "npmjs.com"]) assert.not.match(text, local, `${rel} mentions ${local}`);
  }
  const readme = readFileSync(join(dir, "README.md"), "utf8");
  for (const step of [
    "npm install && npm test",
    "npm publish",
    "interloper install @me/scoped-addon",
    "interloper -s @me/scoped-addon",
    "interloper -s ./src/index.ts",
  ])
    assert.match(readme, step);
  assert.match(readFileSync(join(dir, "src/index.ts"), "utf8"), /name: "scoped-addon"/);
});

test("new-addon DIR names the package after the folder (or --name); a folder that is not empty is refused", () => {
  const parent = join(work, "paths");
  mkdirSync(parent);
  const plain = newAddon(["./nested/My Addon"], parent);
  assert.is(plain.status, 0, plain.stderr);
  assert.is(readJson(join(parent, "nested/My Addon/package.json")).name, "my-addon");
  const named = newAddon(["./other", "--name", "@me/other-name"], parent);
  assert.is(named.status, 0, named.stderr);
  assert.is(readJson(join(parent, "other/package.json")).name, "@me/other-name");
  const again = newAddon(["./other"], parent);
  assert.is(again.status, 2);
  assert.is(again.stderr, `interloper: new-addon: ${join(parent, "other")} exists and is not empty\n`);
});

test.run();
