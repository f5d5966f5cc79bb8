// The sdk as a published package, and addon packages: `interloper new-addon`
// scaffolds one whose own tests pass, and the proxy loads it by name.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, removeDir, ROOT, startOrigin, startProxy, tempDir } from "../helpers/harness.ts";

const NPM_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

function npm(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync("npm", [...args], {
    cwd,
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const work = tempDir("interloper-packages-");

test("npm pack of the sdk installs in a separate project, with types, and its harness runs an addon", () => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--sdk"], { cwd: ROOT, stdio: "pipe" });
  const packed = npm(["pack", join(ROOT, "sdk"), "--pack-destination", work], work);
  assert.is(packed.status, 0, packed.out);
  const tgz = readdirSync(work).find((f) => f.startsWith("interloper-sdk-") && f.endsWith(".tgz"));
  assert.ok(tgz, "a tarball was written");
  const project = join(work, "consumer");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }),
  );
  const installed = npm(["install", join(work, tgz), "typescript@5.9", "@types/node@20", ...NPM_FLAGS], project);
  assert.is(installed.status, 0, installed.out);
  writeFileSync(
    join(project, "check.ts"),
    `import { defineAddon, Response, type HTTPFlow } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
const addon = defineAddon({
  name: "teapot",
  request(flow: HTTPFlow) {
    if (flow.request.path === "/tea") flow.response = Response.make(418, "short and stout");
  },
});
const ctx = await testContext(addon);
const flow = await ctx.http(testFlow({ url: "https://example.com/tea" }));
console.log(flow.response?.status, flow.response?.text());
`,
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        outDir: "out",
        types: ["node"],
        skipLibCheck: false,
      },
    }),
  );
  const tsc = spawnSync(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", project], {
    cwd: project,
    encoding: "utf8",
  });
  assert.is(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
  const run = spawnSync(process.execPath, [join(project, "out/check.js")], { cwd: project, encoding: "utf8" });
  assert.is(run.status, 0, run.stderr);
  assert.is(run.stdout.trim(), "418 short and stout");
  const pkg = JSON.parse(readFileSync(join(project, "node_modules/@interloper/sdk/package.json"), "utf8")) as {
    files?: string[];
  };
  assert.ok(pkg.files?.includes("dist"));
});

test("interloper new-addon DIR scaffolds a package whose npm install && npm test pass, and -s NAME loads it", async () => {
  const dir = join(work, "my-addon");
  const made = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "core/cli/main.ts"), "new-addon", dir], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.is(made.status, 0, made.stderr);
  assert.match(made.stdout, /created .*package\.json/);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    peerDependencies: Record<string, string>;
  };
  assert.ok(pkg.peerDependencies["@interloper/sdk"], "a peer dependency on the sdk");
  for (const f of ["src/index.ts", "test/index.test.ts", "README.md"])
    assert.ok(readdirSync(join(dir, f.split("/").slice(0, -1).join("/") || ".")).length > 0, f);
  const installed = npm(["install", ...NPM_FLAGS], dir);
  assert.is(installed.status, 0, installed.out);
  const tested = npm(["test"], dir);
  assert.is(tested.status, 0, tested.out);
  assert.match(tested.out, /Passed:\s+2/);

  // A project that installed the addon package runs the proxy with -s my-addon.
  const project = join(work, "uses-addon");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-addon", version: "1.0.0", private: true }));
  const added = npm(["install", dir, ...NPM_FLAGS], project);
  assert.is(added.status, 0, added.out);
  const origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
  const proxy = await startProxy(["-s", "my-addon"], { cwd: project });
  try {
    const ping = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://localhost:${origin.port}/my-addon/ping`]);
    assert.is(ping.stdout.toString(), "pong\n");
    const passed = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      `http://localhost:${origin.port}/other`,
      "-D",
      "-",
    ]);
    assert.match(passed.stdout.toString(), /X-Addon: my-addon/i);
    assert.match(proxy.stdout(), /\[scriptloader\] loaded my-addon/);
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test.after(() => removeDir(work));
test.run();
