import { authority, isNamed, type ExportFields, type ExportRequest, type ExportResponse } from "./message.ts";

/**
 * Raw HTTP/1-style text of a request: request line, fields in wire order,
 * blank line, the body as sent. HTTP/2 pseudo-fields are left out and, when
 * no Host field is there, one is written from the authority, so the text is
 * a request an HTTP/1 server understands.
 */
export function rawRequest(req: ExportRequest): Uint8Array {
  const target = req.method === "CONNECT" ? authority(req) : req.path;
  const fields = req.headers.fields.some(([n]) => isNamed(n, "host"))
    ? req.headers
    : { fields: [["Host", authority(req)] as const, ...req.headers.fields] };
  return join(`${req.method} ${target} ${req.httpVersion}\r\n${head(fields)}\r\n`, req.body);
}

/** Raw text of a response: status line, fields, blank line, the body as sent. */
export function rawResponse(res: ExportResponse): Uint8Array {
  const line =
    res.reason === "" ? `${res.httpVersion} ${res.status}` : `${res.httpVersion} ${res.status} ${res.reason}`;
  return join(`${line}\r\n${head(res.headers)}\r\n`, res.body);
}

/** The request, and the response when there is one, separated by a blank line (as mitmproxy's raw export). */
export function rawExchange(req: ExportRequest, res: ExportResponse | undefined): Uint8Array {
  const request = rawRequest(req);
  if (!res) return request;
  const response = rawResponse(res);
  const out = new Uint8Array(request.length + 4 + response.length);
  out.set(request, 0);
  out.set([13, 10, 13, 10], request.length);
  out.set(response, request.length + 4);
  return out;
}

function head(headers: ExportFields): string {
  let text = "";
  for (const [name, value] of headers.fields) if (!name.startsWith(":")) text += `${name}: ${value}\r\n`;
  return text;
}

/** The head's characters are bytes (the sdk keeps fields one character per byte); wider ones as UTF-8. */
function join(headText: string, body: Uint8Array): Uint8Array {
  const headBytes = wireBytes(headText);
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes, 0);
  out.set(body, headBytes.length);
  return out;
}

function wireBytes(text: string): Uint8Array {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return new TextEncoder().encode(text);
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}
