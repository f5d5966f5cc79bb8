// Helpers for the script-loader suites: script files in temp folders, the
// ways editors save a file, and a median for the latency report.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A temp folder for script files (under os.tmpdir(), or under `base` when given); `remove()` deletes it. */
export interface ScriptDir {
  dir: string;
  /** Writes `name` (plainly, like `echo > file`) and returns its absolute path. */
  write(name: string, content: string): string;
  path(name: string): string;
  remove(): void;
}

export function scriptDir(prefix = "interloper-scripts-", base = tmpdir()): ScriptDir {
  const dir = mkdtempSync(join(base, prefix));
  return {
    dir,
    write: (name, content) => {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let atomicSeq = 0;
/** An atomic save: the new content goes to a temp file in the same folder, which is renamed over the file. */
export function atomicWrite(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${++atomicSeq}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** A save that deletes the file and creates it anew (a new inode), as some editors and tools do. */
export function deleteAndRecreate(path: string, content: string): void {
  unlinkSync(path);
  writeFileSync(path, content);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
