import { commandFields, requestUrl, type ExportRequest } from "./message.ts";
import { fieldText, isPastableText, printfBytes, shellCommand, shellQuote } from "./shell.ts";

/** The characters that separate an HTTPie request item's key from its value; a backslash makes one literal. */
const ITEM_SEPARATORS = /[:=@;]/g;

/**
 * An HTTPie command (`http METHOD URL 'Name:value' …`) that sends `req`
 * again. The body goes in on standard input (HTTPie reads a piped stdin as
 * the raw body): `printf '%s' '…' |` for text, octal `printf '%b'` for bytes.
 * HTTPie speaks HTTP/1.1 only, so an HTTP/2 request goes out as HTTP/1.1.
 */
export function httpieCommand(req: ExportRequest): string {
  const words = ["http", req.method, requestUrl(req)];
  for (const [name, value] of commandFields(req)) {
    // `Name;` sends an empty field (`Name:` would remove HTTPie's default one).
    words.push(value === "" ? `${escapeKey(name)};` : `${escapeKey(name)}:${fieldText(value)}`);
  }
  const body = req.body;
  if (body.length === 0) return shellCommand(["http", "--ignore-stdin", ...words.slice(1)]);
  const input = isPastableText(body) ? `printf '%s' ${shellQuote(new TextDecoder().decode(body))}` : printfBytes(body);
  return `${input} | ${shellCommand(words)}`;
}

/** A field name whose characters HTTPie would read as a separator keeps them literal with a backslash. */
function escapeKey(name: string): string {
  return name.replaceAll("\\", "\\\\").replace(ITEM_SEPARATORS, (s) => `\\${s}`);
}
