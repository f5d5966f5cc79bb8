#!/usr/bin/env node
// Builds dist/cli.js (the proxy, sdk bundled in) and sdk/dist (the published sdk: ESM + .d.ts).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";

const root = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
// yargs is bundled: loaded from node_modules, its dependency graph costs the running proxy ~12 MB
// of memory, bundled ~6 MB (the difference is mostly a huge emoji regex literal in string-width's
// dependencies that V8 validates at load, which esbuild turns into a RegExp made on first use).
/** `string-width` (for yargs' help text) resolves to a shim that loads it on first use. */
const lazyStringWidth = {
  name: "lazy-string-width",
  setup(b) {
    const shim = `${root}scripts/lazy-string-width.cjs`;
    b.onResolve({ filter: /^string-width$/ }, (args) => (args.importer === shim ? undefined : { path: shim }));
  },
};
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => d !== "yargs");

/**
 * yargs finds its locale files (and the package.json it reads) from the URL of its platform shim:
 * keep that URL pointing into node_modules/yargs, so messages follow LANG exactly as unbundled.
 */
const yargsShimUrl = {
  name: "yargs-shim-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, async (args) => ({
      contents: (await readFile(args.path, "utf8")).replaceAll(
        "import.meta.url",
        'new URL("lib/platform-shims/esm.mjs", import.meta.resolve("yargs/package.json")).href',
      ),
      loader: "js",
    }));
  },
};
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
    plugins: [yargsShimUrl, lazyStringWidth],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: "warning",
  };
  await build({ ...common, entryPoints: ["core/cli/main.ts"], outfile: "dist/cli.js" });
  // The spliced relay's worker thread: core/platform/splice.ts finds it next to the bundle.
  await build({ ...common, entryPoints: ["core/platform/splice-worker.ts"], outfile: "dist/splice-worker.js" });
  chmodSync(`${root}dist/cli.js`, 0o755);
}

if (onlySdk || process.argv.includes("--all")) {
  rmSync(`${root}sdk/dist`, { recursive: true, force: true });
  await build({
    absWorkingDir: `${root}sdk`,
    entryPoints: ["src/index.ts", "src/testing.ts", "src/host-entry.ts", "src/hosts-entry.ts"],
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
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}sdk/tsconfig.build.json`], {
    stdio: "inherit",
  });
}
