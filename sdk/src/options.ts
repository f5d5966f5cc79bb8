/** The kinds of option value. */
export type OptionType = "bool" | "string" | "optional-string" | "number" | "strings";

interface SpecBase {
  /** camelCase (`ignoreHosts`); the CLI also takes snake_case and kebab-case. */
  name: string;
  help: string;
  /**
   * Read once at start-up (a listener's port, the confdir): a change while the proxy runs is not
   * applied, and a config file that changes it is told a restart is needed.
   */
  startupOnly?: boolean;
  /**
   * A password or credential (`proxyauth`, `upstream_auth`): its value is never shown. `--options`,
   * `loader.listOptions()` (and so the web UI) and the config files' messages show `********`.
   */
  secret?: boolean;
}

interface Choices {
  /** The allowed values. */
  choices?: readonly string[];
}

interface NoChoices {
  /** Only string options have choices. */
  choices?: never;
}

/** Each option type with the `default` (and value) it takes. */
interface SpecByType {
  bool: SpecBase & NoChoices & { type: "bool"; default: boolean };
  string: SpecBase & Choices & { type: "string"; default: string };
  "optional-string": SpecBase & Choices & { type: "optional-string"; default: string | undefined };
  number: SpecBase & NoChoices & { type: "number"; default: number };
  strings: SpecBase & NoChoices & { type: "strings"; default: string[] };
}

/** The value an option of type `K` holds. */
export type OptionValue<K extends OptionType> = SpecByType[K]["default"];

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Declares one option: a union keyed on `type`, so `default` must have that
 * type's value (`{ type: "bool", default: "x" }` does not compile). `T`, when
 * given, is the value type and picks the option types that hold exactly it
 * (`OptionSpec<string | undefined>` is an `optional-string` spec).
 */
export type OptionSpec<T = unknown> = unknown extends T
  ? SpecByType[OptionType]
  : { [K in OptionType]: Same<T, OptionValue<K>> extends true ? SpecByType[K] : never }[OptionType];

/** What a spec's option holds: its type's value, narrowed to `choices` when they are literal. */
export type SpecValue<S extends OptionSpec> = S extends { type: "string"; choices: readonly (infer C)[] }
  ? C
  : S extends { type: "optional-string"; choices: readonly (infer C)[] }
    ? C | undefined
    : OptionValue<S["type"]>;

/** A spec as JavaScript may hand it over (no compiler checked it): the registry checks it at run time. */
export interface UncheckedOptionSpec {
  name: string;
  type: OptionType;
  default: unknown;
  help: string;
  choices?: readonly string[];
  startupOnly?: boolean;
  secret?: boolean;
}

/** What a secret option's value is shown as, once set. */
export const SECRET_MASK = "********";

/**
 * An option's value as it may be shown (a listing, a log line, the web UI): a secret option's
 * value, when set, is `********`; unset (nothing, an empty text or list) shows as it is, so that
 * whether it is set can still be seen.
 */
export function shownValue(spec: { secret?: boolean }, value: unknown): unknown {
  if (!spec.secret || value === undefined || value === null || value === "") return value;
  if (Array.isArray(value)) return value.map(() => SECRET_MASK);
  return SECRET_MASK;
}

/** The live value of one option, typed: what `loader.addOption` returns. */
export interface OptionHandle<T> {
  /** The option's name (camelCase). */
  readonly name: string;
  /** The current value (a copy for lists: changing it changes nothing). */
  get(): T;
}

/** A value a user gave that an option cannot take. The message names the option and the value. */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

/**
 * The options every interloper has, for typed access (`options.ignoreHosts`).
 * Addons with options of their own can extend it by declaration merging.
 */
export interface OptionValues {
  [name: string]: unknown;
}

/** Read access to the live options. */
export type OptionsView = Readonly<OptionValues> & {
  get<T = unknown>(name: string): T;
  has(name: string): boolean;
};

const NOT_CANONICAL = /[-_]|^\s|\s$/;

/** `ignore_hosts`, `ignore-hosts` and `ignoreHosts` all name `ignoreHosts`. */
export function canonicalOptionName(name: string): string {
  // Most callers already pass the canonical name (handles, typed access): no new string for them.
  if (!NOT_CANONICAL.test(name)) return name;
  return name.trim().replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `ignoreHosts` → `ignore_hosts`, the spelling mitmproxy users know. */
export function snakeOptionName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A name compared loosely: case, `_` and `-` do not count (`Teapot_Path` is `teapotpath`). */
function looseName(name: string): string {
  return name.replace(/[-_]/g, "").toLowerCase();
}

/** The edit distance (insertions, deletions, substitutions) between two short names. */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + cost));
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * The candidate a mistyped name most likely meant, compared loosely (case, `_`, `-`), or
 * undefined when none is close: at most one edit in four characters (one for short names).
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const want = looseName(name);
  const limit = Math.max(1, Math.floor(want.length / 4));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(want, looseName(candidate));
    if (distance <= limit && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/**
 * The typed option registry: specs, current values, values given before their
 * option exists (deferred until an addon adds it).
 */
export class Options {
  private readonly specs = new Map<string, OptionSpec>();
  private readonly values = new Map<string, unknown>();
  private readonly deferred = new Map<string, string[]>();
  /** Names the user set (even to the default value). */
  private readonly given = new Set<string>();
  /** The addon that added each option (none for the proxy's own), for listings. */
  private readonly owners = new Map<string, string>();
  /** The live view addons read. */
  readonly view: OptionsView;

  constructor() {
    // Arrow functions: the traps read this Options, not the handler.
    this.view = new Proxy(Object.create(null) as object, {
      get: (_t, prop) => {
        if (prop === "get") return (name: string) => this.get(name);
        if (prop === "has") return (name: string) => this.has(name);
        if (typeof prop !== "string") return undefined;
        return cloneValue(this.values.get(prop));
      },
      has: (_t, prop) => typeof prop === "string" && this.values.has(prop),
      ownKeys: () => [...this.values.keys()],
      getOwnPropertyDescriptor: (_t, prop) => {
        if (typeof prop !== "string" || !this.values.has(prop)) return undefined;
        return { value: this.values.get(prop), enumerable: true, configurable: true, writable: false };
      },
      set: () => {
        throw new TypeError("options are read-only here: change them through the proxy (e.g. --set)");
      },
    }) as OptionsView;
  }

  /**
   * Adds an option. Adding the same spec again (a reloaded addon) keeps the
   * current value; a different type under the same name is an error.
   */
  add<T = unknown>(spec: UncheckedOptionSpec, owner?: string): OptionHandle<T> {
    const name = spec.name;
    if (!/^[a-z][a-zA-Z0-9]*$/.test(name)) throw new Error(`option name must be camelCase: ${name}`);
    const existing = this.specs.get(name);
    if (existing) {
      if (existing.type !== spec.type) throw new Error(`option ${name} is already defined with type ${existing.type}`);
      this.specs.set(name, spec as OptionSpec);
    } else {
      this.checkValue(spec, spec.default);
      this.specs.set(name, spec as OptionSpec);
      this.values.set(name, cloneValue(spec.default));
      if (owner !== undefined) this.owners.set(name, owner);
    }
    // Read on every request by most built-in addons: the name is canonical already.
    return { name, get: () => this.valueOf<T>(name) };
  }

  /** Drops the option (used when the addon that added it goes away). */
  remove(name: string): void {
    this.specs.delete(name);
    this.values.delete(name);
    this.owners.delete(name);
  }

  /** The label of the addon that added the option; undefined for the proxy's own options. */
  ownerOf(name: string): string | undefined {
    return this.owners.get(canonicalOptionName(name));
  }

  has(name: string): boolean {
    return this.specs.has(canonicalOptionName(name));
  }

  /** Whether the option was ever set (as opposed to still having its default untouched). */
  wasSet(name: string): boolean {
    return this.given.has(canonicalOptionName(name));
  }

  /** `unknown option: teapot_pth (did you mean teapot_path?)`, for each of `names`. */
  unknownMessage(names: readonly string[]): string {
    const known = this.names();
    const described = names.map((name) => {
      const meant = closestName(name, known);
      return meant === undefined ? name : `${name} (did you mean ${snakeOptionName(meant)}?)`;
    });
    return `unknown option${names.length > 1 ? "s" : ""}: ${described.join(", ")}`;
  }

  get<T = unknown>(name: string): T {
    return this.valueOf<T>(canonicalOptionName(name), name);
  }

  private valueOf<T>(key: string, asked: string = key): T {
    const value = this.values.get(key);
    if (value === undefined && !this.specs.has(key)) throw new OptionError(this.unknownMessage([asked]));
    // A copy: changing a list in place must not bypass validation and configure.
    return cloneValue(value) as T;
  }

  spec(name: string): OptionSpec | undefined {
    return this.specs.get(canonicalOptionName(name));
  }

  specsList(): OptionSpec[] {
    return [...this.specs.values()];
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  /** The current values (a copy), for rolling back a refused change. */
  snapshot(): Map<string, unknown> {
    return new Map([...this.values].map(([k, v]) => [k, cloneValue(v)]));
  }

  restore(snapshot: Map<string, unknown>, names: Iterable<string>): void {
    for (const name of names) if (snapshot.has(name)) this.values.set(name, snapshot.get(name));
  }

  /**
   * Sets typed values. Every value is checked first: on an error nothing
   * changes. Returns the names whose value actually changed.
   */
  update(changes: Record<string, unknown>): Set<string> {
    const checked = new Map<string, unknown>();
    for (const [rawName, value] of Object.entries(changes)) {
      const name = canonicalOptionName(rawName);
      const spec = this.specs.get(name);
      if (!spec) throw new OptionError(this.unknownMessage([rawName]));
      this.checkValue(spec, value);
      checked.set(name, value);
    }
    const changed = new Set<string>();
    for (const name of checked.keys()) this.given.add(name);
    for (const [name, value] of checked) {
      if (sameValue(this.values.get(name), value)) continue;
      this.values.set(name, cloneValue(value));
      changed.add(name);
    }
    return changed;
  }

  /**
   * Parses `name=value` strings (as `--set` gives them; a list option takes
   * each repetition as one more item) into typed changes. Names no option has
   * yet are kept for later (`takeDeferred`).
   */
  parseSetArgs(args: readonly string[]): Record<string, unknown> {
    const grouped = new Map<string, string[]>();
    for (const arg of args) {
      const eq = arg.indexOf("=");
      if (eq <= 0) throw new OptionError(`invalid --set argument '${arg}': expected name=value`);
      const name = canonicalOptionName(arg.slice(0, eq));
      const list = grouped.get(name) ?? [];
      list.push(arg.slice(eq + 1));
      grouped.set(name, list);
    }
    const changes: Record<string, unknown> = {};
    for (const [name, raws] of grouped) {
      if (!this.specs.has(name)) {
        this.deferred.set(name, [...(this.deferred.get(name) ?? []), ...raws]);
        continue;
      }
      changes[name] = this.parseValue(name, raws);
    }
    return changes;
  }

  /** Deferred `--set` values whose option now exists, parsed; they are removed from the deferred list. */
  takeDeferred(): Record<string, unknown> {
    const changes: Record<string, unknown> = {};
    for (const [name, raws] of this.deferred) {
      if (!this.specs.has(name)) continue;
      this.deferred.delete(name);
      changes[name] = this.parseValue(name, raws);
    }
    return changes;
  }

  /** Names given with `--set` that no addon defined. */
  unknownDeferred(): string[] {
    return [...this.deferred.keys()];
  }

  /** Parses the string form of a value: `true|false` for bools, sizes as given, one string per list item. */
  parseValue(name: string, raws: readonly string[]): unknown {
    const spec = this.specs.get(canonicalOptionName(name));
    if (!spec) throw new OptionError(this.unknownMessage([name]));
    const shown = snakeOptionName(spec.name);
    if (spec.type === "strings") return raws.filter((r) => r !== "");
    const raw = raws[raws.length - 1]!;
    switch (spec.type) {
      case "bool": {
        const v = raw.trim().toLowerCase();
        if (v === "true" || v === "" || v === "1" || v === "yes" || v === "on") return true;
        if (v === "false" || v === "0" || v === "no" || v === "off") return false;
        throw new OptionError(`invalid value for ${shown}: '${raw}' (expected true or false)`);
      }
      case "number": {
        const n = Number(raw);
        if (raw.trim() === "" || !Number.isFinite(n))
          throw new OptionError(`invalid value for ${shown}: '${raw}' (expected a number)`);
        return n;
      }
      case "optional-string":
        return raw === "" ? undefined : raw;
      default:
        return raw;
    }
  }

  private checkValue(spec: UncheckedOptionSpec, value: unknown): void {
    const shown = snakeOptionName(spec.name);
    const bad = (expected: string) =>
      new OptionError(`invalid value for ${shown}: ${JSON.stringify(value)} (expected ${expected})`);
    switch (spec.type) {
      case "bool":
        if (typeof value !== "boolean") throw bad("true or false");
        break;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) throw bad("a number");
        break;
      case "string":
        if (typeof value !== "string") throw bad("a string");
        break;
      case "optional-string":
        if (value !== undefined && value !== null && typeof value !== "string") throw bad("a string or nothing");
        break;
      case "strings":
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw bad("a list of strings");
        break;
    }
    if (spec.choices && typeof value === "string" && !spec.choices.includes(value)) {
      throw new OptionError(`invalid value for ${shown}: '${value}' (expected one of ${spec.choices.join(", ")})`);
    }
  }
}

function cloneValue<T>(v: T): T {
  return (Array.isArray(v) ? [...v] : v) as T;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b || (a == null && b == null);
}
