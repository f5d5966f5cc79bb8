/**
 * Form bodies as fields: `application/x-www-form-urlencoded` and
 * `multipart/form-data` (RFC 7578), read tolerantly — a broken body gives
 * what could be read, never an exception.
 */

export interface FormField {
  readonly name: string;
  readonly value: string;
}

/** The fields of a URL-encoded form, in order, repeated names kept; `+` is a space, bad escapes stay as written. */
export function parseUrlEncoded(text: string): FormField[] {
  const fields: FormField[] = [];
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? "" : pair.slice(eq + 1);
    fields.push({ name: decodeComponent(name), value: decodeComponent(value) });
  }
  return fields;
}

function decodeComponent(s: string): string {
  const spaced = s.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // One bad escape (`%zz`, a cut `%E2%82`) should not lose the rest: decode each good escape run alone.
    return spaced.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

export interface MultipartPart {
  /** The part's header fields, names lowercased. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** `name` of its Content-Disposition, if any. */
  readonly name?: string;
  /** `filename` of its Content-Disposition, if any (a file upload). */
  readonly filename?: string;
  readonly contentType?: string;
  /** The part's bytes. */
  readonly body: Uint8Array;
}

/** The boundary parameter of a multipart Content-Type, or `null`. */
export function multipartBoundary(contentType: string | null | undefined): string | null {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  return boundary && boundary.length <= 200 ? boundary : null;
}

/** The parts of a multipart body, up to the closing boundary or as far as the body goes. */
export function parseMultipart(body: Uint8Array, boundary: string): MultipartPart[] {
  const delimiter = latin1Bytes(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let at = indexOf(body, delimiter, 0);
  while (at !== -1) {
    let start = at + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // "--": the closing delimiter
    start = skipLine(body, start);
    const next = indexOf(body, delimiter, start);
    const end = next === -1 ? body.length : next;
    // The CRLF before a delimiter belongs to the delimiter.
    const contentEnd = end >= 2 && body[end - 2] === 0x0d && body[end - 1] === 0x0a ? end - 2 : end;
    parts.push(part(body.subarray(start, Math.max(start, contentEnd))));
    if (next === -1) break;
    at = next;
  }
  return parts;
}

function part(bytes: Uint8Array): MultipartPart {
  const headEnd = indexOf(bytes, latin1Bytes("\r\n\r\n"), 0);
  const headText = headEnd === -1 ? "" : latin1(bytes.subarray(0, headEnd));
  const body = headEnd === -1 ? bytes : bytes.subarray(headEnd + 4);
  const headers: Array<[string, string]> = [];
  for (const line of headText.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const disposition = headers.find(([n]) => n === "content-disposition")?.[1] ?? "";
  const name = dispositionParam(disposition, "name");
  const filename = dispositionParam(disposition, "filename");
  const contentType = headers.find(([n]) => n === "content-type")?.[1];
  return {
    headers,
    body,
    ...(name !== undefined ? { name } : {}),
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
  };
}

/** A Content-Disposition parameter (`name="a"`, `name=a`), its UTF-8 bytes read as text. */
function dispositionParam(value: string, param: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(value);
  if (!m) return undefined;
  const raw = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return raw;
  }
}

function skipLine(body: Uint8Array, from: number): number {
  for (let i = from; i < body.length; i++) if (body[i] === 0x0a) return i + 1;
  return body.length;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first!, from); i !== -1 && i <= last; i = hay.indexOf(first!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
