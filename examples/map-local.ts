/**
 * map-local: answers requests under a URL prefix from files in a local
 * directory, e.g. to try a local build of a site's scripts against production.
 *
 *   interloper -s examples/map-local.ts \
 *     --set map_local_prefix=https://example.com/static/ --set map_local_dir=./dist
 *
 * `https://example.com/static/js/app.js?v=3` is answered with `./dist/js/app.js`;
 * a missing file is a 404 (the server is not asked: you asked for local files);
 * a path that tries to leave the directory (`..`) is a 403.
 */
import { readFile } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { defineAddon, Response, type HTTPFlow, type Loader, type OptionsView } from "@interloper/sdk";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

/**
 * The path below the prefix as file-system segments, or `undefined` when it
 * must be refused. Segments are decoded one by one, so `%2e%2e` and `..%2f`
 * are caught as well as a literal `..`.
 */
function safeSegments(rest: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of rest.split("/")) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined; // malformed %-escape
    }
    if (seg === "" || seg === ".") continue;
    if (seg === ".." || /[/\\\0]/.test(seg)) return undefined;
    out.push(seg);
  }
  return out;
}

function page(status: number, text: string): Response {
  return Response.make(status, `${text}\n`, { "Content-Type": "text/plain; charset=utf-8" });
}

export default defineAddon({
  name: "map-local",
  prefix: "",
  dir: "",

  load(loader: Loader) {
    loader.addOption<string>({
      name: "mapLocalPrefix",
      type: "string",
      default: "",
      help: "URL prefix answered from map_local_dir, e.g. https://example.com/static/.",
    });
    loader.addOption<string>({
      name: "mapLocalDir",
      type: "string",
      default: "",
      help: "Directory whose files answer requests under map_local_prefix.",
    });
  },

  configure(_updated: ReadonlySet<string>, options: OptionsView) {
    this.prefix = options.get<string>("mapLocalPrefix");
    // Resolved once, so the containment check below compares absolute paths.
    const dir = options.get<string>("mapLocalDir");
    this.dir = dir ? resolve(dir) : "";
  },

  async request(flow: HTTPFlow) {
    if (!this.prefix || !this.dir || flow.response) return;
    // The Host header's name, not the address: in transparent mode `url` would hold an IP.
    const url = flow.request.prettyUrl;
    if (!url.startsWith(this.prefix)) return;
    let rest = url.slice(this.prefix.length);
    // A prefix without a trailing slash still ends at a segment: /static is not /static-old.
    if (!this.prefix.endsWith("/") && rest !== "" && !/^[/?#]/.test(rest)) return;
    rest = rest.replace(/[?#].*$/s, "");
    const segments = safeSegments(rest);
    if (!segments) {
      flow.response = page(403, "path traversal refused");
      return;
    }
    if (segments.length === 0 || rest.endsWith("/")) segments.push("index.html");
    const file = join(this.dir, ...segments);
    // Belt and braces: whatever the segments were, never read outside the directory.
    if (!file.startsWith(this.dir + sep)) {
      flow.response = page(403, "path traversal refused");
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      flow.response =
        code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR"
          ? page(404, `not found: ${segments.join("/")}`)
          : page(500, `cannot read the file: ${code ?? err}`);
      return;
    }
    flow.response = Response.make(200, body, {
      "Content-Type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      // The files change while you work on them: never let the browser cache them.
      "Cache-Control": "no-store",
    });
  },
});
