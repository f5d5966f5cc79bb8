import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { OptionError } from "@interloper/sdk";

/** The package a script belongs to (its nearest package.json), read fresh from disk. */
export interface ScriptPackage {
  /** The package folder. */
  dir: string;
  name: string;
  version: string;
  manifest: PackageManifest;
}

export interface PackageManifest {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Where `-s SPEC` was found. */
export interface ResolvedScript {
  /** The file to bundle (symlinks resolved). */
  entry: string;
  /** `file` for a path, `project` for a package under the working directory, `home` for the addon home. */
  from: "file" | "project" | "home";
  /** The package the entry belongs to, when it has a package.json with a name. */
  pkg: ScriptPackage | undefined;
}

/**
 * Finds what `-s SPEC` names: a file (absolute, or relative to `cwd`), else an npm package,
 * looked up in the project first (`node_modules` of `cwd` and its parents, as Node does),
 * then in the addon home (`interloper install` puts packages there).
 */
export function resolveScript(spec: string, cwd: string, home: string | undefined): ResolvedScript {
  const asPath = resolve(cwd, spec);
  if (existsSync(asPath)) {
    if (statSync(asPath).isDirectory()) throw new OptionError(`script is a directory: ${spec}`);
    const entry = realpathSync(asPath);
    return { entry, from: "file", pkg: owningPackage(entry) };
  }
  const looksLikePath = spec.startsWith(".") || spec.startsWith("/") || /\.(m?[jt]s|cjs|cts|tsx|jsx)$/.test(spec);
  const name = looksLikePath ? undefined : packageNameOf(spec);
  if (name === undefined) throw new OptionError(`script not found: ${spec}`);
  const subpath = `.${spec.slice(name.length)}`;
  const inProject = findPackage(name, cwd);
  if (inProject) return { entry: packageEntry(inProject, spec, subpath), from: "project", pkg: readPackage(inProject) };
  const inHome = home === undefined ? undefined : findPackageIn(join(home, "node_modules"), name);
  if (inHome) return { entry: packageEntry(inHome, spec, subpath), from: "home", pkg: readPackage(inHome) };
  const where = home === undefined ? "" : ` or in the addon home ${home} (interloper install ${name} puts it there)`;
  throw new OptionError(`script not found: ${spec} (no such file, and no npm package ${name} in this project${where})`);
}

/** `@scope/name` or `name` at the start of a spec (`name/sub/path` names package `name`), if it is one. */
function packageNameOf(spec: string): string | undefined {
  const m = /^(@[a-z0-9][\w.-]*\/[a-z0-9][\w.-]*|[a-z0-9][\w.-]*)(?:\/|$)/i.exec(spec);
  return m?.[1];
}

/** The package folder of `name` as Node would find it from `from`: each folder's node_modules, upwards. */
function findPackage(name: string, from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const found = findPackageIn(join(dir, "node_modules"), name);
    if (found) return found;
    if (dirname(dir) === dir) return undefined;
  }
}

function findPackageIn(nodeModules: string, name: string): string | undefined {
  const dir = join(nodeModules, name);
  return existsSync(join(dir, "package.json")) ? realpathSync(dir) : undefined;
}

/** Conditions of `exports` interloper can run (it bundles the entry, so ESM and CommonJS alike). */
const CONDITIONS = new Set(["interloper", "node", "import", "require", "module", "default"]);

/**
 * The file a package's `exports` (or `main`, or `index.*`) names for `subpath`. Read from disk
 * each time, not through Node's cache, so a package `npm update` changed is seen as it is now.
 */
export function packageEntry(dir: string, spec: string, subpath = "."): string {
  const manifest = readManifest(dir);
  let target: string | undefined;
  if (manifest.exports !== undefined && manifest.exports !== null) {
    target = exportTarget(manifest.exports, subpath);
    if (target === undefined)
      throw new OptionError(`script not found: ${spec} (the package does not export ${subpath})`);
  } else if (subpath !== ".") {
    target = subpath;
  } else {
    target = manifest.main ?? "index.js";
  }
  const base = resolve(dir, target);
  const candidates = [base, `${base}.js`, `${base}.mjs`, `${base}.ts`, join(base, "index.js"), join(base, "index.ts")];
  const file = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!file) throw new OptionError(`script not found: ${spec} (its package names ${target}, which does not exist)`);
  return realpathSync(file);
}

function exportTarget(exports: unknown, subpath: string): string | undefined {
  const isSubpathMap =
    typeof exports === "object" &&
    !Array.isArray(exports) &&
    Object.keys(exports as object).some((k) => k.startsWith("."));
  if (!isSubpathMap) return subpath === "." ? conditionTarget(exports) : undefined;
  return conditionTarget((exports as Record<string, unknown>)[subpath]);
}

/** The first target whose condition interloper accepts, in the order the package lists them. */
function conditionTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const t = conditionTarget(item);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [condition, inner] of Object.entries(value)) {
    if (!CONDITIONS.has(condition)) continue;
    const t = conditionTarget(inner);
    if (t !== undefined) return t;
  }
  return undefined;
}

export function readManifest(dir: string): PackageManifest {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageManifest;
}

function readPackage(dir: string): ScriptPackage | undefined {
  const manifest = readManifest(dir);
  if (typeof manifest.name !== "string") return undefined;
  return { dir, name: manifest.name, version: String(manifest.version ?? "0.0.0"), manifest };
}

/** The package a file belongs to: the nearest folder above it with a package.json that has a name. */
export function owningPackage(file: string): ScriptPackage | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) {
      try {
        const pkg = readPackage(dir);
        if (pkg) return pkg;
      } catch {
        // an unreadable package.json: look further up
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}
