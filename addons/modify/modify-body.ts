import {
  compilePythonRegex,
  logText,
  PythonRegexError,
  type Addon,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
  type PythonRegex,
  type PythonTemplate,
} from "@interloper/sdk";
import { replacementBytes, replacementSource, unescaped } from "./replacement.ts";
import { parseAll, parseSpec, SpecError, type Spec } from "./spec.ts";

/** One `[SEP]filter[SEP]regex[SEP]replacement` rule. */
export interface BodyRule {
  readonly spec: Spec;
  readonly regex: PythonRegex<Buffer>;
  /** An inline replacement, compiled once; a file's contents are a template too, compiled at each use. */
  readonly replacement: PythonTemplate | { readonly file: string };
}

/**
 * Reads one modify_body value; throws SpecError for a bad one. The regex and
 * an inline replacement are bytes with Python's string escapes decoded, as
 * mitmproxy reads them; the regex is searched with `.` matching newlines
 * (re.DOTALL) and an inline replacement may refer to groups as re.sub's does.
 */
export async function parseBodyRule(text: string): Promise<BodyRule> {
  const spec = parseSpec(text);
  if (spec.subject === "") throw new SpecError("empty regex");
  const pattern = unescaped(spec.subject, "regex");
  let regex: PythonRegex<Buffer>;
  try {
    regex = compilePythonRegex(pattern, { dotall: true });
  } catch (err) {
    if (err instanceof PythonRegexError) throw new SpecError(`invalid regex: ${err.message} at position ${err.index}`);
    throw err;
  }
  const source = await replacementSource(spec.replacement);
  try {
    if ("file" in source) {
      // Checked now too, so that a file that is wrong from the start stops the start-up.
      regex.template(await replacementBytes(source));
      return { spec, regex, replacement: source };
    }
    return { spec, regex, replacement: regex.template(source.bytes) };
  } catch (err) {
    if (!(err instanceof PythonRegexError)) throw err;
    const where = "file" in source ? ` in ${source.file}` : "";
    throw new SpecError(`invalid replacement${where}: ${err.message}`);
  }
}

/**
 * The body a rule makes of `content`. As in mitmproxy 8.1.1 (our reference), the replacement is
 * re.sub's template whether inline or from a file (`\1`, `\g<name>`, `\n`; a backslash is written
 * `\\`). A file is read and compiled each time, so an edit applies at once; one that is no longer
 * a valid template throws an error naming the file (the caller warns; the body stays as it was).
 * (Today's mitmproxy takes both literally; 8.1.1's behaviour is the one interloper follows.)
 */
export async function applyBodyRule(rule: BodyRule, content: Buffer): Promise<Buffer> {
  if ("parts" in rule.replacement) return rule.regex.sub(rule.replacement, content);
  const bytes = await replacementBytes(rule.replacement);
  let template: PythonTemplate;
  try {
    template = rule.regex.template(bytes);
  } catch (err) {
    if (!(err instanceof PythonRegexError)) throw err;
    throw new Error(
      `${rule.replacement.file} is not a valid replacement template (${err.message}): body left as it was`,
      { cause: err },
    );
  }
  return rule.regex.sub(template, content);
}

/**
 * modify_body (`-B`): regex replacements in the decoded bodies of requests
 * (in `request`) and responses (in `response`); the body is encoded again as
 * its Content-Encoding says. Streamed bodies go by unseen, as in mitmproxy.
 */
export class ModifyBody implements Addon {
  readonly name = "modifybody";
  private option: OptionHandle<string[]> | undefined;
  private rules: BodyRule[] = [];
  private loader: Loader | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.rules.length > 0);
    this.loader = loader;
    this.option = loader.addOption({
      name: "modifyBody",
      type: "strings",
      default: [],
      help:
        'Body replacements "[SEP]flow-filter[SEP]regex[SEP]replacement" (SEP: the first character; the filter is ' +
        "optional; Python regex, \\g<1> refers to a group): on requests and responses; @path reads the replacement from a file.",
    });
  }

  async configure(updated: ReadonlySet<string>, options: Loader["options"]): Promise<void> {
    if (updated.has("modifyBody")) this.rules = await parseAll("modify_body", this.option!.get(), parseBodyRule);
    const streaming = options.has("streamLargeBodies") && Boolean(options.get("streamLargeBodies"));
    if (this.rules.length > 0 && streaming && (updated.has("modifyBody") || updated.has("streamLargeBodies")))
      this.loader!.log.warn("modify_body and stream_large_bodies are both set: streamed bodies are not modified");
  }

  // No promise without rules: each would cost every request a wait, a slow-hook entry and a timer.
  request(flow: HTTPFlow): void | Promise<void> {
    if (this.rules.length === 0 || flow.response || flow.error || !flow.live) return;
    return this.run(flow);
  }

  response(flow: HTTPFlow): void | Promise<void> {
    if (this.rules.length === 0 || flow.error || !flow.live) return;
    return this.run(flow);
  }

  private async run(flow: HTTPFlow): Promise<void> {
    const message = flow.response ?? flow.request;
    if (message.stream) return;
    for (const rule of this.rules) {
      if (rule.spec.filter !== undefined && !rule.spec.filter(flow)) continue;
      try {
        const content = message.content;
        const next = await applyBodyRule(rule, content);
        if (!next.equals(content)) message.content = next;
      } catch (err) {
        this.loader!.log.warn(`modify_body: ${logText(rule.spec.text)}: ${logText((err as Error).message)}`);
      }
    }
  }
}
