import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Message } from "esbuild";

/** A script bundled into one CommonJS function body. */
export interface Bundle {
  code: string;
  /** The source map of `code`. */
  map: object;
  /** The local files the script consists of (absolute paths): what to watch. */
  inputs: string[];
  /** A hash of the inputs' contents: an unchanged save changes nothing. */
  contentHash: string;
}

/** A script that does not build: the message names `file:line:column`. */
export class ScriptBuildError extends Error {}

/**
 * Bundles a TypeScript or JavaScript file with its local imports; npm imports
 * stay external and are resolved from the script's folder at run time.
 */
export async function bundleScript(path: string): Promise<Bundle> {
  const dir = dirname(path);
  // Loaded on first use: a proxy without scripts does not carry the bundler.
  const { build } = await import("esbuild");
  let result;
  try {
    result = await build({
      entryPoints: [path],
      absWorkingDir: dir,
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      write: false,
      sourcemap: "external",
      outfile: `${path}.bundle.js`,
      sourcesContent: false,
      packages: "external",
      metafile: true,
      logLevel: "silent",
      // Scripts run inside the proxy: keep names for readable stack traces.
      keepNames: true,
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (errors && errors.length > 0) throw new ScriptBuildError(errors.map((e) => formatMessage(e, dir)).join("; "));
    throw new ScriptBuildError((err as Error).message);
  }
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))!;
  const mapFile = result.outputFiles.find((f) => f.path.endsWith(".map"))!;
  // The script's own files: for a script inside an installed package, that package's files too
  // (so an addon in the addon home reloads when they change), but never its dependencies'.
  const base = installedPackageRoot(path);
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => (isAbsolute(p) ? p : resolve(dir, p)))
    .filter((p) => !(base && p.startsWith(base) ? p.slice(base.length) : p).includes("/node_modules/"));
  const hash = createHash("sha256");
  for (const file of [...inputs].sort()) {
    hash.update(file);
    try {
      hash.update(readFileSync(file));
    } catch {
      // A file that vanished mid-build changes the hash on the next build anyway.
    }
  }
  return {
    code: js.text.replace(/\/\/# sourceMappingURL=.*\s*$/, ""),
    map: JSON.parse(mapFile.text) as object,
    inputs,
    contentHash: hash.digest("hex"),
  };
}

/** The folder of the installed package a file is in (`…/node_modules/@scope/name`), or "" outside node_modules. */
function installedPackageRoot(file: string): string {
  // Greedy: the last node_modules is the one the file's own package sits in.
  return /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1] ?? "";
}

function formatMessage(m: Message, dir: string): string {
  if (!m.location) return m.text;
  const file = isAbsolute(m.location.file) ? m.location.file : resolve(dir, m.location.file);
  return `${file}:${m.location.line}:${m.location.column + 1}: ${m.text}`;
}
