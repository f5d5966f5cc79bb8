import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { FSWatcher } from "chokidar";
import * as sdk from "@interloper/sdk";
import { OptionError, type Addon, type Loader, type OptionHandle } from "@interloper/sdk";
import { bundleScript, ScriptBuildError, type Bundle } from "./scripts/bundle.ts";
import { checkCompatibility } from "./scripts/compat.ts";
import { evaluateBundle } from "./scripts/evaluate.ts";
import { resolveScript as findScript, type ResolvedScript, type ScriptPackage } from "./scripts/resolve.ts";
import { registerSourceMap, unregisterSourceMap } from "./scripts/stack.ts";
import { TypeChecker, type TypeProblem } from "./scripts/typecheck.ts";

/** How long a burst of file events must be quiet before a rebuild. */
const DEBOUNCE_MS = 60;

/**
 * After a reload fails, how long to wait for more of the save before reporting it: an editor
 * that truncates the file and then writes it, or npm replacing a package, leaves a moment in
 * which the files do not build. A save within this time is built instead of the broken state.
 */
const SETTLE_MS = 500;
/** A reload asked for is tried again this many times at most while saves keep landing during its builds. */
const MAX_FORCED_ATTEMPTS = 20;

interface Script {
  /** What the user wrote (a path or a package name). */
  spec: string;
  /** The file that is bundled. */
  entry: string;
  /** Where the spec was found: a path, or a package in the project or in the addon home. */
  from: ResolvedScript["from"];
  pkg: ScriptPackage | undefined;
  /** For a package: npm's record of its node_modules, rewritten by every install, update and uninstall. */
  npmMarker: string | undefined;
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
  /** File events seen so far: a reload compares it to notice a save that went on while it built. */
  changes: number;
  /** Wakes a failed reload that waits for the rest of a save. */
  wake: (() => void) | undefined;
}

/** Fired after every reload attempt (for tests and tools): the script and what happened. */
export type ReloadListener = (event: { spec: string; ok: boolean; error?: string; changed: boolean }) => void;

/** Fired when a type check of a loaded version finished (for tests and tools). */
export type TypecheckListener = (event: { spec: string; problems: TypeProblem[] }) => void;

/** The checker is shared by the loaders of a process (one worker, one compiler state). */
let sharedChecker: { checker: TypeChecker; users: number } | undefined;

/**
 * Loads TypeScript/JavaScript addons given with `-s` (option `scripts`): files, or npm
 * packages of the project or the addon home (`interloper install`). Bundled with esbuild,
 * evaluated without `import()` so old versions can be collected, watched with chokidar,
 * swapped in place on save. A broken save is logged with file:line:column and the last good
 * version stays. After each (re)load of a TypeScript file its type errors are reported
 * (`addon_typecheck`), from a worker thread: they never hold up the reload.
 */
export class ScriptLoader implements Addon {
  readonly name = "scriptloader";
  private loader: Loader | undefined;
  private option: OptionHandle<string[]> | undefined;
  private typecheckOption: OptionHandle<boolean> | undefined;
  private readonly scripts = new Map<string, Script>();
  /** Reload state by script entry, kept when a script is removed and added back. */
  private readonly states = new Map<string, Record<string, unknown>>();
  private readonly listeners = new Set<ReloadListener>();
  private readonly typecheckListeners = new Set<TypecheckListener>();
  private readonly watchEnabled: boolean;
  private readonly typecheckEnabled: boolean;
  private checker: TypeChecker | undefined;
  private toldNoTypecheck = false;

  /** `watch: false` loads scripts without watching or type-checking them (one-shot tools). */
  constructor(opts: { watch?: boolean } = {}) {
    this.watchEnabled = opts.watch ?? true;
    this.typecheckEnabled = this.watchEnabled;
  }

  onReload(fn: ReloadListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onTypecheck(fn: TypecheckListener): () => void {
    this.typecheckListeners.add(fn);
    return () => this.typecheckListeners.delete(fn);
  }

  load(loader: Loader): void {
    this.loader = loader;
    this.option = loader.addOption({
      name: "scripts",
      type: "strings",
      default: [],
      help: "Addon scripts (.ts, .mts, .js, .mjs) or npm packages (the project's, then the addon home's); hot-reloaded on save.",
    });
    this.typecheckOption = loader.addOption({
      name: "addonTypecheck",
      type: "bool",
      default: true,
      help: "Report the type errors of TypeScript scripts after every (re)load, checked off the main thread; they never block a reload.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (updated.has("addonTypecheck") && this.typecheckOption?.get())
      for (const script of this.scripts.values()) void this.typecheck(script);
    if (!this.option || !updated.has("scripts")) return;
    const wanted = this.option.get();
    const found = new Map<string, { spec: string; resolved: ResolvedScript }>();
    for (const spec of wanted) {
      const resolved = findScript(spec, process.cwd(), this.addonHome());
      if (found.has(resolved.entry)) throw new OptionError(`duplicate script: ${spec}`);
      found.set(resolved.entry, { spec, resolved });
    }
    for (const [entry, script] of this.scripts) {
      if (!found.has(entry)) await this.unload(script);
    }
    for (const [entry, { spec, resolved }] of found) {
      if (this.scripts.has(entry)) continue;
      try {
        await this.loadScript(spec, resolved);
      } catch (err) {
        throw new OptionError(`cannot load script ${spec}: ${(err as Error).message}`);
      }
    }
  }

  async done(): Promise<void> {
    for (const script of this.scripts.values()) {
      script.removed = true;
      clearTimeout(script.timer);
      script.wake?.();
      await script.watcher?.close();
    }
    await this.releaseChecker();
  }

  /** Where `interloper install` puts packages: `addons/` in the confdir. */
  private addonHome(): string {
    const options = this.loader?.options;
    const confdir = options?.has("confdir") ? options.get<string>("confdir") : "~/.interloper";
    return join(
      confdir === "~" || confdir.startsWith("~/") ? homedir() + confdir.slice(1) : resolve(confdir),
      "addons",
    );
  }

  private async loadScript(spec: string, resolved: ResolvedScript): Promise<void> {
    const { entry } = resolved;
    this.judge(spec, resolved.pkg, true);
    const bundle = await bundleScript(entry);
    const state = this.states.get(entry) ?? {};
    this.states.set(entry, state);
    const container = this.instantiate(entry, bundle, 1);
    const script: Script = {
      spec,
      entry,
      from: resolved.from,
      pkg: resolved.pkg,
      npmMarker: resolved.from === "file" ? undefined : npmMarkerOf(resolved.pkg),
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
      changes: 0,
      wake: undefined,
    };
    this.scripts.set(entry, script);
    try {
      await this.loader!.addChild(container, {
        label: basename(entry),
        state,
        kind: resolved.from === "file" ? "script" : "package",
        source: entry,
        reload: () => this.reloadNow(script),
      });
    } catch (err) {
      const e = err as Error;
      const where = /:\d+:\d+/.test(e?.message ?? "") ? "" : firstFrame(e?.stack);
      this.scripts.delete(entry);
      unregisterSourceMap(versionedName(entry, 1));
      throw new Error(`${e?.message ?? String(err)}${where}`, { cause: err });
    }
    this.loader!.log.info(`loaded ${describeScript(spec, resolved)}`);
    if (this.watchEnabled) await this.watchInputs(script);
    void this.typecheck(script);
  }

  /**
   * Refuses a package whose sdk range leaves out this sdk (thrown, one line naming both
   * versions), and warns about one built for an older sdk major.
   */
  private judge(spec: string, pkg: ScriptPackage | undefined, firstLoad: boolean): void {
    if (!pkg) return;
    const verdict = checkCompatibility(pkg, sdk.SDK_VERSION);
    if (verdict && "refused" in verdict) throw new Error(verdict.refused);
    if (verdict && firstLoad) this.loader!.log.warn(`${spec}: ${verdict.warning}`);
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
   * the old inode) and reacts to events for those files; for a package also npm's
   * record of its node_modules, so an `npm update` or `interloper install` reloads it.
   * Resolves once the watcher is ready, so no save right after loading is missed.
   */
  private async watchInputs(script: Script, fresh = false): Promise<void> {
    const files = new Set([script.entry, ...script.bundle.inputs]);
    if (script.npmMarker) files.add(script.npmMarker);
    const dirs = new Set([...files].map((f) => dirname(f)));
    script.watched = files;
    if (fresh && script.watcher) {
      // npm replaces a package's folders: watches on the old ones would hear nothing more.
      await script.watcher.close();
      script.watcher = undefined;
    }
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
    script.changes++;
    script.wake?.();
    clearTimeout(script.timer);
    script.timer = setTimeout(() => {
      script.queue = script.queue.then(() => this.reload(script, event === "unlink" && path === script.entry));
    }, DEBOUNCE_MS);
  }

  /**
   * A reload asked for (`loader.reloadAddon`): built and swapped even when the files did not
   * change; throws when it failed. A save that lands while it builds makes `reload` give up that
   * build (it may be half a save) and leave the rest to the save's own reload, which swaps only
   * what changed: the asked-for reload is then tried again, or a save that restored the running
   * version would leave it undone (web-api test, on a busy machine).
   */
  private async reloadNow(script: Script): Promise<void> {
    let outcome: { ok: boolean; error?: string } | undefined;
    // A save's own reload that found nothing to swap does not count: it swapped nothing.
    const off = this.onReload((event) => {
      if (event.spec === script.spec && (event.changed || !event.ok)) outcome = event;
    });
    try {
      for (let attempt = 0; attempt < MAX_FORCED_ATTEMPTS && outcome === undefined && !script.removed; attempt++) {
        script.queue = script.queue.then(() => this.reload(script, false, true));
        await script.queue;
      }
    } finally {
      off();
    }
    if (outcome && !outcome.ok) throw new Error(outcome.error);
  }

  private async reload(script: Script, maybeDeleted: boolean, force = false): Promise<void> {
    if (script.removed) return;
    const log = this.loader!.log;
    if (script.from === "file" && maybeDeleted && !existsSync(script.entry)) {
      log.info(`${script.spec} was deleted: unloading it`);
      await this.unload(script);
      this.emit({ spec: script.spec, ok: true, changed: true });
      return;
    }
    const changes = script.changes;
    const before = stamps(script.watched);
    const failed = async (msg: string, gone = false) => {
      // The files may be mid-save (or mid-install): report only what stays broken.
      if (await this.changedSoon(script, changes, before)) return;
      if (gone) {
        log.info(`${script.spec} is no longer installed: unloading it`);
        await this.unload(script);
        this.emit({ spec: script.spec, ok: true, changed: true });
        return;
      }
      log.error(`reloading ${script.spec} failed, the previous version stays active: ${msg}`);
      this.loader!.noteError(`reloading failed, the previous version stays active: ${msg}`, script.container);
      this.emit({ spec: script.spec, ok: false, error: msg, changed: true });
    };
    let resolved: ResolvedScript = { entry: script.entry, from: script.from, pkg: script.pkg };
    if (script.from !== "file") {
      // A package is looked up again: an update may have moved its entry or changed its sdk range.
      try {
        resolved = findScript(script.spec, process.cwd(), this.addonHome());
      } catch (err) {
        return failed((err as Error).message, true);
      }
    }
    let bundle: Bundle;
    try {
      this.judge(script.spec, resolved.pkg, resolved.pkg?.version !== script.pkg?.version);
      bundle = await bundleScript(resolved.entry);
    } catch (err) {
      return failed(err instanceof ScriptBuildError ? err.message : (err as Error).message);
    }
    if (script.changes !== changes || !sameStamps(before, stamps(script.watched))) {
      // Saved again while it built: what was built may be half a save. The next reload builds the rest.
      if (script.changes === changes) this.onFileEvent(script, "change", script.entry);
      return;
    }
    if (!force && bundle.contentHash === script.bundle.contentHash) {
      this.emit({ spec: script.spec, ok: true, changed: false });
      return;
    }
    const version = script.version + 1;
    let container: Addon;
    try {
      container = this.instantiate(resolved.entry, bundle, version);
      await this.loader!.replaceChild(script.container, container, {
        label: basename(resolved.entry),
        state: script.state,
        source: resolved.entry,
      });
    } catch (err) {
      const e = err as Error;
      const msg = `${e.message}${/:\d+:\d+/.test(e.message) ? "" : firstFrame(e.stack)}`;
      unregisterSourceMap(versionedName(resolved.entry, version));
      // Watch new local imports even of a failed version, so fixing them reloads.
      script.bundle = Object.assign({}, script.bundle, {
        inputs: [...new Set([...script.bundle.inputs, ...bundle.inputs])],
      });
      await this.watchInputs(script);
      return failed(msg);
    }
    unregisterSourceMap(versionedName(script.entry, script.version));
    this.rekey(script, resolved);
    script.container = container;
    script.bundle = bundle;
    script.version = version;
    await this.watchInputs(script, script.from !== "file");
    log.info(`reloaded ${describeScript(script.spec, resolved)}`);
    void this.typecheck(script);
    this.emit({ spec: script.spec, ok: true, changed: true });
  }

  /**
   * After a failed reload: whether the files changed (or change within SETTLE_MS), so that the
   * failure was a save or an install still under way. A change no event announced gets a reload.
   */
  private async changedSoon(script: Script, changes: number, before: Map<string, string>): Promise<boolean> {
    if (script.changes === changes && !script.removed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SETTLE_MS);
        script.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      script.wake = undefined;
    }
    if (script.removed || script.changes !== changes) return true;
    if (sameStamps(before, stamps(script.watched))) return false;
    this.onFileEvent(script, "change", script.entry);
    return true;
  }

  /** A package's entry may move on update (or it may now be found elsewhere): the script is known by where it is now. */
  private rekey(script: Script, resolved: ResolvedScript): void {
    if (resolved.entry !== script.entry) {
      this.scripts.delete(script.entry);
      this.scripts.set(resolved.entry, script);
      script.entry = resolved.entry;
    }
    script.pkg = resolved.pkg;
    script.from = resolved.from;
    script.npmMarker = resolved.from === "file" ? undefined : npmMarkerOf(resolved.pkg);
  }

  private async unload(script: Script): Promise<void> {
    script.removed = true;
    clearTimeout(script.timer);
    script.wake?.();
    await script.watcher?.close();
    this.scripts.delete(script.entry);
    await this.loader!.removeChild(script.container);
    unregisterSourceMap(versionedName(script.entry, script.version));
  }

  /** Reports the type errors of the version now loaded (TypeScript files of the user's, not installed packages). */
  private async typecheck(script: Script): Promise<void> {
    if (!this.typecheckEnabled || !this.typecheckOption?.get()) return;
    if (!/\.[cm]?tsx?$/.test(script.entry) || script.entry.includes("/node_modules/")) return;
    const version = script.version;
    // Said before anything is awaited: once a (re)load is reported, so is the check it started.
    this.loader!.log.debug(`type-checking ${script.spec} (off the main thread; the script runs meanwhile)`);
    const result = await this.acquireChecker().check(script.entry);
    // A newer version is checked after its own reload; a removed script needs no report.
    if (script.removed || script.version !== version || !this.typecheckOption.get()) return;
    const log = this.loader!.log;
    if ("unavailable" in result) {
      if (!this.toldNoTypecheck) log.info(`type checking is off: ${result.unavailable}`);
      this.toldNoTypecheck = true;
      return;
    }
    if (result.problems.length === 0) {
      log.debug(`type-checked ${script.spec}: no errors (${result.files} files, ${result.ms} ms)`);
    }
    for (const p of result.problems) {
      log.warn(`type error at ${p.file}:${p.line}:${p.column}: ${p.message} (TS${p.code}); the script runs anyway`);
    }
    for (const fn of this.typecheckListeners) fn({ spec: script.spec, problems: result.problems });
  }

  private acquireChecker(): TypeChecker {
    if (!this.checker) {
      sharedChecker ??= { checker: new TypeChecker(), users: 0 };
      sharedChecker.users++;
      this.checker = sharedChecker.checker;
    }
    return this.checker;
  }

  private async releaseChecker(): Promise<void> {
    if (!this.checker || !sharedChecker) return;
    this.checker = undefined;
    if (--sharedChecker.users > 0) return;
    const { checker } = sharedChecker;
    sharedChecker = undefined;
    await checker.close();
  }

  private emit(event: Parameters<ReloadListener>[0]): void {
    for (const fn of this.listeners) fn(event);
  }
}

/** `hello.ts`, or `@me/addon 1.2.0 (addon home)` for a package. */
function describeScript(spec: string, resolved: ResolvedScript): string {
  if (resolved.from === "file" || !resolved.pkg) return spec;
  return `${spec} ${resolved.pkg.version} (${resolved.from === "home" ? "addon home" : "project"})`;
}

/** npm's hidden lockfile in the node_modules that holds a package: rewritten by every install, update and uninstall. */
function npmMarkerOf(pkg: ScriptPackage | undefined): string | undefined {
  if (!pkg) return undefined;
  const m = /^(.*\/node_modules)\//.exec(`${pkg.dir}/`);
  return m ? join(m[1]!, ".package-lock.json") : undefined;
}

/** Size and modification time of each file: whether a save went on between two moments. */
function stamps(files: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of files) {
    const st = statSync(f, { throwIfNoEntry: false });
    out.set(f, st ? `${st.size}:${st.mtimeMs}` : "-");
  }
  return out;
}

function sameStamps(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function versionedName(entry: string, version: number): string {
  return version === 1 ? entry : `${entry}#${version}`;
}

function isAddonLike(v: object): boolean {
  return "name" in v || sdk.HOOK_NAMES.some((h) => h in v);
}

function firstFrame(stack: string | undefined): string {
  const m = stack ? /\n\s+at (?:.*?\()?([^()\s]+:\d+:\d+)\)?/.exec(stack) : null;
  return m ? ` (at ${m[1]})` : "";
}
