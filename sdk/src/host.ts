import { EventEmitter } from "eventemitter3";
import type {
  Addon,
  AddonError,
  AddonInfo,
  AddonKind,
  HookArgs,
  HookName,
  LogEntry,
  LogLevel,
  Loader,
  Logger,
  OptionInfo,
  ProxyEvents,
} from "./addon.ts";
import { HOOK_NAMES, LIFECYCLE_HOOKS } from "./addon.ts";
import { logText } from "./log-text.ts";
import type { AnyFlow, HTTPFlow } from "./flow.ts";
import { playRecordedHooks } from "./recorded-hooks.ts";
import { editDistance, OptionError, Options, shownValue, type OptionHandle, type OptionSpec } from "./options.ts";

interface AddonRecord {
  addon: Addon;
  /** The name used in log lines. */
  label: string;
  /** The name that makes addons replace each other; undefined for unnamed addons. */
  key: string | undefined;
  seq: number;
  parent: AddonRecord | undefined;
  state: Record<string, unknown>;
  kind: AddonKind;
  source: string | undefined;
  /** How to reload it (given by whoever added it, e.g. the script loader). */
  reload: (() => Promise<void>) | undefined;
  /** When its `load` last succeeded (seconds since the epoch). */
  loadedAt: number | undefined;
  lastError: AddonError | undefined;
  /** `loader.hooksWhen`: its traffic hooks run only while this says so. */
  gate: (() => boolean) | undefined;
  /** Its gate threw at the last look (told once, not at every rebuild). */
  gateThrew: boolean;
}

export interface AddOptions {
  /** Insert the addon as the last child of this one (e.g. scripts under the script loader). */
  parent?: Addon;
  /** Insert at this place among the parent's children / the top level. Default: last. */
  index?: number;
  /** A name for log lines when the addon has none (e.g. the script's file name). */
  label?: string;
  /** Data kept across hot reloads, handed to `load` as `loader.state`. */
  state?: Record<string, unknown>;
  /** What it is, for listings (default: its parent's kind, else built-in). */
  kind?: AddonKind;
  /** The file it came from (default: its parent's). */
  source?: string;
  /** How to reload it (`loader.reloadAddon`). */
  reload?: () => Promise<void>;
}

/**
 * The hooks after which a paused (`flow.intercept()`) live flow is held until resumed, as
 * mitmproxy waits after a hook whose payload is a flow. Only hooks where the proxy has
 * something to hold: the hooks of an HTTP exchange and of each message.
 */
const PAUSING_HOOKS: Partial<Record<HookName, true>> = {
  requestheaders: true,
  request: true,
  responseheaders: true,
  response: true,
  websocketMessage: true,
  tcpMessage: true,
};

/** How many of an addon's log entries `listAddons` keeps. */
const ADDON_LOG_LINES = 50;

type HandlerList = readonly AddonRecord[];

/** An async hook call that has not settled yet. */
interface InFlight {
  rec: AddonRecord;
  hook: HookName;
  /** The hook's first argument (a flow, a connection), for the log line. */
  subject: unknown;
  since: number;
  told: boolean;
}

/** After this long, a hook call that has not settled is named in the debug log. */
const SLOW_HOOK_MS = 10_000;

/** ` (GET https://…)` for a flow with a request, ` (client 1.2.3.4:5)` for a connection, else nothing. */
function describeSubject(subject: unknown): string {
  try {
    const s = subject as
      | { request?: { method?: unknown; prettyUrl?: unknown }; peername?: { host?: unknown; port?: unknown } }
      | undefined;
    if (s?.request?.method !== undefined) return ` (${logText(s.request.method)} ${logText(s.request.prettyUrl)})`;
    if (s?.peername?.host !== undefined) return ` (client ${logText(s.peername.host)}:${logText(s.peername.port)})`;
  } catch {
    // A subject that throws on access is described by nothing.
  }
  return "";
}

/** Where sub-addons' reload state lives inside their parent's (invisible to the parent's own keys). */
const CHILD_STATES = Symbol("interloper.childStates");

/**
 * Runs addons: the ordered, awaited hook chain, their options and their
 * lifecycle. The proxy and the test harness use this same class, so an addon
 * behaves in tests as it does in the proxy.
 */
export class AddonHost {
  readonly options = new Options();
  readonly events = new EventEmitter<ProxyEvents>();
  /** Records in tree order: each addon, then its sub-addons. */
  private records: AddonRecord[] = [];
  private active: AddonRecord[] = [];
  private handlers = new Map<HookName, HandlerList>();
  private seq = 0;
  private isRunning = false;
  private shutdownHandler: ((code: number) => void) | undefined;
  private replayer: ((flow: HTTPFlow) => Promise<void>) | undefined;
  /** Each addon's recent log entries, by the label they carry. */
  private readonly addonLogs = new Map<string, LogEntry[]>();

  /** Async hook calls still running: a watch names those that take long (see `watchSlow`). */
  private readonly inFlight = new Set<InFlight>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private readonly slowHookMs: number;

  constructor(opts: { onShutdown?: (code: number) => void; slowHookMs?: number } = {}) {
    this.shutdownHandler = opts.onShutdown;
    this.slowHookMs = opts.slowHookMs ?? SLOW_HOOK_MS;
    this.rebuild();
  }

  /** The proxy's client replay, behind `loader.replay`. */
  provideReplay(replay: (flow: HTTPFlow) => Promise<void>): void {
    this.replayer = replay;
  }

  get running(): boolean {
    return this.isRunning;
  }

  /** The active addons in chain order (replaced ones left out). */
  get chain(): readonly Addon[] {
    return this.active.map((r) => r.addon);
  }

  /** Writes an entry to the event log. */
  log(level: LogLevel, message: string, addon?: string): void {
    const entry: LogEntry = { level, message, timestamp: Date.now() / 1000 };
    if (addon !== undefined) {
      entry.addon = addon;
      this.keepAddonLog(addon, entry);
    }
    this.events.emit("log", entry);
  }

  logger(addon?: string): Logger {
    return {
      debug: (m) => this.log("debug", m, addon),
      info: (m) => this.log("info", m, addon),
      warn: (m) => this.log("warn", m, addon),
      error: (m) => this.log("error", m, addon),
    };
  }

  /**
   * Adds an addon (with its sub-addons): `load`, then `configure` with every
   * option name, then `running` if the proxy is already up. An OptionError from
   * `configure` removes it again and is thrown.
   */
  async add(addon: Addon, opts: AddOptions = {}): Promise<void> {
    checkAddon(addon, opts.label);
    const parent = opts.parent ? this.records.find((r) => r.addon === opts.parent) : undefined;
    if (opts.parent && !parent) throw new Error("parent addon is not loaded");
    const added = this.flatten(addon, parent, opts.label, opts.state ?? {}, opts);
    // Insert the subtree at the requested place.
    let at: number;
    if (parent) {
      const kids = this.records.filter((r) => r.parent === parent);
      const anchor = opts.index !== undefined && opts.index < kids.length ? kids[opts.index] : undefined;
      at = anchor ? this.records.indexOf(anchor) : this.subtreeEnd(parent);
    } else {
      const tops = this.records.filter((r) => r.parent === undefined);
      const anchor = opts.index !== undefined && opts.index < tops.length ? tops[opts.index] : undefined;
      at = anchor ? this.records.indexOf(anchor) : this.records.length;
    }
    this.records.splice(at, 0, ...added);
    const before = new Set(this.active);
    this.rebuild();
    this.warnMisspelledHooks(added);
    // An addon replaced by name stops: it gets `done` (and `load` again if it comes back).
    for (const r of before) if (!this.active.includes(r)) await this.callLifecycle(r, "done", []);
    try {
      for (const rec of added) await this.callLifecycle(rec, "load", [this.makeLoader(rec)]);
      // Values given with --set before their option existed.
      const deferred = this.options.takeDeferred();
      if (Object.keys(deferred).length > 0) await this.setOptions(deferred);
      const all = new Set(this.options.names());
      for (const rec of added) if (this.active.includes(rec)) await this.configureOne(rec, all);
      if (this.isRunning)
        for (const rec of added) if (this.active.includes(rec)) await this.callLifecycle(rec, "running", []);
    } catch (err) {
      this.records = this.records.filter((r) => !added.includes(r));
      this.rebuild();
      throw err;
    }
    // Addons that came back into the chain because of this change (none usually).
    await this.revive(before, added);
    this.events.emit("addons");
  }

  /** Removes an addon and its sub-addons (calling `done`); a replaced addon of the same name comes back. */
  async remove(addon: Addon): Promise<void> {
    const rec = this.records.find((r) => r.addon === addon);
    if (!rec) return;
    const gone = this.records.filter((r) => r === rec || this.isDescendant(r, rec));
    const wasActive = gone.filter((r) => this.active.includes(r));
    const before = new Set(this.active);
    this.records = this.records.filter((r) => !gone.includes(r));
    this.rebuild();
    for (const r of wasActive.reverse()) await this.callLifecycle(r, "done", []);
    await this.revive(before, []);
    this.events.emit("addons");
  }

  /**
   * Swaps `oldAddon` for `newAddon` in the same place (a hot reload): old
   * `done`, swap, new `load`, `configure` with every option name, `running`.
   * If the new version's `load` or `configure` throws, the old version is put
   * back (`load`, `configure`, `running` again) and the error is thrown.
   */
  async replace(oldAddon: Addon, newAddon: Addon, opts: Omit<AddOptions, "parent" | "index"> = {}): Promise<void> {
    const old = this.records.find((r) => r.addon === oldAddon);
    if (!old) throw new Error("addon to replace is not loaded");
    checkAddon(newAddon, opts.label);
    const added = this.flatten(newAddon, old.parent, opts.label ?? old.label, opts.state ?? old.state, {
      kind: opts.kind ?? old.kind,
      source: opts.source ?? old.source,
      reload: opts.reload ?? old.reload,
    });
    const oldSubtree = this.records.filter((r) => r === old || this.isDescendant(r, old));
    const wasActive = oldSubtree.filter((r) => this.active.includes(r));
    const before = new Set(this.active);
    for (const r of [...wasActive].reverse()) await this.callLifecycle(r, "done", []);
    const at = this.records.indexOf(old);
    this.records.splice(at, oldSubtree.length, ...added);
    this.rebuild();
    this.warnMisspelledHooks(added);
    try {
      for (const rec of added) await this.callLifecycle(rec, "load", [this.makeLoader(rec)], true);
      const deferred = this.options.takeDeferred();
      if (Object.keys(deferred).length > 0) await this.setOptions(deferred);
      const all = new Set(this.options.names());
      for (const rec of added) if (this.active.includes(rec)) await this.configureOne(rec, all, true);
    } catch (err) {
      for (const rec of [...added].reverse()) if (this.active.includes(rec)) await this.callLifecycle(rec, "done", []);
      this.records.splice(this.records.indexOf(added[0]!), added.length, ...oldSubtree);
      this.rebuild();
      const all = new Set(this.options.names());
      for (const rec of wasActive) await this.callLifecycle(rec, "load", [this.makeLoader(rec)]);
      for (const rec of wasActive) await this.configureOne(rec, all);
      if (this.isRunning) for (const rec of wasActive) await this.callLifecycle(rec, "running", []);
      this.events.emit("addons");
      throw err;
    }
    if (this.isRunning)
      for (const rec of added) if (this.active.includes(rec)) await this.callLifecycle(rec, "running", []);
    await this.revive(before, added);
    this.events.emit("addons");
  }

  /** Calls `running` on every addon (once the proxy listens). */
  async start(): Promise<void> {
    this.isRunning = true;
    for (const rec of this.active) await this.callLifecycle(rec, "running", []);
  }

  /** Calls `done` on every addon, last first. */
  async stop(): Promise<void> {
    this.isRunning = false;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const rec of [...this.active].reverse()) await this.callLifecycle(rec, "done", []);
  }

  /** Adds an option owned by no addon (the core's own options). */
  addOption<T>(spec: OptionSpec<T>): OptionHandle<T> {
    return this.options.add(spec);
  }

  /**
   * Changes options and tells every addon (`configure`). When an addon refuses
   * a value (throws OptionError), every option is set back, the addons are
   * configured with the old values, and the error is thrown.
   */
  async setOptions(changes: Record<string, unknown>): Promise<Set<string>> {
    const snapshot = this.options.snapshot();
    const updated = this.options.update(changes);
    if (updated.size === 0) return updated;
    try {
      for (const rec of this.active) await this.configureOne(rec, updated, true);
    } catch (err) {
      this.options.restore(snapshot, updated);
      for (const rec of this.active) {
        try {
          await rec.addon.configure?.call(rec.addon, updated, this.options.view);
        } catch {
          // The old values were accepted before; a second refusal changes nothing.
        }
      }
      this.rebuildHandlers();
      throw err;
    }
    return updated;
  }

  /** Parses and applies `name=value` strings; see Options.parseSetArgs. */
  async setFromStrings(args: readonly string[]): Promise<Set<string>> {
    return this.setOptions(this.options.parseSetArgs(args));
  }

  /**
   * Runs a hook through the chain: each addon that has it, in order, awaited.
   * An exception is logged with the addon's and hook's name and the chain goes
   * on. Returns synchronously when no addon (or only sync ones) handle it.
   */
  trigger<H extends HookName>(hook: H, ...args: HookArgs<H>): void | Promise<void> {
    const list = this.handlers.get(hook);
    const ran = list === undefined || list.length === 0 ? undefined : this.runFrom(list, 0, hook, args);
    if (PAUSING_HOOKS[hook] !== true) return ran;
    if (ran === undefined) return this.holdIfPaused(hook, args[0] as AnyFlow);
    return ran.then(() => this.holdIfPaused(hook, args[0] as AnyFlow));
  }

  /**
   * After the whole chain ran: a live flow some addon (or a tool) paused is held here until it
   * is resumed or killed, as mitmproxy holds it after the hook. Where the proxy waits for the
   * hook, it waits for this too (an HTTP client within idle_timeout, a message's direction).
   */
  private holdIfPaused(hook: HookName, flow: AnyFlow | undefined): void | Promise<void> {
    // Read defensively: a payload is whatever the caller gave (tests trigger hooks with none).
    if (flow?.intercepted !== true || !flow.live) return;
    const wait = flow.waitForResume();
    if (!wait) return;
    this.events.emit("intercept", flow, hook);
    return wait.then(() => void this.events.emit("resume", flow));
  }

  /** Whether any active addon has this hook (lets the core skip work nobody watches). */
  hasHandlers(hook: HookName): boolean {
    return (this.handlers.get(hook)?.length ?? 0) > 0;
  }

  private runFrom(list: HandlerList, start: number, hook: HookName, args: unknown[]): void | Promise<void> {
    for (let i = start; i < list.length; i++) {
      const rec = list[i]!;
      let pending: Promise<unknown> | undefined;
      try {
        pending = adopt((rec.addon[hook] as (...a: unknown[]) => unknown).apply(rec.addon, args));
      } catch (err) {
        this.reportHookError(rec, hook, err);
        continue;
      }
      if (pending) {
        const next = i + 1;
        const call = this.watchSlow(rec, hook, args[0]);
        return pending.then(
          () => {
            this.inFlight.delete(call);
            return this.runFrom(list, next, hook, args);
          },
          (err: unknown) => {
            this.inFlight.delete(call);
            this.reportHookError(rec, hook, err);
            return this.runFrom(list, next, hook, args);
          },
        );
      }
    }
  }

  /**
   * Registers an async hook call. A sweep once a second names, at debug level,
   * each call that has run longer than slowHookMs: a hook that never resolves
   * holds its own flow (and client) only, and `-v` says which addon holds it.
   */
  private watchSlow(rec: AddonRecord, hook: HookName, subject: unknown): InFlight {
    const call: InFlight = { rec, hook, subject, since: Date.now(), told: false };
    this.inFlight.add(call);
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweepSlow(), Math.min(1000, this.slowHookMs));
      // The watch alone must not keep a process alive.
      (this.sweeper as { unref?: () => void }).unref?.();
    }
    return call;
  }

  private sweepSlow(): void {
    if (this.inFlight.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = Date.now();
    for (const call of this.inFlight) {
      if (call.told || now - call.since < this.slowHookMs) continue;
      call.told = true;
      const secs = Math.round((now - call.since) / 100) / 10;
      this.log(
        "debug",
        `addon ${call.rec.label} has not finished ${call.hook} after ${secs} s${describeSubject(call.subject)}: that flow waits for it; other flows go on`,
      );
    }
  }

  private reportHookError(rec: AddonRecord, hook: string, err: unknown): void {
    const { message, kind, stack } = describeThrown(err);
    // Where it happened in the addon's own code, so the user can jump to it (scripts map this to their .ts file).
    const at = stack !== undefined ? userFrame(stack) : undefined;
    const shown = `${kind ? `${kind}: ` : ""}${logText(message, ERROR_MESSAGE_MAX)}`;
    this.noteError(rec, `failed in ${hook}: ${shown}`, at);
    // One line: a message may quote client data (JSON.parse quotes its input).
    this.log(
      "error",
      `addon ${rec.label} failed in ${hook}: ${kind ? `${kind}: ` : ""}${logText(message, ERROR_MESSAGE_MAX)}${at ? ` (at ${at})` : ""}`,
    );
    if (stack) this.log("debug", stack);
  }

  /** A warning for each method of a newly added addon that is named like a hook but is none (it would never run). */
  private warnMisspelledHooks(added: readonly AddonRecord[]): void {
    for (const rec of added) {
      for (const name of methodNames(rec.addon)) {
        const meant = meantHook(name);
        if (meant) this.log("warn", `'${name}' is not a hook and never runs: did you mean '${meant}'?`, rec.label);
      }
    }
  }

  private async configureOne(rec: AddonRecord, updated: ReadonlySet<string>, rethrowAll = false): Promise<void> {
    try {
      await rec.addon.configure?.call(rec.addon, updated, this.options.view);
    } catch (err) {
      if (err instanceof OptionError || (rethrowAll && isOptionErrorLike(err))) throw err;
      this.reportHookError(rec, "configure", err);
    } finally {
      // Options changed: a gate (hooksWhen) may say otherwise now.
      if (rec.gate) this.rebuildHandlers();
    }
  }

  private async callLifecycle(
    rec: AddonRecord,
    hook: "load" | "running" | "done",
    args: unknown[],
    rethrow = false,
  ): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- read once, called with apply(rec.addon) below
    const fn = rec.addon[hook] as ((...a: unknown[]) => unknown) | undefined;
    if (!fn) return;
    try {
      await fn.apply(rec.addon, args);
      if (hook === "load") rec.loadedAt = Date.now() / 1000;
    } catch (err) {
      if (rethrow || (hook === "load" && err instanceof OptionError)) throw err;
      this.reportHookError(rec, hook, err);
    }
  }

  /** Configures and starts addons that became active again (a replacement was removed). */
  private async revive(before: Set<AddonRecord>, fresh: AddonRecord[]): Promise<void> {
    const back = this.active.filter((r) => !before.has(r) && !fresh.includes(r));
    if (back.length === 0) return;
    const all = new Set(this.options.names());
    for (const rec of back) await this.callLifecycle(rec, "load", [this.makeLoader(rec)]);
    for (const rec of back) await this.configureOne(rec, all);
    if (this.isRunning) for (const rec of back) await this.callLifecycle(rec, "running", []);
  }

  private makeLoader(rec: AddonRecord): Loader {
    return {
      // One implementation behind Loader's typed overloads.
      addOption: (spec: OptionSpec) => this.options.add(spec, rec.label),
      options: this.options.view,
      log: this.logger(rec.label),
      events: this.events,
      state: rec.state,
      shutdown: (code = 0) => this.shutdownHandler?.(code),
      loadFlow: (flow) => playRecordedHooks(this, flow),
      replay: (flow) => {
        if (!this.replayer) return Promise.reject(new Error("replay needs a running proxy"));
        return this.replayer(flow);
      },
      addChild: (addon, opts = {}) => this.add(addon, Object.assign({}, opts, { parent: rec.addon })),
      removeChild: (addon) => this.remove(addon),
      replaceChild: (oldAddon, newAddon, opts = {}) => this.replace(oldAddon, newAddon, opts),
      setOptions: (changes) => this.setOptions(this.readLoosely(changes)),
      listOptions: () => this.listOptions(),
      listAddons: () => this.listAddons(),
      reloadAddon: (name) => this.reloadAddon(name),
      hooksWhen: (active) => {
        rec.gate = active;
        this.rebuildHandlers();
      },
      noteError: (message, child) => {
        const target = child === undefined ? rec : this.records.find((r) => r.addon === child);
        if (!target) throw new Error("noteError: that addon is not loaded");
        this.noteError(target, message, lastPlace(message));
      },
    };
  }

  /** Every option with its spec, value and owner. */
  listOptions(): OptionInfo[] {
    return this.options.specsList().map((spec) => {
      const info: OptionInfo = {
        name: spec.name,
        type: spec.type,
        default: spec.default,
        value: shownValue(spec, this.options.get(spec.name)),
        help: spec.help,
      };
      if (spec.choices) info.choices = spec.choices;
      if (spec.secret) info.secret = true;
      const owner = this.options.ownerOf(spec.name);
      if (owner !== undefined) info.owner = owner;
      return info;
    });
  }

  /** The active addons in chain order, described. */
  listAddons(): AddonInfo[] {
    const optionsOf = new Map<string, string[]>();
    for (const name of this.options.names()) {
      const owner = this.options.ownerOf(name);
      if (owner !== undefined) optionsOf.set(owner, [...(optionsOf.get(owner) ?? []), name]);
    }
    return this.active.map((rec) => {
      const info: AddonInfo = {
        name: rec.label,
        kind: rec.kind,
        hooks: HOOK_NAMES.filter((h) => typeof rec.addon[h] === "function"),
        options: optionsOf.get(rec.label) ?? [],
        reloadable: this.reloaderOf(rec) !== undefined,
        log: [...(this.addonLogs.get(rec.label) ?? [])],
      };
      if (rec.parent) info.parent = rec.parent.label;
      if (rec.source !== undefined) info.source = rec.source;
      if (rec.loadedAt !== undefined) info.loadedAt = rec.loadedAt;
      if (rec.lastError) info.lastError = { ...rec.lastError };
      return info;
    });
  }

  /** Reloads the active addon labelled `name` through whoever added it (a script loader). */
  async reloadAddon(name: string): Promise<void> {
    const rec = this.active.find((r) => r.label === name);
    if (!rec) throw new Error(`no addon named ${name}`);
    const reload = this.reloaderOf(rec);
    if (!reload) throw new Error(`addon ${name} cannot be reloaded (${rec.kind})`);
    await reload();
  }

  /** The reload of the addon or of the nearest ancestor that has one. */
  private reloaderOf(rec: AddonRecord): (() => Promise<void>) | undefined {
    for (let r: AddonRecord | undefined = rec; r; r = r.parent) if (r.reload) return r.reload;
    return undefined;
  }

  /** `setOptions` values as a tool may send them: strings for bools, numbers and lists read as `--set` reads them. */
  private readLoosely(changes: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(changes)) {
      const spec = this.options.spec(name);
      if (value === null && spec?.type === "optional-string") out[name] = undefined;
      else if (typeof value === "string" && spec && spec.type !== "string" && spec.type !== "optional-string")
        out[name] = this.options.parseValue(name, [value]);
      else out[name] = value;
    }
    return out;
  }

  private noteError(rec: AddonRecord, message: string, at: string | undefined): void {
    const error: AddonError = { message, timestamp: Date.now() / 1000 };
    const place = at === undefined ? undefined : /^(.*):(\d+):(\d+)$/.exec(at);
    if (place) {
      error.file = place[1]!;
      error.line = Number(place[2]);
      error.column = Number(place[3]);
    }
    rec.lastError = error;
    this.events.emit("addons");
  }

  private keepAddonLog(label: string, entry: LogEntry): void {
    let lines = this.addonLogs.get(label);
    if (!lines) this.addonLogs.set(label, (lines = []));
    lines.push(entry);
    if (lines.length > ADDON_LOG_LINES) lines.shift();
  }

  private flatten(
    addon: Addon,
    parent: AddonRecord | undefined,
    label: string | undefined,
    state: Record<string, unknown>,
    about: Pick<AddOptions, "kind" | "source" | "reload"> = {},
  ): AddonRecord[] {
    const seq = ++this.seq;
    const ctor = (addon as object).constructor;
    const className = typeof ctor === "function" && ctor !== Object && ctor.name ? ctor.name : undefined;
    const rec: AddonRecord = {
      addon,
      label: addon.name ?? label ?? className ?? `addon#${seq}`,
      key: addon.name,
      seq,
      parent,
      state,
      kind: about.kind ?? parent?.kind ?? "built-in",
      source: about.source ?? parent?.source,
      reload: about.reload,
      // An addon without `load` is loaded when added; one with it, when `load` succeeds.
      loadedAt: typeof addon.load === "function" ? undefined : Date.now() / 1000,
      lastError: undefined,
      gate: undefined,
      gateThrew: false,
    };
    const out = [rec];
    (addon.addons ?? []).forEach((child, i) => {
      // A child's reload state lives inside its parent's, by name or position.
      const key = `addon:${child.name ?? i}`;
      const holder = ((state as Record<symbol, Record<string, Record<string, unknown>>>)[CHILD_STATES] ??= {});
      const childState = (holder[key] ??= {});
      out.push(...this.flatten(child, rec, label, childState));
    });
    return out;
  }

  private subtreeEnd(rec: AddonRecord): number {
    let i = this.records.indexOf(rec) + 1;
    while (i < this.records.length && this.isDescendant(this.records[i]!, rec)) i++;
    return i;
  }

  private isDescendant(r: AddonRecord, ancestor: AddonRecord): boolean {
    for (let p = r.parent; p; p = p.parent) if (p === ancestor) return true;
    return false;
  }

  /** Recomputes the active chain: of addons sharing a name, the newest stands at the first one's place. */
  private rebuild(): void {
    const winners = new Map<string, AddonRecord>();
    for (const r of this.records) {
      if (r.key === undefined) continue;
      const w = winners.get(r.key);
      if (!w || r.seq > w.seq) winners.set(r.key, r);
    }
    // The newest of a name stands where the oldest (the one it replaced) stood.
    const anchors = new Map<string, AddonRecord>();
    for (const r of this.records) {
      if (r.key === undefined) continue;
      const a = anchors.get(r.key);
      if (!a || r.seq < a.seq) anchors.set(r.key, r);
    }
    const active: AddonRecord[] = [];
    for (const r of this.records) {
      if (r.key === undefined) active.push(r);
      else if (anchors.get(r.key) === r) active.push(winners.get(r.key)!);
    }
    this.active = active;
    this.rebuildHandlers();
  }

  /** Who runs each hook: the active addons that have it, less those `hooksWhen` turned off. */
  private rebuildHandlers(): void {
    const on = new Set(this.active.filter((r) => this.gateOpen(r)));
    const handlers = new Map<HookName, HandlerList>();
    for (const hook of HOOK_NAMES) {
      const lifecycle = LIFECYCLE_HOOKS.has(hook);
      handlers.set(
        hook,
        this.active.filter((r) => typeof r.addon[hook] === "function" && (lifecycle || on.has(r))),
      );
    }
    this.handlers = handlers;
  }

  private gateOpen(rec: AddonRecord): boolean {
    if (!rec.gate) return true;
    try {
      const open = rec.gate() !== false;
      rec.gateThrew = false;
      return open;
    } catch (err) {
      // A gate that throws is a bug in the addon: it stays on, and the error is told once.
      if (!rec.gateThrew) this.reportHookError(rec, "hooksWhen", err);
      rec.gateThrew = true;
      return true;
    }
  }
}

/** The longest addon error message shown whole on its error line (the stack, at debug, has all of it). */
const ERROR_MESSAGE_MAX = 1024;

/**
 * A hook's result as a promise when it is a thenable; undefined otherwise (the
 * chain stays synchronous). `then` is read once, here, so a getter that throws
 * throws inside the caller's try; calling it happens inside a Promise executor,
 * so a `then` that throws rejects, and one that calls back twice counts once.
 */
function adopt(result: unknown): Promise<unknown> | undefined {
  if (result === null || (typeof result !== "object" && typeof result !== "function")) return undefined;
  const then = (result as { then?: unknown }).then;
  if (typeof then !== "function") return undefined;
  return new Promise((resolve, reject) => {
    then.call(result, resolve, reject);
  });
}

/** Returns undefined instead of throwing. */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * The message and stack of anything thrown (or rejected with): an Error, a
 * string, undefined, an object whose `message`, `stack` or `toString` throws.
 * Describing a failure must not fail.
 */
function describeThrown(err: unknown): { message: string; kind: string | undefined; stack: string | undefined } {
  const isObject = err !== null && (typeof err === "object" || typeof err === "function");
  const own = isObject ? attempt(() => ("message" in err ? { value: (err as Error).message } : undefined)) : undefined;
  const value = own ? own.value : err;
  const message = typeof value === "string" ? value : logText(value, Infinity);
  const stack = isObject ? attempt(() => (err as Error).stack) : undefined;
  // The class says what kind of mistake it was (a SyntaxError from JSON.parse, a TypeError); plain Error says nothing.
  const name = attempt(() => (err instanceof Error ? err.name : undefined));
  const kind = typeof name === "string" && name !== "Error" && name !== "" ? logText(name, 64) : undefined;
  return { message, kind, stack: typeof stack === "string" ? stack : undefined };
}

/** The folder of this module: frames there are the proxy's (or the sdk's) own code, not the addon's. */
const OWN_DIR = (() => {
  const first = framePlaces(new Error().stack ?? "")[0];
  return first === undefined ? undefined : first.slice(0, first.lastIndexOf("/") + 1);
})();

/** The `file:line:column` places of a stack's frames, in order (`file://` URLs as paths). */
function framePlaces(stack: string): string[] {
  const places: string[] = [];
  for (const m of stack.matchAll(/\n\s+at (?:.*?\()?([^()\s]+:\d+:\d+)\)?/g)) {
    places.push(m[1]!.replace(/^file:\/\//, ""));
  }
  return places;
}

/**
 * The first frame of a failure in the addon's own files: not Node's, not the proxy's or the sdk's
 * (a bad body's `JSON.parse` inside `res.json()` is reported where the addon called it), and
 * preferably not an npm dependency's. Undefined when the stack names no such place.
 */
function userFrame(stack: string): string | undefined {
  const places = framePlaces(stack).filter((p) => !p.startsWith("node:") && !p.startsWith("internal/"));
  const notOwn = places.filter((p) => OWN_DIR === undefined || !p.startsWith(OWN_DIR));
  return notOwn.find((p) => !p.includes("/node_modules/")) ?? notOwn[0] ?? places[0];
}

/** mitmproxy's names of hooks that interloper names differently (beyond case and underscores). */
const MITMPROXY_HOOK_NAMES: Readonly<Record<string, HookName>> = {
  clientconnected: "clientConnect",
  clientdisconnected: "clientDisconnect",
  serverdisconnected: "serverDisconnect",
};

const NOT_HOOKS = new Set(["constructor", "name", "addons"]);

/**
 * The hook a method name probably meant (`reponse`, `requestHeaders`, `tls_clienthello`,
 * mitmproxy's `client_connected`), or undefined for a hook or a name like no hook.
 */
function meantHook(name: string): HookName | undefined {
  if ((HOOK_NAMES as readonly string[]).includes(name) || NOT_HOOKS.has(name)) return undefined;
  const loose = name.replace(/[-_]/g, "").toLowerCase();
  const alias = MITMPROXY_HOOK_NAMES[loose];
  if (alias) return alias;
  // A helper a couple of letters off a short hook is common (`reload`, `respond`): one edit only there.
  const limit = loose.length >= 10 ? 2 : 1;
  let best: { hook: HookName; distance: number } | undefined;
  for (const hook of HOOK_NAMES) {
    const distance = editDistance(loose, hook.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { hook, distance };
  }
  return best?.hook;
}

/** The function-valued properties of an addon: its own and its class's (up to Object). */
function methodNames(addon: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = addon; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const desc = Object.getOwnPropertyDescriptor(o, key);
      if (desc && typeof desc.value === "function") names.add(key);
    }
  }
  return [...names];
}

/** The last `file:line:column` in a message (a build error names the place last), if any. */
function lastPlace(message: string): string | undefined {
  const all = [...message.matchAll(/([^\s()'"]+?):(\d+):(\d+)/g)];
  const last = all[all.length - 1];
  return last ? `${last[1]}:${last[2]}:${last[3]}` : undefined;
}

function isOptionErrorLike(err: unknown): boolean {
  return err instanceof Error && err.name === "OptionError";
}

function checkAddon(addon: unknown, label: string | undefined): asserts addon is Addon {
  const where = label ? ` (${label})` : "";
  if (addon === null || typeof addon !== "object") {
    throw new TypeError(
      `not an addon${where}: expected an object with hook methods, got ${addon === null ? "null" : typeof addon}`,
    );
  }
  const a = addon as Record<string, unknown>;
  if (a.name !== undefined && typeof a.name !== "string")
    throw new TypeError(`not an addon${where}: its name must be a string`);
  if (a.addons !== undefined && !Array.isArray(a.addons))
    throw new TypeError(`not an addon${where}: 'addons' must be an array`);
  for (const hook of HOOK_NAMES) {
    if (a[hook] !== undefined && typeof a[hook] !== "function") {
      throw new TypeError(`not an addon${where}: '${hook}' must be a function`);
    }
  }
  for (const child of (a.addons as unknown[] | undefined) ?? []) checkAddon(child, label);
}
