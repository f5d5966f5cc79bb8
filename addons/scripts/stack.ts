import { SourceMap } from "node:module";

/**
 * Stack traces for bundled scripts: V8 reports positions in the bundle; these
 * are mapped back to the user's own files (`addon.ts:12:5`) through the
 * bundle's source map. Other frames are printed as V8 would.
 */
const maps = new Map<string, { map: SourceMap; dir: string }>();
let installed = false;

declare global {
  namespace NodeJS {
    interface CallSite {
      /** V8's text of the frame, as a stack trace prints it (@types/node leaves it out). */
      toString(): string;
    }
  }
}

export function registerSourceMap(filename: string, payload: object, dir: string): void {
  maps.set(filename, { map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]), dir });
  install();
}

export function unregisterSourceMap(filename: string): void {
  maps.delete(filename);
}

/** Maps a 1-based position in a bundle to `file:line:column` of the source, if known. */
export function mapPosition(filename: string, line: number, column: number): string | undefined {
  const entry = maps.get(filename);
  if (!entry) return undefined;
  const hit = entry.map.findEntry(line - 1, column - 1) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
  };
  if (!hit || hit.originalSource === undefined || hit.originalLine === undefined) return undefined;
  const source =
    hit.originalSource.startsWith("/") || hit.originalSource.startsWith("file:")
      ? hit.originalSource.replace(/^file:\/\//, "")
      : `${entry.dir}/${hit.originalSource}`;
  return `${source}:${hit.originalLine + 1}:${(hit.originalColumn ?? 0) + 1}`;
}

function install(): void {
  if (installed) return;
  installed = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- a function-valued property (typed as a method), called plainly as before
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error, frames): unknown => {
    if (maps.size === 0 || !frames.some((f) => maps.has(f.getFileName() ?? ""))) {
      if (previous) return previous(error, frames);
      return `${errorHeader(error)}${frames.map((f) => `\n    at ${f.toString()}`).join("")}`;
    }
    const lines = frames.map((f) => {
      const file = f.getFileName() ?? "";
      const mapped = maps.has(file) ? mapPosition(file, f.getLineNumber() ?? 0, f.getColumnNumber() ?? 0) : undefined;
      if (!mapped) return `\n    at ${f.toString()}`;
      const fn = f.getFunctionName() ?? f.getMethodName();
      const type = f.getTypeName();
      const name = fn ? (type && type !== "Object" && !fn.startsWith(type) ? `${type}.${fn}` : fn) : undefined;
      return name ? `\n    at ${name} (${mapped})` : `\n    at ${mapped}`;
    });
    return `${errorHeader(error)}${lines.join("")}`;
  };
}

function errorHeader(error: Error): string {
  try {
    const name = error.name ?? "Error";
    return error.message ? `${name}: ${error.message}` : name;
  } catch {
    return "Error";
  }
}
