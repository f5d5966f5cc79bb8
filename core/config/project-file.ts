import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { canonicalOptionName, closestName, expandHome } from "@interloper/sdk";
import { addEntry, ConfigError, displayPath, where, type ConfigSource } from "./source.ts";
import { describe } from "./values.ts";

/** The project config's names, in the order they are looked for in the working directory. */
export const PROJECT_FILES = [
  "interloper.config.ts",
  "interloper.config.mts",
  "interloper.config.js",
  "interloper.config.mjs",
] as const;

/** The keys `defineConfig` takes. */
const TOP_KEYS = ["mode", "scripts", "options"];

/**
 * Builds and runs a module (the script loader's esbuild bundle, evaluated with the proxy's own
 * sdk): its exports, and the local files it was built from (what to watch). Injected by the
 * composition root, so the config code needs no bundler of its own.
 */
export type ModuleRunner = (file: string) => Promise<{ exports: Record<string, unknown>; inputs: string[] }>;

/** The project config in `dir`, if there is one. */
export function findProjectFile(dir: string): string | undefined {
  return PROJECT_FILES.map((name) => join(dir, name)).find((file) => existsSync(file));
}

/**
 * Why a project file found in the working directory (not named with --config) must not be run,
 * if it must not: running it runs its code as this user, so it has to be this user's own file in
 * a folder nobody else can write to (else anyone who can drop a file there, as in /tmp, runs code
 * as whoever starts interloper there). Without user ids (Windows) nothing is checked.
 */
export function untrustedProjectFile(file: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const own = statSync(file);
  const dir = statSync(dirname(file));
  if (own.uid !== uid) return `it belongs to user id ${own.uid}, not to you`;
  if (own.mode & 0o022) return "other users can write to it";
  if (dir.uid !== uid && dir.uid !== 0) return `its folder belongs to user id ${dir.uid}`;
  if (dir.mode & 0o022) return "other users can write to its folder";
  return undefined;
}

/** Throws a ConfigError unless `file` (found in the working directory) may be run. */
export function checkProjectFile(file: string): void {
  const why = untrustedProjectFile(file);
  if (why === undefined) return;
  throw new ConfigError(`${displayPath(file)}: not loaded: ${why} (give it with --config to run it anyway)`);
}

/**
 * Loads `interloper.config.ts` (or .mts/.js/.mjs): `export default defineConfig({ mode, scripts,
 * options })`. `mode` and `scripts` are the options of those names; `scripts` that are paths are
 * taken relative to the config file's folder. Lines are found in the file's text (a key written
 * `name:` or `"name":`), so an unknown option can be shown where it is.
 */
export async function loadProjectConfig(
  file: string,
  run: ModuleRunner,
): Promise<{ source: ConfigSource; inputs: string[] }> {
  let loaded;
  try {
    loaded = await run(file);
  } catch (err) {
    throw new ConfigError(`${displayPath(file)}: cannot load it: ${(err as Error)?.message ?? String(err)}`);
  }
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // Gone since it was built: the entries just have no lines.
  }
  const exported = loaded.exports.default ?? (loaded.exports.__esModule ? undefined : loaded.exports);
  return { source: projectSource(file, exported, text), inputs: loaded.inputs };
}

/** The entries of a project config's default export (`text`, the file's source, gives the lines). */
export function projectSource(file: string, config: unknown, text: string): ConfigSource {
  const source: ConfigSource = { file, entries: new Map() };
  if (!isPlainObject(config)) {
    throw new ConfigError(
      `${displayPath(file)}: expected a default export of defineConfig({ mode, scripts, options }), found ${describe(config)}`,
    );
  }
  const lineOf = (key: string) => keyLine(text, key);
  const optionLine = (key: string) => keyLine(text, key, "options");
  for (const key of Object.keys(config)) {
    if (TOP_KEYS.includes(key)) continue;
    const meant = closestName(key, TOP_KEYS);
    throw new ConfigError(
      `${where(file, lineOf(key))}: unknown key '${key}' (${meant ? `did you mean ${meant}?` : "expected mode, scripts or options"})`,
    );
  }
  if (config.mode !== undefined)
    addEntry(source, { name: "mode", key: "mode", value: config.mode, line: lineOf("mode") });
  if (config.scripts !== undefined) {
    const value = Array.isArray(config.scripts)
      ? (config.scripts as unknown[]).map((spec) => (typeof spec === "string" ? scriptPath(spec, dirname(file)) : spec))
      : config.scripts;
    addEntry(source, { name: "scripts", key: "scripts", value, line: lineOf("scripts") });
  }
  if (config.options !== undefined) {
    if (!isPlainObject(config.options)) {
      throw new ConfigError(`${where(file, lineOf("options"))}: options must be an object of option names and values`);
    }
    for (const [key, value] of Object.entries(config.options)) {
      if (value === undefined) continue;
      addEntry(source, { name: canonicalOptionName(key), key, value, line: optionLine(key) });
    }
  }
  return source;
}

/** A script given as a path, made absolute against the config's folder; a package name stays as it is. */
function scriptPath(spec: string, dir: string): string {
  if (spec === "~" || spec.startsWith("~/")) return expandHome(spec);
  const looksLikePath = spec.startsWith("./") || spec.startsWith("../") || /\.(m?[jt]s|c[jt]s|[jt]sx)$/.test(spec);
  return looksLikePath && !isAbsolute(spec) ? resolve(dir, spec) : spec;
}

/**
 * The 1-based line of the property `key` (bare or quoted) in `text`: of its shallowest
 * occurrence, or with `inside`, of its first occurrence directly in the object that property
 * `inside` holds (`options: { … }`). Comments and string contents are not searched, so a key
 * named in a comment or a value, or a nested object's key of the same name, is not taken.
 */
export function keyLine(text: string, key: string, inside?: string): number | undefined {
  const code = codeOf(text);
  const found = keyPositions(code, key);
  let hit: { at: number; depth: number } | undefined;
  if (inside === undefined) {
    for (const f of found) if (!hit || f.depth < hit.depth) hit = f;
  } else {
    const span = objectSpan(code, inside);
    if (!span) return undefined;
    hit = found.find((f) => f.at > span.open && f.at < span.close && f.depth === span.depth + 1);
  }
  if (!hit) return undefined;
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < hit.at; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Each place `key:` is written as a property in `code`, with its bracket depth. */
function keyPositions(code: string, key: string): Array<{ at: number; depth: number }> {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`(^|[\\s{,])(["'\`]?)${escaped}\\2\\s*:`, "gm");
  const depths = depthsOf(code);
  const out: Array<{ at: number; depth: number }> = [];
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const at = m.index + m[1]!.length;
    out.push({ at, depth: depths[at]! });
  }
  return out;
}

/** The braces of the object the shallowest property `name` holds, and that property's depth. */
function objectSpan(code: string, name: string): { open: number; close: number; depth: number } | undefined {
  const at = keyPositions(code, name).reduce<{ at: number; depth: number } | undefined>(
    (best, f) => (!best || f.depth < best.depth ? f : best),
    undefined,
  );
  if (!at) return undefined;
  const open = code.indexOf("{", at.at);
  if (open === -1) return undefined;
  const depths = depthsOf(code);
  let close = open + 1;
  while (close < code.length && !(code[close] === "}" && depths[close] === at.depth)) close++;
  return { open, close, depth: at.depth };
}

/** The bracket depth ({ [ () before each character. */
function depthsOf(code: string): number[] {
  const depths: number[] = [];
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i];
    if (ch === "}" || ch === "]" || ch === ")") depth--;
    depths.push(depth);
    if (ch === "{" || ch === "[" || ch === "(") depth++;
  }
  return depths;
}

/**
 * `text` with comments and the contents of strings blanked (line breaks and length kept), except
 * strings written as property names (followed by `:`). Template literals are taken as strings
 * whole; that is enough for finding keys.
 */
function codeOf(text: string): string {
  const out = text.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (ch === '"' || ch === "'" || ch === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== ch) j += text[j] === "\\" ? 2 : 1;
      const isKey = /^\s*:/.test(text.slice(j + 1, j + 40));
      if (!isKey) blank(i + 1, Math.min(j, text.length));
      i = j + 1;
    } else i++;
  }
  return out.join("");
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
