import {
  logText,
  parseFilter,
  type Addon,
  type FilterNode,
  type Headers,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
} from "@interloper/sdk";
import { replacementBytes, replacementSource, unescaped, type ReplacementSource } from "./replacement.ts";
import { parseAll, parseSpec, SpecError, type Spec } from "./spec.ts";

/** One `[SEP]filter[SEP]name[SEP]value` rule. */
export interface HeaderRule {
  readonly spec: Spec;
  /** The field name (latin1, as on the wire). */
  readonly name: string;
  readonly value: ReplacementSource;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BREAKS = /[\r\n\0]/;

/** Reads one modify_headers value; throws SpecError for a bad one. */
export async function parseHeaderRule(text: string): Promise<HeaderRule> {
  const spec = parseSpec(text);
  const name = unescaped(spec.subject, "header name").toString("latin1");
  if (name === "") throw new SpecError("empty header name");
  if (!TOKEN.test(name)) throw new SpecError(`invalid header name '${name}'`);
  const value = await replacementSource(spec.replacement);
  if ("bytes" in value && BREAKS.test(value.bytes.toString("latin1")))
    throw new SpecError("a header value cannot hold CR, LF or NUL");
  return { spec, name, value };
}

/** The operators that look at bodies. */
const BODY_OPERATORS = new Set(["~b", "~bq", "~bs"]);

/**
 * The body operators (`~b`, `~bq`, `~bs`) a filter uses. modify_headers runs in requestheaders
 * and responseheaders (as current mitmproxy; 8.1.1 ran in request and response), before any
 * body is read, so such a filter never matches there: the addon warns about it.
 */
export function bodyOperators(filterText: string | undefined): string[] {
  if (filterText === undefined) return [];
  const found = new Set<string>();
  const walk = (node: FilterNode): void => {
    if (node.kind === "operator") {
      if (BODY_OPERATORS.has(node.operator)) found.add(node.operator);
    } else if (node.kind === "not") walk(node.item);
    else node.items.forEach(walk);
  };
  walk(parseFilter(filterText));
  return [...found];
}

/**
 * A header value from a file: its bytes as latin1 (the wire's spelling), the
 * line break an editor leaves at the end taken off. What still holds a line
 * break or NUL cannot be a header value.
 */
export function fileHeaderValue(bytes: Buffer): string {
  const value = bytes.toString("latin1").replace(/[\r\n]+$/, "");
  if (BREAKS.test(value)) throw new Error("the file holds a line break or NUL inside its first line");
  return value;
}

/**
 * Applies the rules to one message's headers, as mitmproxy does: every filter
 * is asked first (against the flow before any change), then each matching
 * rule's name is removed, then each matching rule with a non-empty value adds
 * its field. So `|~q|X-A|1` and `|~q|X-A|2` leave both fields, and an empty
 * value only removes.
 */
export async function applyHeaderRules(
  rules: readonly HeaderRule[],
  flow: HTTPFlow,
  headers: Headers,
  warn: (message: string) => void,
): Promise<void> {
  const matching = rules.filter((rule) => rule.spec.filter === undefined || rule.spec.filter(flow));
  for (const rule of matching) headers.delete(rule.name);
  for (const rule of matching) {
    let value: string;
    try {
      const bytes = await replacementBytes(rule.value);
      value = "bytes" in rule.value ? bytes.toString("latin1") : fileHeaderValue(bytes);
    } catch (err) {
      warn(`modify_headers: could not read the value of ${rule.name}: ${(err as Error).message}`);
      continue;
    }
    if (value !== "") headers.append(rule.name, value);
  }
}

/**
 * modify_headers (`-H`): sets, replaces or removes header fields of requests
 * and responses. As in today's mitmproxy it acts on the heads
 * (`requestheaders`, `responseheaders`), so streamed messages are changed too;
 * a filter that looks at bodies sees none there.
 */
export class ModifyHeaders implements Addon {
  readonly name = "modifyheaders";
  private option: OptionHandle<string[]> | undefined;
  private rules: HeaderRule[] = [];
  private loader: Loader | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.rules.length > 0);
    this.loader = loader;
    this.option = loader.addOption({
      name: "modifyHeaders",
      type: "strings",
      default: [],
      help:
        'Header rules "[SEP]flow-filter[SEP]name[SEP]value" (SEP: the first character; the filter is optional): ' +
        "remove the name's fields and add name: value; an empty value only removes, @path reads the value from a file.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (!updated.has("modifyHeaders")) return;
    this.rules = await parseAll("modify_headers", this.option!.get(), parseHeaderRule);
    for (const rule of this.rules) {
      const operators = bodyOperators(rule.spec.filterText);
      if (operators.length === 0) continue;
      this.loader?.log.warn(
        `modify_headers '${logText(rule.spec.text)}': ${operators.join(", ")} never matches here: headers are ` +
          "modified in requestheaders/responseheaders, before the body is read (use a script to set headers by body)",
      );
    }
  }

  // No promise without rules: each would cost every request a wait, a slow-hook entry and a timer.
  requestheaders(flow: HTTPFlow): void | Promise<void> {
    if (this.rules.length === 0 || flow.response || flow.error || !flow.live) return;
    return applyHeaderRules(this.rules, flow, flow.request.headers, this.warn);
  }

  responseheaders(flow: HTTPFlow): void | Promise<void> {
    if (this.rules.length === 0 || !flow.response || flow.error || !flow.live) return;
    return applyHeaderRules(this.rules, flow, flow.response.headers, this.warn);
  }

  private readonly warn = (message: string): void => this.loader?.log.warn(message);
}
