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
import { parseAll, parseSpec, SpecError, type Spec } from "./spec.ts";

/** One `[SEP]filter[SEP]url-regex[SEP]replacement` rule. */
export interface RemoteRule {
  readonly spec: Spec;
  readonly regex: PythonRegex<string>;
  readonly replacement: PythonTemplate;
}

/** A Python regex from a spec's subject, or a SpecError saying what is wrong with it. */
export function urlRegex(spec: Spec): PythonRegex<string> {
  if (spec.subject === "") throw new SpecError("empty regex");
  try {
    return compilePythonRegex(spec.subject);
  } catch (err) {
    if (err instanceof PythonRegexError) throw new SpecError(`invalid regex: ${err.message} at position ${err.index}`);
    throw err;
  }
}

/** Reads one map_remote value; throws SpecError for a bad one. */
export function parseRemoteRule(text: string): RemoteRule {
  const spec = parseSpec(text);
  const regex = urlRegex(spec);
  try {
    return { spec, regex, replacement: regex.template(spec.replacement) };
  } catch (err) {
    if (err instanceof PythonRegexError) throw new SpecError(`invalid replacement: ${err.message}`);
    throw err;
  }
}

/** The URL after one rule: Python's `re.sub(regex, replacement, url)`. */
export function mapUrl(rule: RemoteRule, url: string): string {
  return rule.regex.sub(rule.replacement, url);
}

/**
 * map_remote (`-M`): in `request`, each rule whose filter matches rewrites the
 * request's URL (as the log shows it: the Host header's name) by regex; a
 * changed URL sends the request to the new server, Host header included.
 */
export class MapRemote implements Addon {
  readonly name = "mapremote";
  private option: OptionHandle<string[]> | undefined;
  private rules: RemoteRule[] = [];
  private loader: Loader | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.rules.length > 0);
    this.loader = loader;
    this.option = loader.addOption({
      name: "mapRemote",
      type: "strings",
      default: [],
      help:
        'URL rewrites "[SEP]flow-filter[SEP]url-regex[SEP]replacement" (SEP: the first character; the filter is ' +
        "optional; Python regex, \\1 and \\g<name> refer to groups): the request goes to the new URL.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (updated.has("mapRemote")) this.rules = await parseAll("map_remote", this.option!.get(), parseRemoteRule);
  }

  request(flow: HTTPFlow): void {
    if (this.rules.length === 0 || flow.response || flow.error || !flow.live) return;
    for (const rule of this.rules) {
      if (rule.spec.filter !== undefined && !rule.spec.filter(flow)) continue;
      const url = flow.request.prettyUrl;
      const next = mapUrl(rule, url);
      // Setting the URL also sets the Host header: only when the rule changed something.
      if (next === url) continue;
      try {
        flow.request.url = next;
      } catch (err) {
        this.loader!.log.warn(
          `map_remote: ${logText(rule.spec.text)} made '${logText(next)}': ${logText((err as Error).message)}`,
        );
      }
    }
  }
}
