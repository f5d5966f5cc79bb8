import { shownValue, snakeOptionName, type OptionSpec } from "@interloper/sdk";
import type { Options } from "@interloper/sdk/host";

/** Help text is wrapped at this width, as comments. */
const WIDTH = 78;

/**
 * `interloper --options`: every option, grouped by who defines it (the core, then each addon
 * in chain order), each as a commented `name: value` line with its help, type and default.
 * The values are the current ones (after the config files and the command line), written as
 * YAML; a secret option's (a password) is shown as `********` once set.
 */
export function formatOptions(options: Options): string {
  const groups = new Map<string, OptionSpec[]>();
  for (const spec of options.specsList()) {
    const owner = options.ownerOf(spec.name) ?? "core";
    groups.set(owner, [...(groups.get(owner) ?? []), spec]);
  }
  const out: string[] = [];
  for (const [owner, specs] of groups) {
    out.push(`# ==== ${owner === "core" ? "the proxy (core)" : `addon ${owner}`} ====`, "");
    for (const spec of specs) out.push(...describeOption(spec, options.get(spec.name)), "");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

function describeOption(spec: OptionSpec, value: unknown): string[] {
  const facts = [`Type ${typeName(spec)}`, `default ${yaml(spec.default)}`];
  if (spec.choices) facts.push(`one of ${spec.choices.join(", ")}`);
  const text = `${spec.help.trim()}${spec.help.trim() ? " " : ""}${facts.join(", ")}.`;
  const shown = yaml(shownValue(spec, value));
  return [...wrap(text, WIDTH - 2).map((line) => `# ${line}`), `${snakeOptionName(spec.name)}: ${shown}`];
}

function typeName(spec: OptionSpec): string {
  switch (spec.type) {
    case "bool":
      return "bool";
    case "number":
      return "number";
    case "strings":
      return "list of strings";
    case "optional-string":
      return "string or nothing";
    default:
      return "string";
  }
}

/** A value as YAML: JSON's spelling is valid YAML for every value an option holds. */
function yaml(value: unknown): string {
  return value === undefined ? "null" : JSON.stringify(value);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
