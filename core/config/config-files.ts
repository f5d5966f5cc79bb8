import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { FSWatcher } from "chokidar";
import { closestName, expandHome, OptionError, shownValue, snakeOptionName } from "@interloper/sdk";
import type { AddonHost } from "@interloper/sdk/host";
import { locate, mergeSources, planChanges, typedValue, type Placed, type Plan } from "./precedence.ts";
import { checkProjectFile, findProjectFile, loadProjectConfig, type ModuleRunner } from "./project-file.ts";
import { ConfigError, displayPath, where, type ConfigSource } from "./source.ts";
import { describe } from "./values.ts";
import { parseYamlConfig } from "./yaml-file.ts";

/** The confdir's config files, read in this order (mitmproxy's: the second wins where both set an option). */
export const CONFDIR_FILES = ["config.yaml", "config.yml"] as const;

/** How long a burst of file events must be quiet before the files are read again. */
const DEBOUNCE_MS = 100;

/**
 * After a reading failed, how long to wait for more of the save before reporting it (an editor
 * that truncates, then writes): a change within this time is read instead.
 */
const SETTLE_MS = 500;

export interface ConfigFilesSetup {
  host: AddonHost;
  /** Options the command line sets (canonical names): the files never change them. */
  commandLine: ReadonlySet<string>;
  /** The confdir the command line gives, if it does. */
  confdir: string | undefined;
  /** `--config FILE`, if given (else the working directory's `interloper.config.*` is used, if any). */
  projectFile: string | undefined;
  cwd: string;
  /** Builds and runs the project file (the script loader's bundler). */
  run: ModuleRunner;
}

type Kind = "confdir" | "project";

/** What a reload may change, kept to be put back when the change is refused. */
interface Snapshot {
  confdirSources: ConfigSource[];
  projectSource: ConfigSource | undefined;
  projectFile: string | undefined;
  projectInputs: string[];
}

/**
 * The config files: the confdir's `config.yaml` and the project's `interloper.config.ts`, applied
 * through the option registry with the precedence defaults < confdir file < project file <
 * command line, and watched: a change applies live, a bad one is logged and the options stay.
 */
export class ConfigFiles {
  private confdirSources: ConfigSource[] = [];
  private projectSource: ConfigSource | undefined;
  /** The project file in use (undefined: none yet) and the local files it is built from. */
  private projectFile: string | undefined;
  private projectInputs: string[] = [];
  /** Options the files set last (one that leaves the files goes back to its default). */
  private applied = new Set<string>();
  /** Entries whose option did not exist at start-up (a script's, until the script is loaded). */
  private pending: Placed[] = [];
  private watcher: FSWatcher | undefined;
  /** The paths the watcher admits (chokidar is told to ignore every other). */
  private admitted = new Set<string>();
  private readonly timers = new Map<Kind, NodeJS.Timeout>();
  private readonly events = new Map<Kind, number>();
  /** Per kind: ends the wait after a failed reading of that kind's file (a change of it came). */
  private readonly wakes = new Map<Kind, () => void>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /**
   * Each file's stamp from before it was read at start-up. The watch is ready only after the
   * proxy listens; a change saved in between (a busy machine, a quick script) is compared
   * against these once it is, rather than lost.
   */
  private readonly readStamps = new Map<string, string>();

  private constructor(
    private readonly setup: ConfigFilesSetup,
    private readonly confdir: string,
  ) {}

  /** Reads both files (a mistake throws a ConfigError naming file and line). */
  static async open(setup: ConfigFilesSetup): Promise<ConfigFiles> {
    let projectFile: string | undefined;
    if (setup.projectFile !== undefined) {
      projectFile = resolve(setup.cwd, expandHome(setup.projectFile));
      if (!existsSync(projectFile)) throw new ConfigError(`--config: no such file '${setup.projectFile}'`);
    } else {
      // Only a file there now, and only one that is safe to run: never one that appears later.
      projectFile = findProjectFile(setup.cwd);
      if (projectFile) checkProjectFile(projectFile);
    }
    const projectStamp = projectFile ? stampOf(projectFile) : undefined;
    const loadStart = BigInt(Date.now()) * 1_000_000n;
    const project = projectFile ? await loadProjectConfig(projectFile, setup.run) : undefined;
    if (projectFile) setup.host.log("info", `loaded project config ${displayPath(projectFile)}`);
    const projectConfdir = project?.source.entries.get("confdir")?.value;
    const confdir =
      setup.confdir ??
      (typeof projectConfdir === "string" ? projectConfdir : undefined) ??
      String(setup.host.options.spec("confdir")?.default ?? "~/.interloper");
    const files = new ConfigFiles(setup, resolve(setup.cwd, expandHome(confdir)));
    files.projectFile = projectFile;
    files.projectSource = project?.source;
    files.projectInputs = project?.inputs ?? [];
    if (projectFile) files.readStamps.set(projectFile, projectStamp!);
    // The imports are known only once loaded: one saved since the load began counts as changed.
    for (const input of files.projectInputs) {
      if (!files.readStamps.has(input)) files.readStamps.set(input, stampOf(input, loadStart));
    }
    for (const name of CONFDIR_FILES)
      files.readStamps.set(join(files.confdir, name), stampOf(join(files.confdir, name)));
    files.confdirSources = files.readConfdir();
    return files;
  }

  /** The files' options for the start-up change (set together with the command line's). */
  startupChanges(): Record<string, unknown> {
    const plan = this.plan(true);
    this.pending = plan.unknown;
    this.applied = new Set(Object.keys(plan.changes));
    return plan.changes;
  }

  /**
   * After the start-up change (scripts are loaded now): the entries of options that scripts
   * added are applied; a name no option has is a ConfigError naming its file and line.
   */
  async finishStartup(): Promise<void> {
    const { known, unknown } = this.splitPending(this.pending);
    this.pending = [];
    if (unknown.length > 0) throw new ConfigError(this.unknownMessage(unknown));
    if (known.size === 0) return;
    const changes = Object.fromEntries(known);
    try {
      await this.setup.host.setOptions(changes);
    } catch (err) {
      throw this.explain(err, Object.keys(changes));
    }
    for (const name of known.keys()) this.applied.add(name);
  }

  /** An option refusal, pointed at the file and line of the entry it is about (if it came from a file). */
  explain(err: unknown, names: Iterable<string>): unknown {
    if (!(err instanceof OptionError) || err instanceof ConfigError) return err;
    const placed = locate(err.message, this.merged(), names);
    return placed ? new ConfigError(`${where(placed.file, placed.line)}: ${err.message}`) : err;
  }

  /**
   * Starts watching both files (and the project file's local imports); resolves once the watch is
   * ready. Only those paths: the confdir for its config.yaml/config.yml (which may appear later),
   * and the project file and its imports themselves. Watching whole folders put a watch on every
   * file there and woke on each write (a flow file written with -w, anything in $HOME).
   */
  async watch(): Promise<void> {
    const { watch } = await import("chokidar");
    this.admitted = this.watchedPaths();
    // The confdir folder itself (its config files may appear later) and the project's files.
    const targets = [...this.admitted].filter(
      (path) => !CONFDIR_FILES.some((name) => path === join(this.confdir, name)),
    );
    const watcher = watch(targets, {
      ignoreInitial: true,
      depth: 0,
      atomic: true,
      awaitWriteFinish: false,
      ignored: (path) => !this.admitted.has(resolve(path)),
    });
    this.watcher = watcher;
    watcher.on("all", (_event, path) => {
      const kind = this.kindOf(resolve(path));
      if (kind) this.schedule(kind);
    });
    watcher.on("error", (err) =>
      this.setup.host.log("warn", `watching the config files failed: ${(err as Error).message}`),
    );
    await new Promise<void>((r) => watcher.once("ready", () => r()));
    for (const [path, before] of this.readStamps) {
      const kind = stampOf(path) === before ? undefined : this.kindOf(path);
      if (kind) this.schedule(kind);
    }
    this.readStamps.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    for (const wake of this.wakes.values()) wake();
    await this.watcher?.close();
    await this.queue;
  }

  /** The paths being watched, as chokidar has them (for tests). */
  watching(): string[] {
    const watched = this.watcher?.getWatched() ?? {};
    return Object.entries(watched).flatMap(([dir, names]) => names.map((name) => resolve(dir, name)));
  }

  /** Resolves when the reloads queued so far are done (for tests). */
  settled(): Promise<void> {
    return this.queue;
  }

  private readConfdir(): ConfigSource[] {
    const sources: ConfigSource[] = [];
    for (const name of CONFDIR_FILES) {
      const file = join(this.confdir, name);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new ConfigError(`${displayPath(file)}: cannot read it: ${(err as Error).message}`);
      }
      sources.push(parseYamlConfig(text, file));
    }
    return sources;
  }

  /** The project file loaded at start-up, again (none at start-up: none ever). */
  private async readProject(): Promise<void> {
    const file = this.projectFile;
    if (!file) return;
    if (!existsSync(file)) {
      this.projectSource = undefined;
      this.projectInputs = [];
      return;
    }
    if (this.setup.projectFile === undefined) checkProjectFile(file);
    const loaded = await loadProjectConfig(file, this.setup.run);
    this.projectFile = file;
    this.projectSource = loaded.source;
    this.projectInputs = loaded.inputs;
  }

  private merged(): Map<string, Placed> {
    return mergeSources([...this.confdirSources, ...(this.projectSource ? [this.projectSource] : [])]);
  }

  private plan(startup: boolean): Plan {
    const { host, commandLine } = this.setup;
    const plan = planChanges(this.merged(), host.options, { commandLine, previous: this.applied, startup });
    for (const placed of plan.overridden) {
      host.log("debug", `${where(placed.file, placed.line)}: ${placed.key} is set on the command line, which wins`);
    }
    return plan;
  }

  /** Entries whose option exists now (typed), and those whose option still does not. */
  private splitPending(entries: readonly Placed[]): { known: Map<string, unknown>; unknown: Placed[] } {
    const known = new Map<string, unknown>();
    const unknown: Placed[] = [];
    for (const placed of entries) {
      const spec = this.setup.host.options.spec(placed.name);
      if (spec) known.set(placed.name, typedValue(spec, placed, this.setup.host.options));
      else unknown.push(placed);
    }
    return { known, unknown };
  }

  /** `config.yaml:7: unknown option 'map_remot' (did you mean map_remote?)`, one per entry. */
  private unknownMessage(entries: readonly Placed[]): string {
    const names = this.setup.host.options.names();
    return entries
      .map((placed) => {
        const meant = closestName(placed.key, names);
        const hint = meant ? ` (did you mean ${snakeOptionName(meant)}?)` : "";
        return `${where(placed.file, placed.line)}: unknown option '${placed.key}'${hint}`;
      })
      .join("; ");
  }

  // ---- watching ----

  /** The confdir (for its config files only) and the project's files: computed when they change, not per event. */
  private watchedPaths(): Set<string> {
    const paths = new Set<string>();
    if (existsSync(this.confdir)) {
      paths.add(this.confdir);
      for (const name of CONFDIR_FILES) paths.add(join(this.confdir, name));
    }
    for (const file of this.projectFiles()) paths.add(file);
    return paths;
  }

  /** The files whose change reloads the project config: the file loaded at start-up and its local imports. */
  private projectFiles(): Set<string> {
    const files = new Set(this.projectInputs);
    if (this.projectFile) files.add(this.projectFile);
    return files;
  }

  private kindOf(path: string): Kind | undefined {
    if (
      dirname(path) === this.confdir &&
      (CONFDIR_FILES as readonly string[]).includes(path.slice(this.confdir.length + 1))
    )
      return "confdir";
    return this.projectFiles().has(path) ? "project" : undefined;
  }

  private schedule(kind: Kind): void {
    if (this.closed) return;
    this.events.set(kind, (this.events.get(kind) ?? 0) + 1);
    this.wakes.get(kind)?.();
    clearTimeout(this.timers.get(kind));
    this.timers.set(
      kind,
      setTimeout(() => {
        // A reload that throws must not break the chain: every later one would be skipped, silently.
        this.queue = this.queue
          .then(() => this.reload(kind))
          .catch((err: unknown) =>
            this.setup.host.log("error", `reading the config files again failed: ${(err as Error)?.message ?? err}`),
          );
      }, DEBOUNCE_MS),
    );
  }

  /** Reads the changed file again and applies what changed; anything wrong is logged and changes nothing. */
  private async reload(kind: Kind): Promise<void> {
    if (this.closed) return;
    const seen = this.events.get(kind) ?? 0;
    const before = this.snapshot();
    const label = this.label(kind);
    try {
      if (kind === "confdir") this.confdirSources = this.readConfdir();
      else await this.readProject();
    } catch (err) {
      this.restore(before);
      if (await this.changedSoon(kind, seen)) return;
      this.setup.host.log("error", `${(err as Error).message}; the options stay as they were`);
      return;
    }
    if (kind === "project") this.syncWatch();
    const failure = await this.apply(label);
    if (failure === undefined) return;
    // Nothing was applied: the files' state stays what it was, so that the next change is compared
    // to it, and the imports the refused version brought are no longer watched.
    this.restore(before);
    if (kind === "project") this.syncWatch();
    if (await this.changedSoon(kind, seen)) return;
    this.setup.host.log("error", `${failure}; the options stay as they were`);
  }

  /** Applies the files' options as they are now; returns why not, if nothing was applied. */
  private async apply(label: string): Promise<string | undefined> {
    const { host } = this.setup;
    let plan: Plan;
    try {
      plan = this.plan(false);
    } catch (err) {
      return (err as Error).message;
    }
    // A change that loads a script may bring the options its other entries name: try it first.
    if (plan.unknown.length > 0 && Object.keys(plan.changes).length === 0) return this.unknownMessage(plan.unknown);
    for (const { placed, name, value } of plan.restart) {
      const at = placed ? where(placed.file, placed.line) : label;
      const spec = host.options.spec(name);
      const shown = value === undefined ? "its default" : describe(spec ? shownValue(spec, value) : value);
      host.log("warn", `${at}: ${snakeOptionName(name)} changed to ${shown}: restart interloper to apply it`);
    }
    const names = Object.keys(plan.changes);
    const previous = Object.fromEntries(names.map((name) => [name, host.options.get(name)]));
    try {
      if (names.length > 0) await host.setOptions(plan.changes);
    } catch (err) {
      const explained = this.explain(err, names);
      return explained instanceof ConfigError || !(err instanceof OptionError)
        ? (explained as Error).message
        : `${label}: ${err.message}`;
    }
    const late = await this.applyLate(plan.unknown, previous);
    if (late.failure !== undefined) return late.failure;
    const changed = [...names, ...late.names];
    this.applied = new Set([...this.merged().keys()].filter((n) => host.options.has(n)));
    if (changed.length > 0) host.log("info", `${label}: applied ${changed.map(snakeOptionName).join(", ")}`);
    else host.log("debug", `${label}: no option changed`);
    return undefined;
  }

  /**
   * The entries that named no option before the change: applied if the change brought their
   * option (a script's); otherwise the change is undone and they are the failure.
   */
  private async applyLate(
    entries: readonly Placed[],
    previous: Record<string, unknown>,
  ): Promise<{ failure?: string; names: string[] }> {
    if (entries.length === 0) return { names: [] };
    const { host } = this.setup;
    let failure: string | undefined;
    let split: { known: Map<string, unknown>; unknown: Placed[] } | undefined;
    try {
      split = this.splitPending(entries);
      if (split.unknown.length > 0) failure = this.unknownMessage(split.unknown);
      else await host.setOptions(Object.fromEntries(split.known));
    } catch (err) {
      failure = (this.explain(err, split ? [...split.known.keys()] : []) as Error).message;
    }
    if (failure === undefined) return { names: [...split!.known.keys()] };
    try {
      await host.setOptions(previous);
    } catch (err) {
      host.log("error", `undoing a config change failed: ${(err as Error).message}`);
    }
    return { failure, names: [] };
  }

  private snapshot(): Snapshot {
    return {
      confdirSources: this.confdirSources,
      projectSource: this.projectSource,
      projectFile: this.projectFile,
      projectInputs: this.projectInputs,
    };
  }

  private restore(state: Snapshot): void {
    this.confdirSources = state.confdirSources;
    this.projectSource = state.projectSource;
    this.projectFile = state.projectFile;
    this.projectInputs = state.projectInputs;
  }

  /** The watch follows the project file's local imports: new ones watched, dropped ones not. */
  private syncWatch(): void {
    if (!this.watcher) return;
    const paths = this.watchedPaths();
    const added = [...paths].filter((path) => !this.admitted.has(path));
    const dropped = [...this.admitted].filter((path) => !paths.has(path));
    this.admitted = paths;
    if (added.length > 0) this.watcher.add(added);
    if (dropped.length > 0) this.watcher.unwatch(dropped);
  }

  private label(kind: Kind): string {
    if (kind === "project") return this.projectFile ? displayPath(this.projectFile) : "interloper.config.ts";
    const existing = CONFDIR_FILES.map((name) => join(this.confdir, name)).find((file) => existsSync(file));
    return displayPath(existing ?? join(this.confdir, CONFDIR_FILES[0]));
  }

  /** After a failure: whether the file changed again within SETTLE_MS (a save still going on). */
  private async changedSoon(kind: Kind, seen: number): Promise<boolean> {
    if ((this.events.get(kind) ?? 0) === seen && !this.closed) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, SETTLE_MS);
        this.wakes.set(kind, () => {
          clearTimeout(timer);
          done();
        });
      });
      this.wakes.delete(kind);
    }
    return this.closed || (this.events.get(kind) ?? 0) !== seen;
  }
}

/**
 * What tells a saved file from the one read before: its inode, size and change time ("absent" when
 * there is none; "changed" when it changed at or after `since`, in ns since the epoch).
 */
function stampOf(path: string, since?: bigint): string {
  try {
    const st = statSync(path, { bigint: true });
    if (since !== undefined && st.ctimeNs >= since) return "changed";
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return "absent";
  }
}
