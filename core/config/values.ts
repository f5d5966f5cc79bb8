import { snakeOptionName, type OptionSpec } from "@interloper/sdk";

/** Why a config value does not fit its option (the caller adds file:line). */
export class ValueError extends Error {}

/**
 * Turns a value from a config file into what the option holds, as far as its type goes (the
 * option's own checks, choices and the addons' `configure`, come after): YAML `true` for a bool,
 * `8080` for a number, a list of strings for a list option. Words the command line accepts are
 * accepted too (`yes`, `"8080"`: `parse` is the registry's `--set` parser), a number or boolean
 * where text is expected is taken as its text (`body_size_limit: 100`), a single value where a
 * list is expected is a one-item list, and null leaves an optional string or a list empty.
 */
export function configValue(spec: OptionSpec, raw: unknown, parse: (text: string) => unknown): unknown {
  const expected = (what: string) =>
    new ValueError(`invalid value for ${snakeOptionName(spec.name)}: ${describe(raw)} (expected ${what})`);
  switch (spec.type) {
    case "strings": {
      if (raw === null) return [];
      const items = Array.isArray(raw) ? (raw as unknown[]) : [raw];
      if (!items.every(isScalarText)) throw expected("a list of strings");
      return items.map((item) => String(item));
    }
    case "bool":
      if (typeof raw === "boolean") return raw;
      // An empty text means true to --set (`--set ssl_insecure`); in a file it is more likely a slip.
      if ((typeof raw === "string" && raw.trim() !== "") || typeof raw === "number")
        return parseOr(parse, String(raw), expected("true or false"));
      throw expected("true or false");
    case "number":
      if (typeof raw === "number") return raw;
      if (typeof raw === "string") return parseOr(parse, raw, expected("a number"));
      throw expected("a number");
    case "optional-string":
      if (raw === null || raw === undefined) return undefined;
      if (isScalarText(raw)) return String(raw);
      throw expected("a string or nothing");
    case "string":
      if (isScalarText(raw)) return String(raw);
      throw expected("a string");
  }
}

function isScalarText(v: unknown): v is string | number | boolean {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean";
}

/** The `--set` parser's reading of `text`, or `fallback` thrown with the config's own wording. */
function parseOr(parse: (text: string) => unknown, text: string, fallback: ValueError): unknown {
  try {
    return parse(text);
  } catch {
    throw fallback;
  }
}

/** A value as the message shows it: JSON for data, `a mapping` for objects (never their whole contents). */
export function describe(raw: unknown): string {
  if (raw === null || raw === undefined) return "nothing";
  if (Array.isArray(raw)) return "a list";
  if (typeof raw === "object") return "a mapping";
  if (typeof raw === "function") return "a function";
  if (typeof raw === "bigint" || typeof raw === "symbol") return String(raw);
  const text = JSON.stringify(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
