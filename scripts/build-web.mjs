// Builds the web UI (addons/web/ui/) into dist/web/: index.html and assets/app.js + app.css, bundled
// and minified by esbuild, no CDN and nothing inline (the server's Content-Security-Policy allows
// only its own scripts and styles). The sdk's filter compiler is bundled in (the flow list filters in
// the browser), with browser stand-ins for the two Node pieces it touches (node:net's isIP, a little of Buffer).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

/** @param {string} root the repository root, ending in a slash */
export async function buildWebUi(root) {
  const ui = `${root}addons/web/ui`;
  mkdirSync(`${root}dist/web/assets`, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: `${ui}/src/main.tsx` },
    outdir: `${root}dist/web/assets`,
    bundle: true,
    minify: true,
    sourcemap: "linked",
    format: "esm",
    platform: "browser",
    target: ["chrome109", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    // The UI uses the sdk's filter compiler only: "@interloper/sdk" is its part of the sdk here (a name the
    // UI takes from anywhere else in the sdk fails the build), typed against the whole sdk by the tsconfig.
    alias: { "@interloper/sdk": `${root}sdk/src/filter/index.ts`, "node:net": `${ui}/shims/node-net.ts` },
    inject: [`${ui}/shims/buffer.ts`],
    tsconfig: `${ui}/tsconfig.json`,
    legalComments: "linked",
    logLevel: "warning",
  });
  copyFileSync(`${ui}/index.html`, `${root}dist/web/index.html`);
}
