// Sharing addons on npm, as a user does it, against a real registry on loopback (verdaccio, see
// test/helpers/local-registry.ts): @interloper/sdk and interloper are published from a copy of
// this tree (their prepack builds them), `npm install -g interloper` puts `interloper` on the
// PATH (a temp global prefix), `interloper new-addon @test/hello` scaffolds a package whose
// `npm install && npm test && npm publish` pass, `interloper install` puts it and two plain
// JavaScript addons (ESM, CommonJS) into the addon home, and `interloper -s NAME` from another
// folder runs them; `interloper install` of a new version reloads the running proxy.
// Nothing reaches a registry but the local one; the machine's global prefix and ~/.npmrc are untouched.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, removeDir, ROOT, startOrigin, tempDir, WAIT_MS, type Origin } from "../helpers/harness.ts";
import { startLocalRegistry, type LocalRegistry, type RunResult } from "../helpers/local-registry.ts";

/**
 * What the published packages need from the registry besides themselves (interloper's runtime
 * dependencies, read from its package.json so a new one is never missed), and what a scaffolded
 * addon's tools need.
 */
const SEED = [
  ...Object.keys(
    (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
      .dependencies,
  ).filter((name) => name !== "@interloper/sdk"),
  "tsx",
  "typescript",
  "uvu",
  "@types/node",
];

const work = tempDir("interloper-registry-");
let reg: LocalRegistry;
let origin: Origin;
const timings: string[] = [];

async function step(what: string, command: string, args: string[], cwd: string): Promise<RunResult> {
  const t0 = Date.now();
  const r = await reg.run(command, args, cwd);
  timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.is(r.code, 0, `${what} failed:\n${r.out}`);
  return r;
}

/** A copy of the sources a package build needs, sharing this checkout's node_modules: the repository's own dist/ stays as it is. */
function copyOfTree(): string {
  const copy = join(work, "tree");
  const skip = /\/(node_modules|dist)(\/|$)/;
  for (const entry of ["core", "addons", "sdk", "scripts", "package.json", "README.md", "tsconfig.json"]) {
    cpSync(join(ROOT, entry), join(copy, entry), {
      recursive: true,
      filter: (src) => !skip.test(src.slice(ROOT.length)),
    });
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  return copy;
}

function folder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writePackage(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

/** Seeding runs beside the first publications (they need none of it); installing waits for it. */
let seeded: Promise<void>;

test.before(async () => {
  const t0 = Date.now();
  reg = await startLocalRegistry(folder("registry"));
  // The global binary's `#!/usr/bin/env node` must find this node.
  reg.env.PATH = `${join(reg.prefix, "bin")}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
  seeded = reg.seed(SEED, ROOT).then((names) => {
    timings.push(`${names.length} packages seeded ${((Date.now() - t0) / 1000).toFixed(1)} s after start`);
  });
  // Settled here too, so a failure is reported by the test that waits for it, not as an unhandled rejection.
  seeded.catch(() => undefined);
  origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
});

test.after(async () => {
  await origin?.close();
  await reg?.close();
  removeDir(work);
  console.log(`registry end-to-end: ${timings.join(", ")}`);
});

test("@interloper/sdk and interloper publish from a fresh tree: prepack builds each, the tarballs hold what runs", async () => {
  const tree = copyOfTree();
  await step("publish @interloper/sdk", "npm", ["publish"], join(tree, "sdk"));
  await step("publish interloper", "npm", ["publish"], tree);
  const sdk = (await reg.packument("@interloper/sdk")) as { versions: Record<string, { types?: string }> };
  assert.equal(Object.keys(sdk.versions), ["0.1.0"]);
  assert.is(sdk.versions["0.1.0"]!.types, "./dist/index.d.ts");
  const interloper = (await reg.packument("interloper")) as {
    versions: Record<string, { dependencies: Record<string, string>; bin: Record<string, string> }>;
  };
  const published = interloper.versions["0.1.0"]!;
  assert.is(published.dependencies["@interloper/sdk"], "0.1.0", "interloper depends on the sdk of its own version");
  assert.equal(published.bin, { interloper: "dist/cli.js" });
});

test("npm install -g interloper puts interloper on the PATH (a temp prefix), runnable without this repository", async () => {
  await seeded;
  await step("npm install -g interloper", "npm", ["install", "-g", "interloper"], folder("anywhere"));
  const r = await step("interloper --version", "interloper", ["--version"], folder("anywhere"));
  assert.is(r.out.trim().split("\n").pop(), "0.1.0");
  const bin = readFileSync(join(reg.prefix, "lib/node_modules/interloper/package.json"), "utf8");
  assert.match(bin, /"name": "interloper"/);
});

test("interloper new-addon @test/hello: npm install, npm test and npm publish pass as scaffolded", async () => {
  const parent = folder("projects");
  await step("interloper new-addon", "interloper", ["new-addon", "@test/hello"], parent);
  const dir = join(parent, "hello");
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  assert.is(pkg.name, "@test/hello");
  assert.equal(pkg.peerDependencies, { "@interloper/sdk": "^0.1.0" });
  assert.not.match(JSON.stringify(pkg), /file:|\/tmp\/|\/work\//, "no machine paths");
  await step("npm install (scaffold)", "npm", ["install"], dir);
  const tested = await step("npm test (scaffold)", "npm", ["test"], dir);
  assert.match(tested.out, /Passed:\s+2/);
  await step("npm publish (scaffold)", "npm", ["publish"], dir);
});

test("plain JavaScript addons (ESM and CommonJS) publish, and interloper install puts all three into the addon home", async () => {
  const peer = { "@interloper/sdk": "^0.1.0" };
  const esm = folder("esm-addon");
  writePackage(esm, {
    "package.json": JSON.stringify({
      name: "@test/esm-addon",
      version: "1.0.0",
      type: "module",
      exports: "./index.js",
      keywords: ["interloper-addon"],
      peerDependencies: peer,
    }),
    "index.js": `import { Response } from "@interloper/sdk";\nimport { word } from "./word.js";\nexport default { name: "esm-addon", request(flow) { if (flow.request.path === "/esm") flow.response = Response.make(200, word); } };\n`,
    "word.js": `export const word = "esm module";\n`,
  });
  const cjs = folder("cjs-addon");
  writePackage(cjs, {
    "package.json": JSON.stringify({
      name: "@test/cjs-addon",
      version: "1.0.0",
      main: "lib/index.js",
      keywords: ["interloper-addon"],
      peerDependencies: peer,
    }),
    "lib/index.js": `const { Response } = require("@interloper/sdk");\nmodule.exports = { name: "cjs-addon", request(flow) { if (flow.request.path === "/cjs") flow.response = Response.make(200, "commonjs"); } };\n`,
  });
  await step("npm publish (esm)", "npm", ["publish"], esm);
  await step("npm publish (cjs)", "npm", ["publish"], cjs);
  const installed = await step(
    "interloper install",
    "interloper",
    ["install", "@test/hello", "@test/esm-addon", "@test/cjs-addon"],
    folder("anywhere"),
  );
  assert.match(installed.out, /installed @test\/hello 0\.1\.0: interloper -s @test\/hello loads it/);
  const listed = await step("interloper list", "interloper", ["list"], folder("anywhere"));
  for (const line of [
    /@test\/cjs-addon 1\.0\.0/,
    /@test\/esm-addon 1\.0\.0/,
    /@test\/hello\s+0\.1\.0\s+An interloper addon/,
  ])
    assert.match(listed.out, line);
  assert.match(listed.out, join(reg.home, ".interloper", "addons"));
});

test("interloper -s NAME from another folder runs the addons of the addon home; installing a new version reloads it", async () => {
  const proxy = await startGlobalInterloper(
    ["-s", "@test/hello", "-s", "@test/esm-addon", "-s", "@test/cjs-addon"],
    folder("elsewhere"),
  );
  try {
    const get = async (path: string, extra: string[] = []) =>
      (
        await curl(["-x", `http://127.0.0.1:${proxy.port}`, ...extra, `http://127.0.0.1:${origin.port}${path}`])
      ).stdout.toString();
    assert.is(await get("/hello/ping"), "pong\n");
    assert.is(await get("/esm"), "esm module");
    assert.is(await get("/cjs"), "commonjs");
    assert.match(await get("/other", ["-D", "-"]), /x-addon: hello/i);
    assert.match(proxy.out(), /loaded @test\/hello 0\.1\.0 \(addon home\)/);

    // A new version: published, then installed into the home while the proxy runs.
    const dir = join(work, "projects", "hello");
    const source = readFileSync(join(dir, "src/index.ts"), "utf8");
    writeFileSync(join(dir, "src/index.ts"), source.replace('"pong\\n"', '"pong 0.2.0\\n"'));
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
    writeFileSync(join(dir, "package.json"), JSON.stringify({ ...manifest, version: "0.2.0" }, null, 2));
    await step("npm publish 0.2.0", "npm", ["publish"], dir);
    await step("interloper install @0.2.0", "interloper", ["install", "@test/hello@0.2.0"], folder("anywhere"));
    await proxy.waitFor(/reloaded @test\/hello 0\.2\.0 \(addon home\)/);
    assert.is(await get("/hello/ping"), "pong 0.2.0\n");
  } finally {
    await proxy.stop();
  }
  await step("interloper uninstall", "interloper", ["uninstall", "@test/cjs-addon"], folder("anywhere"));
  const listed = await step("interloper list", "interloper", ["list"], folder("anywhere"));
  assert.not.match(listed.out, /cjs-addon/);
});

interface GlobalProxy {
  port: number;
  out(): string;
  waitFor(re: RegExp): Promise<void>;
  stop(): Promise<void>;
}

/** The globally installed `interloper`, on loopback, with the registry's environment (its HOME holds the addon home). */
async function startGlobalInterloper(args: string[], cwd: string): Promise<GlobalProxy> {
  const child: ChildProcess = spawn("interloper", ["-p", "0", "--listen-host", "127.0.0.1", ...args], {
    cwd,
    env: reg.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${re}; got:\n${out}`));
      }, WAIT_MS);
      const check = () => {
        if (!re.test(out) && child.exitCode === null) return;
        clearTimeout(timer);
        waiters.delete(check);
        if (re.test(out)) resolve();
        else reject(new Error(`interloper exited (${child.exitCode}) without printing ${re}:\n${out}`));
      };
      waiters.add(check);
      child.once("exit", check);
      check();
    });
  await waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/);
  const port = Number(/listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
  return {
    port,
    out: () => out,
    waitFor,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

test.run();
