import { commandFields, isNamed, requestUrl, type ExportRequest } from "./message.ts";
import { fieldText, isPastableText, printfBytes, shellCommand, shellQuote } from "./shell.ts";

/** Content codings every curl build decodes with `--compressed`. */
const CURL_DECODES = new Set(["gzip", "deflate", "x-gzip", "identity"]);

/**
 * A curl command that sends `req` again: its method, URL, fields in wire
 * order and the body byte for byte (the body as sent, with its
 * Content-Encoding field). A text body is written inline (`--data-binary
 * '…'`); any other is piped in by `printf` (`--data-binary @-`), since no
 * shell string can hold a NUL byte.
 */
export function curlCommand(req: ExportRequest): string {
  const words = ["curl", ...versionFlags(req), ...methodFlags(req)];
  const url = requestUrl(req);
  // curl's URL globbing reads [] and {} (an IPv6 address, a JSON query), and it squashes /../ unless told.
  if (/[[\]{}]/.test(url)) words.push("--globoff");
  if (/\/\.\.?(\/|$|\?)/.test(req.path)) words.push("--path-as-is");
  for (const [name, value] of commandFields(req)) {
    // `Name;` is curl's way to send a field with an empty value (`Name:` would remove it).
    words.push("-H", value === "" ? `${name};` : `${name}: ${fieldText(value)}`);
    if (isNamed(name, "accept-encoding") && decodable(value)) words.push("--compressed");
  }
  const body = req.body;
  if (body.length === 0) return shellCommand([...words, url]);
  if (isPastableText(body)) {
    return `${shellCommand([...words, "--data-binary"])} ${shellQuote(new TextDecoder().decode(body))} ${shellQuote(url)}`;
  }
  return `${printfBytes(body)} | ${shellCommand([...words, "--data-binary", "@-", url])}`;
}

function versionFlags(req: ExportRequest): string[] {
  switch (req.httpVersion.toUpperCase()) {
    case "HTTP/2.0":
    case "HTTP/2":
      // Over TLS, h2 is chosen by ALPN; in the clear it was spoken with prior knowledge (h2c).
      return [req.scheme === "https" ? "--http2" : "--http2-prior-knowledge"];
    case "HTTP/3":
    case "HTTP/3.0":
      return ["--http3"];
    case "HTTP/1.0":
      return ["--http1.0"];
    default:
      return [];
  }
}

/** curl picks GET, or POST when it sends a body; -X only when the method differs, -I for HEAD (-X HEAD waits for a body). */
function methodFlags(req: ExportRequest): string[] {
  if (req.method === "HEAD" && req.body.length === 0) return ["--head"];
  const implied = req.body.length > 0 ? "POST" : "GET";
  return req.method === implied ? [] : ["-X", req.method];
}

function decodable(acceptEncoding: string): boolean {
  const codings = acceptEncoding
    .split(",")
    .map((c) => c.split(";")[0]!.trim().toLowerCase())
    .filter((c) => c !== "");
  return codings.length > 0 && codings.every((c) => CURL_DECODES.has(c));
}
