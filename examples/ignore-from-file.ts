/**
 * ignore-from-file: keeps a list of `--ignore-hosts` patterns in a text file
 * and applies every change to it at once, without restarting interloper.
 *
 *   interloper -s examples/ignore-from-file.ts --set ignore_hosts_file=~/.interloper/ignore.txt
 *
 * The file holds one pattern per line, with the meaning of `--ignore-hosts`
 * (a regex searched in `host:port`, case-insensitive); blank lines and lines
 * starting with `#` are skipped:
 *
 *   # banking apps pin their certificates
 *   (^|\.)mybank\.example:443$
 *   ^10\.0\.0\.\d+:
 *
 * This extends the built-in hosts addon rather than replacing it: a
 * connection the file does not match is left undecided, so `--ignore-hosts`
 * and `--allow-hosts` still apply after it.
 */
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, resolve } from "node:path";
import {
  compileHostPatterns,
  decideHosts,
  describeDecision,
  formatAddress,
  patternWarnings,
  type Addon,
  type HostPatterns,
  type Loader,
  type Logger,
  type NextLayerData,
  type OptionsView,
} from "@interloper/sdk";

/** Editors save in bursts (truncate, write, rename): read once the burst is over. */
const DEBOUNCE_MS = 50;

export class IgnoreFromFile implements Addon {
  readonly name = "ignore-from-file";
  /** The compiled patterns now in force. */
  patterns: HostPatterns[] = [];
  private file: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every read: a slow read that finishes after a newer one is dropped. */
  private generation = 0;
  private log!: Logger;

  load(loader: Loader): void {
    loader.addOption<string | undefined>({
      name: "ignoreHostsFile",
      type: "optional-string",
      default: undefined,
      help: "A file of --ignore-hosts patterns, one per line (# comments); re-read when it changes.",
    });
    this.log = loader.log;
  }

  async configure(updated: ReadonlySet<string>, options: OptionsView): Promise<void> {
    if (!updated.has("ignoreHostsFile")) return;
    this.stopWatching();
    const value = options.get<string | undefined>("ignoreHostsFile");
    this.file = value ? resolve(value.replace(/^~(?=$|\/)/, homedir())) : undefined;
    this.patterns = [];
    if (!this.file) return;
    // Read before returning: the rules are in force before the first connection.
    await this.reload(true);
    this.startWatching(this.file);
  }

  done(): void {
    this.stopWatching();
  }

  nextLayer(data: NextLayerData): void {
    // An earlier addon decided: respect it, as the built-in does.
    if (data.ignoreConnection !== undefined || this.patterns.length === 0) return;
    const d = decideHosts(
      { allow: [], ignore: this.patterns },
      {
        destination: data.server.address,
        resolved: data.server.peername,
        clientHello: data.clientHello,
        hostHeader: data.hostHeader,
        outerSni: data.client.tlsEstablished ? data.client.sni : undefined,
        final: data.final,
      },
    );
    if (d.action === "wait") data.needMoreData = true;
    else if (d.action === "ignore") {
      data.ignoreConnection = true;
      this.log.debug(`${formatAddress(data.client.peername)}: ${describeDecision(d)}`);
    }
    // "intercept" stays undecided on purpose: the built-in hosts addon (--ignore-hosts,
    // --allow-hosts) runs after us and may still ignore the connection.
  }

  /** One pattern per line; an invalid line is logged and skipped, the others still apply. */
  private parse(text: string, file: string, warn: boolean): HostPatterns[] {
    const out: HostPatterns[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const where = `${file}:${i + 1}`;
      try {
        // compileHostPatterns applies --ignore-hosts' exact rules (Python spellings included)
        // and names the line in its error.
        out.push(...compileHostPatterns([line], where));
      } catch (err) {
        this.log.error((err as Error).message);
        return;
      }
      if (warn) for (const w of patternWarnings(line, where)) this.log.warn(w);
    });
    return out;
  }

  private async reload(initial = false): Promise<void> {
    const file = this.file;
    if (!file) return;
    const generation = ++this.generation;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (generation !== this.generation) return;
      // Keep the last good rules: a half-finished save must not let pinned hosts be intercepted.
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.log.warn(
        `cannot read ${file} (${code}): ${initial ? "no patterns yet" : `keeping the ${this.patterns.length} patterns read before`}`,
      );
      return;
    }
    if (generation !== this.generation || file !== this.file) return;
    this.patterns = this.parse(text, file, true);
    this.log.info(
      `${initial ? "read" : "re-read"} ${file}: ${this.patterns.length} pattern${this.patterns.length === 1 ? "" : "s"}`,
    );
  }

  private startWatching(file: string): void {
    // Watch the directory, not the file: an editor that saves by renaming a new
    // file over the old one would leave a watch on the old file's inode deaf.
    try {
      this.watcher = watch(dirname(file), (_event, name) => {
        if (name !== null && name.toString() !== basename(file)) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.reload(), DEBOUNCE_MS);
      });
    } catch (err) {
      this.log.error(`cannot watch ${file}: ${(err as Error).message}; changes need a restart`);
      return;
    }
    this.watcher.on("error", (err) => this.log.warn(`watching ${file} failed: ${err.message}`));
  }

  private stopWatching(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    // A read still in flight must not bring back the old file's rules.
    this.generation++;
  }
}

export default new IgnoreFromFile();
