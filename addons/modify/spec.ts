import { compileFilter, FilterError, logText, OptionError, type FlowFilter } from "@interloper/sdk";

/**
 * One value of map_remote, map_local, modify_headers or modify_body, split as
 * mitmproxy splits it: the first character is the separator, then an optional
 * flow filter, the subject (a regex or a header name) and the replacement:
 * `|~q|Host|example.org`, `:foo:bar`. There is no escaping: the separator may
 * appear in the replacement (it is the rest of the value) and nowhere else,
 * so a user picks a separator the filter and subject do not contain.
 */
export interface Spec {
  /** The value as given, for messages. */
  readonly text: string;
  /** `undefined` when the spec has no filter: every flow matches. */
  readonly filter: FlowFilter | undefined;
  /** The filter as written (undefined: none). */
  readonly filterText: string | undefined;
  readonly subject: string;
  readonly replacement: string;
}

/** A value that is not a spec: the reason, without the option and value (`refuse` adds them). */
export class SpecError extends Error {}

export function parseSpec(text: string): Spec {
  if (text.length === 0) throw new SpecError("empty: expected [SEP]flow-filter[SEP]subject[SEP]replacement");
  const sep = String.fromCodePoint(text.codePointAt(0)!);
  const parts = splitMax(text.slice(sep.length), sep, 2);
  if (parts.length < 2)
    throw new SpecError(`expected 2 or 3 parts separated by '${sep}' (the first character), found ${parts.length}`);
  const [filterText, subject, replacement] = parts.length === 2 ? [undefined, ...parts] : parts;
  return {
    text,
    filter: filterText === undefined ? undefined : filterOf(filterText),
    filterText,
    subject: subject!,
    replacement: replacement!,
  };
}

/** `text.split(sep)` with at most `max` splits, the rest kept whole (Python's `str.split(sep, max)`). */
function splitMax(text: string, sep: string, max: number): string[] {
  const parts: string[] = [];
  let from = 0;
  while (parts.length < max) {
    const at = text.indexOf(sep, from);
    if (at === -1) break;
    parts.push(text.slice(from, at));
    from = at + sep.length;
  }
  parts.push(text.slice(from));
  return parts;
}

function filterOf(expr: string): FlowFilter {
  if (expr.trim() === "") throw new SpecError("empty filter expression");
  try {
    return compileFilter(expr);
  } catch (err) {
    if (err instanceof FilterError) throw new SpecError(`invalid filter: ${err.message}`);
    throw err;
  }
}

/**
 * The one line a refused value gets, naming the option and the value:
 * `invalid value for modify_headers '|~q|': expected 2 or 3 parts …`.
 */
export function refuse(option: string, text: string, reason: string): OptionError {
  return new OptionError(`invalid value for ${option} '${logText(text)}': ${logText(reason)}`);
}

/** Parses every value of a list option with `parse`; the first bad one refuses the change. */
export async function parseAll<T>(
  option: string,
  values: readonly string[],
  parse: (text: string) => T | Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (const text of values) {
    try {
      out.push(await parse(text));
    } catch (err) {
      if (err instanceof SpecError) throw refuse(option, text, err.message);
      throw err;
    }
  }
  return out;
}
