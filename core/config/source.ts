import { homedir } from "node:os";
import { isAbsolute, relative } from "node:path";
import { OptionError } from "@interloper/sdk";

/** One option as a config file gives it. */
export interface ConfigEntry {
  /** The option's canonical (camelCase) name. */
  name: string;
  /** The name as written in the file (`ssl_insecure`), for messages. */
  key: string;
  /** The value as the file holds it (YAML or JavaScript), not yet checked against the option. */
  value: unknown;
  /** Where the entry is: the 1-based line, when known. */
  line: number | undefined;
}

/** What one config file gave: its entries, by canonical name, in file order. */
export interface ConfigSource {
  /** The file's path (absolute). */
  file: string;
  entries: Map<string, ConfigEntry>;
}

/**
 * A config file that cannot be used: the message starts with `file:line:`. An OptionError, so
 * that at start-up it ends the process the way a bad `--set` does (one line, exit code 2).
 */
export class ConfigError extends OptionError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `~/.interloper/config.yaml`, `interloper.config.ts` (under the working directory), else the absolute path. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  if (rel && !rel.startsWith("..") && !isAbsolute(rel)) return rel;
  const home = homedir();
  if (home && file.startsWith(`${home}/`)) return `~${file.slice(home.length)}`;
  return file;
}

/** `config.yaml:7` (or just the file when the line is unknown): where a message points. */
export function where(file: string, line: number | undefined): string {
  return line === undefined ? displayPath(file) : `${displayPath(file)}:${line}`;
}

/** Adds an entry; the same option twice (`listen_port` and `listenPort`) is an error naming both lines. */
export function addEntry(source: ConfigSource, entry: ConfigEntry): void {
  const earlier = source.entries.get(entry.name);
  if (earlier) {
    const first = earlier.line === undefined ? "" : ` (first at line ${earlier.line})`;
    throw new ConfigError(`${where(source.file, entry.line)}: option '${entry.key}' is given twice${first}`);
  }
  source.entries.set(entry.name, entry);
}
