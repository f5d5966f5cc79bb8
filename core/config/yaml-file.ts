import { canonicalOptionName } from "@interloper/sdk";
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import { addEntry, ConfigError, where, type ConfigSource } from "./source.ts";

/**
 * Reads a `config.yaml` as mitmproxy does: a mapping of option names to values (lists as YAML
 * lists); an empty file (or one of comments only) sets nothing. Names are taken in snake_case or
 * camelCase. Every mistake is a ConfigError naming `file:line`: YAML syntax, a top level that is
 * not a mapping, a key that is not a name, an option given twice. Whether a name is an option,
 * and whether its value fits, is for the option registry to say (see values.ts).
 */
export function parseYamlConfig(text: string, file: string): ConfigSource {
  const source: ConfigSource = { file, entries: new Map() };
  const lineCounter = new LineCounter();
  // Aliases are expanded at most 100 times (the package's default): a "billion laughs" file is refused.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const line = error.linePos?.[0]?.line;
    throw new ConfigError(`${where(file, line)}: YAML syntax error: ${shortYamlMessage(error.message)}`);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return source;
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  if (!isMap(root)) {
    throw new ConfigError(
      `${where(file, lineAt(root.range?.[0]))}: expected option names with values (name: value), found ${describeNode(root)}`,
    );
  }
  for (const pair of root.items) {
    const keyNode = pair.key;
    const line = lineAt(isNode(keyNode) ? keyNode.range?.[0] : undefined);
    const key = isScalar(keyNode) ? keyNode.value : undefined;
    if (typeof key !== "string" || !/^[A-Za-z][\w-]*$/.test(key)) {
      const shown = isScalar(keyNode) ? JSON.stringify(keyNode.value) : "a complex key";
      throw new ConfigError(`${where(file, line)}: ${shown} is not an option name`);
    }
    let value: unknown;
    try {
      value = isNode(pair.value) ? pair.value.toJS(doc) : (pair.value ?? null);
    } catch (err) {
      // An alias expanded more often than allowed ("billion laughs"), or one that names no anchor.
      throw new ConfigError(`${where(file, line)}: ${(err as Error).message}`);
    }
    addEntry(source, { name: canonicalOptionName(key), key, value, line });
  }
  return source;
}

/** The yaml package's message without its position (we print file:line) and the source excerpt. */
function shortYamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "").replace(/:$/, "");
}

function describeNode(node: unknown): string {
  if (isScalar(node)) return `a single value (${JSON.stringify(node.value)})`;
  return "a list";
}
