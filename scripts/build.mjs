#!/usr/bin/env node
// Builds dist/cli.js (the proxy, sdk bundled in) and sdk/dist (the published sdk: ESM + .d.ts).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
const external = [...Object.keys(pkg.dependencies ?? {}), "yargs/*"];
const onlySdk = process.argv.includes("--sdk");

if (!onlySdk) {
  rmSync(`${root}dist`, { recursive: true, force: true });
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    external,
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning",
  };
  await build({ ...common, entryPoints: ["core/cli.ts"], outfile: "dist/cli.js" });
  // The spliced relay's worker thread: core/splice.ts finds it next to the bundle.
  await build({ ...common, entryPoints: ["core/splice-worker.ts"], outfile: "dist/splice-worker.js" });
  chmodSync(`${root}dist/cli.js`, 0o755);
}

if (onlySdk || process.argv.includes("--all")) {
  rmSync(`${root}sdk/dist`, { recursive: true, force: true });
  await build({
    absWorkingDir: `${root}sdk`,
    entryPoints: ["src/index.ts", "src/testing.ts"],
    outdir: "dist",
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    external: ["eventemitter3"],
    logLevel: "warning",
  });
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}sdk/tsconfig.build.json`], { stdio: "inherit" });
}
