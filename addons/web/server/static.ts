// The front-end's files, built by scripts/build.mjs into dist/web/: `/` is index.html (with a
// strict Content-Security-Policy), `/assets/…` the bundle. Nothing outside dist/web/assets
// can be named (no `..`, no absolute paths, no encoded slashes).
import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { sendText } from "./http-io.ts";

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Where the built front-end is: next to the bundled CLI (dist/cli.js → dist/web/), or, when
 * running from the sources (tests in process), the repository's dist/web/.
 */
export function defaultStaticDir(): string {
  const candidates = [new URL("./web/", import.meta.url), new URL("../../../dist/web/", import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return fileURLToPath(candidates[0]!);
}

/** Answers a static path; false when the path is not a static one (the caller answers 404). */
export function serveStatic(req: IncomingMessage, res: ServerResponse, path: string, dir: string): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  if (path === "/" || path === "/index.html") {
    const file = join(dir, "index.html");
    if (!isFile(file)) {
      sendText(res, 503, "The web UI is not built: run `npm run build` (it makes dist/web/).\n");
      return true;
    }
    res.setHeader("Content-Security-Policy", PAGE_CSP);
    sendFile(req, res, file);
    return true;
  }
  if (!path.startsWith("/assets/")) return false;
  let rel: string;
  try {
    rel = decodeURIComponent(path.slice("/assets/".length));
  } catch {
    return false;
  }
  const root = join(dir, "assets");
  const file = normalize(join(root, rel));
  if (rel.includes("\0") || !file.startsWith(root + sep) || !isFile(file)) return false;
  sendFile(req, res, file);
  return true;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string): void {
  const size = statSync(file).size;
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": size,
  });
  if (req.method === "HEAD") return void res.end();
  createReadStream(file)
    .on("error", () => res.destroy())
    .pipe(res);
}
