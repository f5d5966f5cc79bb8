import { snakeOptionName, type OptionSpec } from "@interloper/sdk";
import { ConfigError, where, type ConfigEntry, type ConfigSource } from "./source.ts";
import { configValue, ValueError } from "./values.ts";

/** An entry and the file it came from. */
export interface Placed extends ConfigEntry {
  file: string;
}

/** What the precedence rules need of the option registry. */
export interface OptionRegistry {
  spec(name: string): OptionSpec | undefined;
  get(name: string): unknown;
  /** The `--set` parser for one value of the option. */
  parseValue(name: string, raws: readonly string[]): unknown;
}

/** The config files' choices, one per option: a later source wins (the confdir's, then the project's). */
export function mergeSources(sources: readonly ConfigSource[]): Map<string, Placed> {
  const merged = new Map<string, Placed>();
  for (const source of sources)
    for (const [name, entry] of source.entries) merged.set(name, Object.assign({}, entry, { file: source.file }));
  return merged;
}

/** What to do with the files' options: the changes to apply, and what is reported instead. */
export interface Plan {
  /** Typed values for `setOptions`, by canonical name. */
  changes: Record<string, unknown>;
  /** Options read only at start-up whose file value differs from the running one: a restart is needed. */
  restart: Array<{ placed: Placed | undefined; name: string; value: unknown }>;
  /** Names no option has (yet: a script loaded by this very change may add them). */
  unknown: Placed[];
  /** Entries the command line overrides. */
  overridden: Placed[];
}

/**
 * Applies the precedence defaults < confdir file < project file < command line. `merged` is the
 * files' choice per option, `commandLine` the options the command line set (files never change
 * them), `previous` the options the files set before (one that left the files goes back to its
 * default). At start-up every file value is a change; later only what differs from the running
 * value, and options read only at start-up are reported instead. A value that cannot be one of
 * its option's throws a ConfigError naming its file and line.
 */
export function planChanges(
  merged: ReadonlyMap<string, Placed>,
  registry: OptionRegistry,
  opts: { commandLine: ReadonlySet<string>; previous: ReadonlySet<string>; startup: boolean },
): Plan {
  const plan: Plan = { changes: {}, restart: [], unknown: [], overridden: [] };
  const consider = (name: string, spec: OptionSpec, value: unknown, placed: Placed | undefined) => {
    const differs = !sameValue(value, registry.get(name));
    if (opts.startup) plan.changes[name] = value;
    else if (differs && spec.startupOnly) plan.restart.push({ placed, name, value });
    else if (differs) plan.changes[name] = value;
  };
  for (const [name, placed] of merged) {
    if (opts.commandLine.has(name)) {
      plan.overridden.push(placed);
      continue;
    }
    const spec = registry.spec(name);
    if (!spec) {
      plan.unknown.push(placed);
      continue;
    }
    consider(name, spec, typedValue(spec, placed, registry), placed);
  }
  for (const name of opts.previous) {
    if (merged.has(name) || opts.commandLine.has(name)) continue;
    const spec = registry.spec(name);
    if (spec) consider(name, spec, spec.default, undefined);
  }
  return plan;
}

/** The entry's value as its option holds it; a misfit is a ConfigError at the entry's file and line. */
export function typedValue(spec: OptionSpec, placed: Placed, registry: OptionRegistry): unknown {
  try {
    return configValue(spec, placed.value, (text) => registry.parseValue(spec.name, [text]));
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`${where(placed.file, placed.line)}: ${err.message}`);
    throw err;
  }
}

/**
 * Where an option's refusal (an OptionError from the registry or an addon's `configure`) points
 * in the files: the entry among `names` whose option the message names (`invalid value for
 * idle_timeout: …`), else the one whose value it quotes (`script not found: ./x.ts`).
 */
export function locate(
  message: string,
  merged: ReadonlyMap<string, Placed>,
  names: Iterable<string>,
): Placed | undefined {
  const candidates = [...names].map((n) => merged.get(n)).filter((p): p is Placed => p !== undefined);
  const named = candidates.find((p) => new RegExp(`\\b${snakeOptionName(p.name)}\\b`).test(message));
  if (named) return named;
  return candidates.find((p) => valueTexts(p.value).some((text) => message.includes(text)));
}

/** The texts a value holds (a number or boolean is too common a word to point at an entry). */
function valueTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(valueTexts);
  return typeof value === "string" && value.length > 1 ? [value] : [];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b || (a == null && b == null);
}
