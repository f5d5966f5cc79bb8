#!/usr/bin/env node
// Builds dist/cli.js (the proxy, sdk bundled in) with its worker threads, and sdk/dist (the
// published sdk: ESM + .d.ts). `npm pack` / `npm publish` run it through each package's prepack.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { buildWebUi } from "./build-web.mjs";

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
// The sdk is bundled too: the proxy runs (and hands scripts) exactly the sdk it was built with. The
// package still depends on @interloper/sdk, for its type declarations: scripts are type-checked against them.
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => d !== "yargs" && d !== "@interloper/sdk");

/** interloper, @interloper/sdk and the sdk's SDK_VERSION are one version: an addon's peer range names it. */
function checkVersionsInStep() {
  const sdkPkg = JSON.parse(readFileSync(`${root}sdk/package.json`, "utf8"));
  const constant = /export const SDK_VERSION = "([^"]+)"/.exec(readFileSync(`${root}sdk/src/addon.ts`, "utf8"))?.[1];
  const pinned = pkg.dependencies?.["@interloper/sdk"];
  if (new Set([pkg.version, sdkPkg.version, constant, pinned]).size !== 1) {
    throw new Error(
      `versions out of step: interloper ${pkg.version}, @interloper/sdk ${sdkPkg.version}, SDK_VERSION ${constant}, ` +
        `interloper's dependency on @interloper/sdk ${pinned}: make them equal`,
    );
  }
}
checkVersionsInStep();

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
  // The worker threads, found next to the bundle: the spliced relay's (core/platform/splice.ts)
  // and the script type checker's (addons/scripts/typecheck.ts).
  await build({ ...common, entryPoints: ["core/platform/splice-worker.ts"], outfile: "dist/splice-worker.js" });
  await build({ ...common, entryPoints: ["addons/scripts/typecheck-worker.ts"], outfile: "dist/typecheck-worker.js" });
  chmodSync(`${root}dist/cli.js`, 0o755);
  // The web UI (--web): dist/web/, served by addons/web/server.
  await buildWebUi(root);
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
