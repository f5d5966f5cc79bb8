import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, resolve } from "node:path";
import type { FSWatcher } from "chokidar";
import * as sdk from "@interloper/sdk";
import { OptionError, type Addon, type Loader, type OptionHandle } from "@interloper/sdk";
import { bundleScript, ScriptBuildError, type Bundle } from "./scripts/bundle.ts";
import { evaluateBundle } from "./scripts/evaluate.ts";
import { registerSourceMap, unregisterSourceMap } from "./scripts/stack.ts";

/** How long a burst of file events must be quiet before a rebuild. */
const DEBOUNCE_MS = 60;

interface Script {
  /** What the user wrote (a path or a package name). */
  spec: string;
  /** The file that is bundled. */
  entry: string;
  /** The addon in the chain: a container whose children are the script's exports. */
  container: Addon;
  bundle: Bundle;
  version: number;
  watcher: FSWatcher | undefined;
  /** The files whose changes reload the script. */
  watched: Set<string>;
  watchedDirs: Set<string>;
  timer: NodeJS.Timeout | undefined;
  /** Serialises reloads of this script. */
  queue: Promise<void>;
  state: Record<string, unknown>;
  removed: boolean;
}

/** Fired after every reload attempt (for tests and tools): the script and what happened. */
export type ReloadListener = (event: { spec: string; ok: boolean; error?: string; changed: boolean }) => void;

/**
 * Loads TypeScript/JavaScript addons given with `-s` (option `scripts`):
 * bundled with esbuild, evaluated without `import()` so old versions can be
 * collected, watched with chokidar, swapped in place on save. A broken save
 * is logged with file:line:column and the last good version stays.
 */
export class ScriptLoader implements Addon {
  readonly name = "scriptloader";
  private loader: Loader | undefined;
  private option: OptionHandle<string[]> | undefined;
  private readonly scripts = new Map<string, Script>();
  /** Reload state by script entry, kept when a script is removed and added back. */
  private readonly states = new Map<string, Record<string, unknown>>();
  private readonly listeners = new Set<ReloadListener>();
  private watchEnabled = true;

  /** `watch: false` loads scripts without watching them (one-shot tools). */
  constructor(opts: { watch?: boolean } = {}) {
    this.watchEnabled = opts.watch ?? true;
  }

  onReload(fn: ReloadListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  load(loader: Loader): void {
    this.loader = loader;
    this.option = loader.addOption({
      name: "scripts",
      type: "strings",
      default: [],
      help: "Addon scripts (.ts, .mts, .js, .mjs) or installed npm packages; hot-reloaded on save.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (!this.option || !updated.has("scripts")) return;
    const wanted = this.option.get();
    const entries = new Map<string, string>();
    for (const spec of wanted) {
      const entry = resolveScript(spec);
      if (entries.has(entry)) throw new OptionError(`duplicate script: ${spec}`);
      entries.set(entry, spec);
    }
    for (const [entry, script] of this.scripts) {
      if (!entries.has(entry)) await this.unload(script);
    }
    for (const [entry, spec] of entries) {
      if (this.scripts.has(entry)) continue;
      try {
        await this.loadScript(spec, entry);
      } catch (err) {
        throw new OptionError(`cannot load script ${spec}: ${(err as Error).message}`);
      }
    }
  }

  async done(): Promise<void> {
    for (const script of this.scripts.values()) {
      script.removed = true;
      clearTimeout(script.timer);
      await script.watcher?.close();
    }
  }

  private async loadScript(spec: string, entry: string): Promise<void> {
    const bundle = await bundleScript(entry);
    const state = this.states.get(entry) ?? {};
    this.states.set(entry, state);
    const container = this.instantiate(entry, bundle, 1);
    const script: Script = {
      spec,
      entry,
      container,
      bundle,
      version: 1,
      watcher: undefined,
      watched: new Set(),
      watchedDirs: new Set(),
      timer: undefined,
      queue: Promise.resolve(),
      state,
      removed: false,
    };
    this.scripts.set(entry, script);
    try {
      await this.loader!.addChild(container, { label: basename(entry), state });
    } catch (err) {
      const e = err as Error;
      const where = /:\d+:\d+/.test(e?.message ?? "") ? "" : firstFrame(e?.stack);
      this.scripts.delete(entry);
      unregisterSourceMap(versionedName(entry, 1));
      throw new Error(`${e?.message ?? String(err)}${where}`, { cause: err });
    }
    this.loader!.log.info(`loaded ${spec}`);
    if (this.watchEnabled && !isInNodeModules(entry)) await this.watchInputs(script);
  }

  /** Evaluates a bundle and wraps its default export(s) in a container addon. */
  private instantiate(entry: string, bundle: Bundle, version: number): Addon {
    const filename = versionedName(entry, version);
    registerSourceMap(filename, bundle.map, resolve(entry, ".."));
    let exports: Record<string, unknown>;
    try {
      exports = evaluateBundle(bundle.code, filename, { "@interloper/sdk": sdk });
    } catch (err) {
      // V8 formats the stack on first read: read it while the source map is still registered.
      const e = err as Error;
      const where = firstFrame(e?.stack);
      unregisterSourceMap(filename);
      throw new Error(`${e?.message ?? String(err)}${where}`, { cause: err });
    }
    const def = exports.default ?? (exports.__esModule ? undefined : exports);
    if (
      def === undefined ||
      (typeof def === "object" && def !== null && Object.keys(def).length === 0 && !isAddonLike(def))
    ) {
      unregisterSourceMap(filename);
      throw new Error("it has no default export (export default { name, ...hooks })");
    }
    if (typeof def === "function") {
      unregisterSourceMap(filename);
      throw new Error(
        "its default export is a function or class; export an addon object or instance (export default new MyAddon())",
      );
    }
    const list = Array.isArray(def) ? def : [def];
    for (const a of list) {
      if (a === null || typeof a !== "object" || Array.isArray(a)) {
        unregisterSourceMap(filename);
        throw new Error(
          `its default export is not an addon (got ${a === null ? "null" : Array.isArray(a) ? "a nested array" : typeof a})`,
        );
      }
    }
    return { addons: list as Addon[] };
  }

  /**
   * Watches the folders of the script and its local imports (not the files:
   * an editor that deletes and recreates a file would leave a file watch on
   * the old inode) and reacts to events for those files. Resolves once the
   * watcher is ready, so no save right after loading is missed.
   */
  private async watchInputs(script: Script): Promise<void> {
    const files = new Set([script.entry, ...script.bundle.inputs]);
    const dirs = new Set([...files].map((f) => dirname(f)));
    script.watched = files;
    if (!script.watcher) {
      // Loaded on first use: a proxy without scripts does not carry the watcher.
      const { watch } = await import("chokidar");
      const watcher = watch([...dirs], { ignoreInitial: true, depth: 0, atomic: true, awaitWriteFinish: false });
      script.watcher = watcher;
      script.watchedDirs = dirs;
      watcher.on("all", (event, path) => {
        if (script.watched.has(resolve(path))) this.onFileEvent(script, event, resolve(path));
      });
      watcher.on("error", (err) => this.loader?.log.warn(`watching ${script.spec} failed: ${(err as Error).message}`));
      await new Promise<void>((r) => watcher.once("ready", () => r()));
    } else {
      const add = [...dirs].filter((d) => !script.watchedDirs.has(d));
      const drop = [...script.watchedDirs].filter((d) => !dirs.has(d));
      script.watchedDirs = dirs;
      if (drop.length) script.watcher.unwatch(drop);
      if (add.length) {
        script.watcher.add(add);
        // chokidar reports no readiness for added paths; give its scan a moment before saves count.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onFileEvent(script: Script, event: string, path: string): void {
    if (script.removed) return;
    clearTimeout(script.timer);
    script.timer = setTimeout(() => {
      script.queue = script.queue.then(() => this.reload(script, event === "unlink" && path === script.entry));
    }, DEBOUNCE_MS);
  }

  private async reload(script: Script, maybeDeleted: boolean): Promise<void> {
    if (script.removed) return;
    const log = this.loader!.log;
    if (maybeDeleted && !existsSync(script.entry)) {
      log.info(`${script.spec} was deleted: unloading it`);
      await this.unload(script);
      this.emit({ spec: script.spec, ok: true, changed: true });
      return;
    }
    let bundle: Bundle;
    try {
      bundle = await bundleScript(script.entry);
    } catch (err) {
      const msg = err instanceof ScriptBuildError ? err.message : (err as Error).message;
      log.error(`reloading ${script.spec} failed, the previous version stays active: ${msg}`);
      this.emit({ spec: script.spec, ok: false, error: msg, changed: true });
      return;
    }
    if (bundle.contentHash === script.bundle.contentHash) {
      this.emit({ spec: script.spec, ok: true, changed: false });
      return;
    }
    const version = script.version + 1;
    let container: Addon;
    try {
      container = this.instantiate(script.entry, bundle, version);
      await this.loader!.replaceChild(script.container, container, {
        label: basename(script.entry),
        state: script.state,
      });
    } catch (err) {
      const e = err as Error;
      const msg = `${e.message}${/:\d+:\d+/.test(e.message) ? "" : firstFrame(e.stack)}`;
      unregisterSourceMap(versionedName(script.entry, version));
      log.error(`reloading ${script.spec} failed, the previous version stays active: ${msg}`);
      // Watch new local imports even of a failed version, so fixing them reloads.
      script.bundle = { ...script.bundle, inputs: [...new Set([...script.bundle.inputs, ...bundle.inputs])] };
      await this.watchInputs(script);
      this.emit({ spec: script.spec, ok: false, error: msg, changed: true });
      return;
    }
    unregisterSourceMap(versionedName(script.entry, script.version));
    script.container = container;
    script.bundle = bundle;
    script.version = version;
    await this.watchInputs(script);
    log.info(`reloaded ${script.spec}`);
    this.emit({ spec: script.spec, ok: true, changed: true });
  }

  private async unload(script: Script): Promise<void> {
    script.removed = true;
    clearTimeout(script.timer);
    await script.watcher?.close();
    this.scripts.delete(script.entry);
    await this.loader!.removeChild(script.container);
    unregisterSourceMap(versionedName(script.entry, script.version));
  }

  private emit(event: Parameters<ReloadListener>[0]): void {
    for (const fn of this.listeners) fn(event);
  }
}

/** A file path (absolute or relative to the working directory) or an installed package's entry file. */
export function resolveScript(spec: string): string {
  const asPath = resolve(spec);
  const looksLikePath = spec.startsWith(".") || spec.startsWith("/") || /\.(m?[jt]s|cjs|cts|tsx|jsx)$/.test(spec);
  if (existsSync(asPath)) {
    if (statSync(asPath).isDirectory()) throw new OptionError(`script is a directory: ${spec}`);
    return asPath;
  }
  if (looksLikePath) throw new OptionError(`script not found: ${spec}`);
  try {
    return createRequire(resolve("package.json")).resolve(spec);
  } catch {
    throw new OptionError(`script not found: ${spec} (no such file, and no installed npm package of that name)`);
  }
}

function versionedName(entry: string, version: number): string {
  return version === 1 ? entry : `${entry}#${version}`;
}

function isInNodeModules(path: string): boolean {
  return path.includes("/node_modules/");
}

function isAddonLike(v: object): boolean {
  return "name" in v || sdk.HOOK_NAMES.some((h) => h in v);
}

function firstFrame(stack: string | undefined): string {
  const m = stack ? /\n\s+at (?:.*?\()?([^()\s]+:\d+:\d+)\)?/.exec(stack) : null;
  return m ? ` (at ${m[1]})` : "";
}
