import { readFile, realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import {
  logText,
  Response,
  SDK_VERSION,
  type Addon,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
  type PythonRegex,
} from "@interloper/sdk";
import { contentTypeOf } from "./content-types.ts";
import { fileCandidates } from "./local-files.ts";
import { urlRegex } from "./map-remote.ts";
import { expandUser } from "./replacement.ts";
import { parseAll, parseSpec, SpecError, type Spec } from "./spec.ts";

/** One `[SEP]filter[SEP]url-regex[SEP]path` rule. */
export interface LocalRule {
  readonly spec: Spec;
  readonly regex: PythonRegex<string>;
  /** The file or folder, symbolic links resolved (as mitmproxy's `resolve(strict=True)`). */
  readonly path: string;
}

/** Reads one map_local value; the path must exist now, or the spec is refused. */
export async function parseLocalRule(text: string): Promise<LocalRule> {
  const spec = parseSpec(text);
  const regex = urlRegex(spec);
  if (spec.replacement === "") throw new SpecError("empty path");
  const given = expandUser(spec.replacement);
  try {
    return { spec, regex, path: await realpath(given) };
  } catch (err) {
    throw new SpecError(`invalid file path ${given}: ${(err as Error).message}`);
  }
}

/**
 * map_local (`--map-local`): in `request`, a URL a rule matches is answered
 * from a local file, or from a file under a local folder (see
 * `fileCandidates`), with a content type from the file name; the server is
 * not asked. When rules matched but none of their files exists, the answer is
 * mitmproxy's empty `404 Not Found`. Nothing outside a rule's folder is
 * served: not by `..` (also percent-encoded), not through a symbolic link.
 */
export class MapLocal implements Addon {
  readonly name = "maplocal";
  private option: OptionHandle<string[]> | undefined;
  private rules: LocalRule[] = [];
  private loader: Loader | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.rules.length > 0);
    this.loader = loader;
    this.option = loader.addOption({
      name: "mapLocal",
      type: "strings",
      default: [],
      help:
        'Answer from local files: "[SEP]flow-filter[SEP]url-regex[SEP]file-or-folder" (SEP: the first character; ' +
        "the filter is optional). A folder serves the URL's rest below it (index.html for folders).",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (updated.has("mapLocal")) this.rules = await parseAll("map_local", this.option!.get(), parseLocalRule);
  }

  // No promise without rules: each would cost every request a wait, a slow-hook entry and a timer.
  request(flow: HTTPFlow): void | Promise<void> {
    if (this.rules.length === 0 || flow.response || flow.error || !flow.live) return;
    return this.serve(flow);
  }

  private async serve(flow: HTTPFlow): Promise<void> {
    const url = flow.request.prettyUrl;
    const tried: string[] = [];
    for (const rule of this.rules) {
      if (rule.spec.filter !== undefined && !rule.spec.filter(flow)) continue;
      if (!rule.regex.search(url)) continue;
      const candidates = await this.candidates(rule, url);
      tried.push(...candidates);
      const file = await firstServable(candidates, rule.path, this.note);
      if (file === undefined) continue;
      let contents: Buffer;
      try {
        contents = await readFile(file.real);
      } catch (err) {
        this.loader!.log.warn(`map_local: could not read ${logText(file.real)}: ${logText((err as Error).message)}`);
        continue;
      }
      const type = contentTypeOf(file.name);
      flow.response = Response.make(200, contents, {
        Server: `interloper ${SDK_VERSION}`,
        ...(type === undefined ? {} : { "Content-Type": type }),
      });
      return;
    }
    if (tried.length === 0) return;
    flow.response = Response.make(404);
    this.loader!.log.info(`None of the local file candidates exist: ${logText(tried.join(", "), 2048)}`);
  }

  private async candidates(rule: LocalRule, url: string): Promise<string[]> {
    if (await isFile(rule.path)) return [rule.path];
    const found = fileCandidates(url, rule.regex, rule.path);
    if (found === null) {
      this.note(`map_local: ${logText(url)} names a path outside ${logText(rule.path)}: not served`);
      return [];
    }
    return found;
  }

  private readonly note = (message: string): void => this.loader?.log.info(message);
}

/**
 * The first candidate that is a file whose real path is inside `folder` (a
 * rule's own file is always fine), with that real path: it is what is read,
 * so a link changed after the check cannot lead elsewhere.
 */
async function firstServable(
  candidates: readonly string[],
  folder: string,
  note: (message: string) => void,
): Promise<{ name: string; real: string } | undefined> {
  for (const name of candidates) {
    if (!(await isFile(name))) continue;
    if (name === folder) return { name, real: name };
    // A symbolic link (the file or a folder on the way) may point anywhere: the real path decides.
    const real = await realpath(name).catch(() => undefined);
    if (real !== undefined && isInside(real, folder)) return { name, real };
    note(`map_local: ${logText(name)} leads outside ${logText(folder)}: not served`);
  }
  return undefined;
}

function isInside(path: string, folder: string): boolean {
  const root = folder.endsWith(sep) ? folder : `${folder}${sep}`;
  return path.startsWith(root);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
