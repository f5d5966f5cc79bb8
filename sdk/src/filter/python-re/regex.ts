import { RegexProblem } from "./problem.ts";
import { parseTemplate, type TemplatePart } from "./template.ts";
import { translatePythonRegex } from "./translate.ts";

/** Python's `re` flags that change what a pattern means. */
export interface PythonRegexFlags {
  /** `re.IGNORECASE` */
  ignoreCase?: boolean;
  /** `re.MULTILINE`: `^` and `$` at every line. */
  multiline?: boolean;
  /** `re.DOTALL`: `.` matches a newline too. */
  dotall?: boolean;
}

/**
 * A pattern or template Python's `re` would refuse (or one with no JavaScript
 * translation). `index` is where, in the pattern or template: in characters of
 * a text pattern, in bytes of a bytes pattern.
 */
export class PythonRegexError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
    this.name = "PythonRegexError";
  }
}

/** One match, as Python's `re.Match`: positions in the subject, groups by number or name. */
export interface PythonMatch<T extends string | Buffer> {
  readonly start: number;
  readonly end: number;
  /** A group's text (`0` or nothing: the whole match); `undefined` for a group that took no part. */
  group(which?: number | string): T | undefined;
}

/** A replacement read once (`PythonRegex.template`): checked against the pattern's groups. */
export interface PythonTemplate {
  readonly parts: readonly TemplatePart[];
}

type Replacement<T extends string | Buffer> = T | PythonTemplate | ((match: PythonMatch<T>) => T);
/** A JavaScript match's named groups: all of the pattern's groups, by their JavaScript names. */
type Named = Record<string, string | undefined> | undefined;

/**
 * A Python `re` pattern with `search` and `sub` meaning what they mean in
 * Python, for code that takes mitmproxy's regexes from users (`modify_body`,
 * `map_remote`, …). A text pattern works on strings (positions are JavaScript
 * string indexes); a bytes pattern (given as a Buffer, like Python's `b"…"`)
 * works on Buffers (positions are byte offsets).
 */
export class PythonRegex<T extends string | Buffer> {
  /** Python's `groups`: how many capturing groups the pattern has. */
  readonly groups: number;
  /** Python's `groupindex`: the named groups' numbers. */
  readonly groupIndex: ReadonlyMap<string, number>;
  private readonly once: RegExp;
  private readonly all: RegExp;
  private readonly names: readonly string[];

  /** Use `compilePythonRegex`. */
  constructor(
    readonly pattern: T,
    flags: PythonRegexFlags = {},
  ) {
    const bytes = typeof pattern !== "string";
    const source = bytes ? pattern.toString("latin1") : pattern;
    let t;
    try {
      t = translatePythonRegex(source, {
        bytes,
        latin1: true,
        ignoreCase: flags.ignoreCase === true,
        multiline: flags.multiline === true,
        dotall: flags.dotall === true,
      });
      this.once = new RegExp(t.source, t.flags);
      this.all = new RegExp(t.source, `${t.flags}g`);
    } catch (err) {
      if (err instanceof RegexProblem) throw new PythonRegexError(err.message, err.index);
      // What the translation let through and V8 still refuses (a pattern too large for its compiler).
      throw new PythonRegexError((err as Error).message.replace(/^Invalid regular expression: \/.*\/\w*: /s, ""), 0);
    }
    this.names = t.groupNames;
    this.groups = t.groupNames.length - 1;
    this.groupIndex = t.groupIndex;
  }

  /** Python's `search`: the first match anywhere in `subject`, or null. */
  search(subject: T): PythonMatch<T> | null {
    const text = this.text(subject);
    const m = this.once.exec(text);
    if (!m) return null;
    return this.match(m[0], m.index, m.groups);
  }

  /**
   * Python's `sub`: every match (or the first `count`) replaced. A string or
   * Buffer replacement is a template (`\1`, `\g<name>`, `\n`, as Python reads
   * it); a function's result is taken as it is. Throws `PythonRegexError` for
   * a template Python would refuse.
   */
  sub(replacement: Replacement<T>, subject: T, count = 0): T {
    const text = this.text(subject);
    const expand = this.expander(replacement);
    let done = 0;
    const out = text.replace(this.all, (...args: unknown[]) => {
      const whole = args[0] as string;
      if (count > 0 && done >= count) return whole;
      done++;
      // replace() hands over (match, groups by JavaScript's numbers…, offset, subject[, named groups]).
      const last = args[args.length - 1];
      const named = typeof last === "object" ? (last as Record<string, string | undefined>) : undefined;
      const offset = args[args.length - (named ? 3 : 2)] as number;
      return expand(whole, offset, named);
    });
    return this.wrap(out);
  }

  /** Reads `replacement` as Python reads a template, checked against this pattern's groups. */
  template(replacement: T): PythonTemplate {
    const text = this.text(replacement);
    try {
      return { parts: parseTemplate(text, { count: this.groups, index: this.groupIndex, bytes: this.isBytes() }) };
    } catch (err) {
      if (err instanceof RegexProblem) throw new PythonRegexError(err.message, err.index);
      throw err;
    }
  }

  /** What one match becomes, from the match, its offset and its named groups (every group is named). */
  private expander(replacement: Replacement<T>): (whole: string, offset: number, named: Named) => string {
    if (typeof replacement === "function")
      return (whole, offset, named) => this.text(replacement(this.match(whole, offset, named)));
    const parts: readonly TemplatePart[] = isTemplate(replacement)
      ? replacement.parts
      : this.template(replacement).parts;
    if (parts.length === 0) return () => "";
    if (parts.length === 1 && typeof parts[0] === "string") {
      const only = parts[0];
      return () => only;
    }
    return (whole, _offset, named) => {
      let out = "";
      for (const part of parts) {
        if (typeof part === "string") out += part;
        else if (part.group === 0) out += whole;
        else out += named?.[this.names[part.group]!] ?? "";
      }
      return out;
    };
  }

  private match(whole: string, start: number, named: Named): PythonMatch<T> {
    return {
      start,
      end: start + whole.length,
      group: (which = 0) => {
        const n = typeof which === "number" ? which : this.groupIndex.get(which);
        if (n === undefined || !Number.isInteger(n) || n < 0 || n > this.groups)
          throw new PythonRegexError(`no such group: ${String(which)}`, 0);
        const text = n === 0 ? whole : named?.[this.names[n]!];
        return text === undefined ? undefined : this.wrap(text);
      },
    };
  }

  private isBytes(): boolean {
    return typeof this.pattern !== "string";
  }

  private text(value: T | string | Buffer): string {
    if (typeof value === "string") return value;
    // A view of the same bytes, not a copy (Buffer.from(buffer) copied every body searched).
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
  }

  private wrap(text: string): T {
    return (this.isBytes() ? Buffer.from(text, "latin1") : text) as T;
  }
}

function isTemplate<T extends string | Buffer>(value: T | PythonTemplate): value is PythonTemplate {
  return typeof value === "object" && !Buffer.isBuffer(value);
}

/**
 * Compiles a Python `re` pattern: `compilePythonRegex("(?P<id>\\d+)")` for
 * text, `compilePythonRegex(Buffer.from("…"))` for bytes (Python's `b"…"`).
 * Throws `PythonRegexError` for what Python refuses.
 *
 * ```ts
 * const rx = compilePythonRegex("//example\\.org/(\\w+)");
 * rx.sub("//example.com/\\g<1>", url);
 * ```
 */
export function compilePythonRegex(pattern: string, flags?: PythonRegexFlags): PythonRegex<string>;
export function compilePythonRegex(pattern: Uint8Array, flags?: PythonRegexFlags): PythonRegex<Buffer>;
export function compilePythonRegex(
  pattern: string | Uint8Array,
  flags: PythonRegexFlags = {},
): PythonRegex<string> | PythonRegex<Buffer> {
  if (typeof pattern === "string") return new PythonRegex(pattern, flags);
  return new PythonRegex(Buffer.from(pattern.buffer, pattern.byteOffset, pattern.byteLength), flags);
}
