// The fields of a form body: application/x-www-form-urlencoded or
// multipart/form-data (RFC 7578). Bodies are read decoded; anything that
// does not parse as the declared form is no form (undefined).
import type { Request } from "@interloper/sdk";

export type FormField = [name: string, value: string | Buffer];

export function formFields(r: Request): FormField[] | undefined {
  const type = (r.headers.get("content-type") ?? "").toLowerCase();
  let body: Buffer;
  try {
    body = r.content;
  } catch {
    return undefined;
  }
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return [...new URLSearchParams(body.toString("latin1"))].map(([k, v]) => [k, v]);
  }
  if (type.startsWith("multipart/form-data")) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(r.headers.get("content-type") ?? "");
    const b = boundary?.[1] ?? boundary?.[2];
    return b ? multipartFields(body, b) : undefined;
  }
  return undefined;
}

/** Each part's name (from Content-Disposition) and its bytes; parts without a name are skipped. */
export function multipartFields(body: Buffer, boundary: string): FormField[] | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  const fields: FormField[] = [];
  let at = body.indexOf(delimiter);
  if (at === -1) return undefined;
  for (;;) {
    at += delimiter.length;
    // "--" after a delimiter closes the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return fields;
    const headStart = body.indexOf("\r\n", at);
    if (headStart === -1) return undefined;
    const headEnd = body.indexOf("\r\n\r\n", headStart);
    if (headEnd === -1) return undefined;
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), headEnd + 4);
    if (next === -1) return undefined;
    const name = partName(body.subarray(headStart + 2, headEnd).toString("latin1"));
    if (name !== undefined) fields.push([name, body.subarray(headEnd + 4, next)]);
    at = next + 2;
  }
}

function partName(head: string): string | undefined {
  for (const line of head.split("\r\n")) {
    const m =
      /^content-disposition:.*?;\s*name="([^"]*)"/i.exec(line) ??
      /^content-disposition:.*?;\s*name=([^;\s]+)/i.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
