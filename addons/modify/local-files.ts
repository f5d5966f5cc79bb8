import type { PythonRegex } from "@interloper/sdk";

/**
 * Which files under a map_local folder may answer a URL, most wanted first,
 * as mitmproxy picks them: the part of the URL after the regex's match (query
 * string and outer slashes removed), or the regex's first group if it has
 * one; percent-decoded; then that path with `/index.html`, then both again
 * with characters outside `[0-9a-zA-Z-_.=(),/]` replaced by `_`. An empty
 * part means the folder's `index.html`.
 *
 * `null` when the path would leave the folder (`..`, an absolute path, a
 * NUL): then no file is a candidate, and the request goes on to the server
 * as in mitmproxy. Symbolic links are checked where files are opened.
 * `url` must match `regex` (the caller searched it already).
 */
export function fileCandidates(url: string, regex: PythonRegex<string>, folder: string): string[] | null {
  const suffix = urlSuffix(url, regex);
  if (!suffix) return [joinPath(folder, ["index.html"])];
  const decoded = percentDecode(suffix);
  const relative = [decoded, `${decoded}/index.html`];
  const escaped = decoded.replace(/[^0-9a-zA-Z\-_.=(),/]/gu, "_");
  if (escaped !== decoded) relative.push(escaped, `${escaped}/index.html`);
  const out: string[] = [];
  for (const path of relative) {
    const parts = safeParts(path);
    if (parts === null) return null;
    out.push(joinPath(folder, parts));
  }
  return out;
}

/** The part of the URL that names the file. */
export function urlSuffix(url: string, regex: PythonRegex<string>): string | undefined {
  const m = regex.search(url);
  if (!m) return undefined;
  if (regex.groups > 0) return m.group(1);
  const rest = url.slice(m.end);
  const path = rest.split("?")[0]!;
  return path.replace(/^\/+|\/+$/g, "");
}

/**
 * A relative path's components, or null when it is not one that stays inside
 * a folder: absolute, with a `..` component, or holding a NUL (which no file
 * name can). `.` and empty components drop out, as in Python's `Path.parts`.
 */
export function safeParts(path: string): string[] | null {
  if (path.startsWith("/") || path.includes("\0")) return null;
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  return parts.includes("..") ? null : parts;
}

function joinPath(folder: string, parts: string[]): string {
  if (parts.length === 0) return folder;
  return `${folder.endsWith("/") ? folder.slice(0, -1) : folder}/${parts.join("/")}`;
}

/**
 * Python's `urllib.parse.unquote`: each run of `%XX` escapes is read as UTF-8
 * (a bad sequence becomes U+FFFD); a `%` not followed by two hex digits stays.
 */
export function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ""), "hex").toString("utf8"));
}
