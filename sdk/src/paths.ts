import { homedir } from "node:os";

/**
 * `~` and `~/…` as the user's home folder, as mitmproxy's options read paths (Python's
 * `expanduser` for the current user); every other path as it is. One helper, so that every
 * option that takes a path (confdir, @file values, map_local, scripts) reads `~` the same way.
 */
export function expandHome(path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return `${homedir()}${path.slice(1)}`;
  return path;
}
