// The fields a response head goes to the client with, so that its framing
// is true on the client's connection whatever the server or an addon did.
// Pure: the responders write what these return.
import type { Response } from "@interloper/sdk";

export type Fields = ReadonlyArray<readonly [string, string]>;

/** The length a buffered body has on the wire, or undefined where the message has none (HEAD, 1xx, 204, 304). */
export function bodyLength(response: Response, method: string): number | undefined {
  const s = response.status;
  if (method === "HEAD" || s < 200 || s === 204 || s === 304) return undefined;
  return response.body.length;
}

/**
 * `length`: the body that will follow, when known; a Content-Length that
 * disagrees with it (an addon assigned `body` directly) is corrected, as a
 * wrong one would desynchronise the client. The common case returns `fields` itself.
 */
export function withTrueLength(fields: Fields, length: number | undefined): Fields {
  if (length === undefined || !needsLengthFix(fields, length)) return fields;
  const value = String(length);
  let seen = false;
  const fixed: Array<[string, string]> = [];
  for (const [name, v] of fields) {
    if (name.toLowerCase() !== "content-length") fixed.push([name, v]);
    else if (!seen) {
      seen = true;
      fixed.push([name, value]);
    }
  }
  return fixed;
}

/** Content-Length fields that disagree with `length` (or repeat), without Transfer-Encoding: the common case (one true field) allocates nothing. */
function needsLengthFix(fields: Fields, length: number): boolean {
  let count = 0;
  let wrong = false;
  for (const [name, value] of fields) {
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      count++;
      if (value.trim() !== String(length)) wrong = true;
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      return false;
    }
  }
  return count > 1 || wrong;
}

/**
 * Fields whose Transfer-Encoding (an addon may have set one) frames the body
 * truly for an HTTP/1 client: Content-Length beside it goes (RFC 9112 §6.3),
 * and a last coding other than chunked gets `, chunked` (Node chunks the body
 * only when the field names it; else the body would run until a close that a
 * kept-alive connection never makes). Without Transfer-Encoding, `fields` as they are.
 */
export function chunkedFraming(fields: Fields): Fields {
  if (!fields.some(([name]) => name.length === 17 && name.toLowerCase() === "transfer-encoding")) return fields;
  const te = fields
    .filter(([n]) => n.toLowerCase() === "transfer-encoding")
    .map(([, v]) => v)
    .join(",");
  const last = te
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
    .pop();
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (lower === "content-length") continue;
    if (lower === "transfer-encoding") {
      // One field with the whole list, written where the first one was.
      if (!out.some(([n]) => n.toLowerCase() === "transfer-encoding"))
        out.push([name, last === "chunked" ? te : `${te}, chunked`]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}
