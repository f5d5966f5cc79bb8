// Which recorded flow answers a request: mitmproxy's loose match. Two
// requests are the same when scheme, method, path, body (or the form fields
// not ignored), Host, port, the query fields not ignored and the headers the
// user names all agree; each part can be left out by an option.
import { createHash } from "node:crypto";
import type { Request } from "@interloper/sdk";
import { formFields } from "./form-fields.ts";

export interface MatchOptions {
  ignoreContent: boolean;
  ignoreHost: boolean;
  ignorePort: boolean;
  /** Query parameters left out of the match. */
  ignoreParams: readonly string[];
  /** Form fields (urlencoded or multipart bodies) left out of the match. */
  ignorePayloadParams: readonly string[];
  /** Request headers that must match too. */
  useHeaders: readonly string[];
}

export const DEFAULT_MATCH: MatchOptions = {
  ignoreContent: false,
  ignoreHost: false,
  ignorePort: false,
  ignoreParams: [],
  ignorePayloadParams: [],
  useHeaders: [],
};

/** A digest of what must agree: equal digests, same request for replay. */
export function requestKey(r: Request, o: MatchOptions): string {
  const { path, query } = splitTarget(r.path);
  const key: unknown[] = [r.scheme, r.method, path];
  if (!o.ignoreContent) key.push(...contentKey(r, o.ignorePayloadParams));
  if (!o.ignoreHost) key.push(r.prettyHost);
  if (!o.ignorePort) key.push(r.port);
  for (const [name, value] of new URLSearchParams(query)) if (!o.ignoreParams.includes(name)) key.push(name, value);
  if (o.useHeaders.length > 0) key.push(o.useHeaders.map((name) => [name, r.headers.get(name)]));
  const hash = createHash("sha256");
  for (const part of key) {
    if (Buffer.isBuffer(part)) hash.update(`b${part.length}:`).update(part);
    else hash.update(`j${JSON.stringify(part)}\n`);
  }
  return hash.digest("base64");
}

/** The body, or its form fields minus the ignored ones (the raw bytes when it is no form). */
function contentKey(r: Request, ignored: readonly string[]): unknown[] {
  if (ignored.length > 0) {
    const fields = formFields(r);
    if (fields && fields.length > 0) return fields.filter(([name]) => !ignored.includes(name)).flat();
  }
  return [r.body];
}

/**
 * The path without query and without the last segment's `;params` (as
 * Python's urlparse splits them, which mitmproxy's match uses), and the query.
 */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf("?");
  let path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? "" : target.slice(q + 1).replace(/#.*$/, "");
  const lastSlash = path.lastIndexOf("/");
  const semi = path.indexOf(";", lastSlash + 1);
  if (semi !== -1) path = path.slice(0, semi);
  return { path, query };
}
