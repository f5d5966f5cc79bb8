/**
 * Content views: which view suits a body (by its Content-Type, else by its
 * bytes) and the body laid out in that view. Pure functions of bytes, so the
 * UI's detail pane renders what these return.
 */
import { formatCode } from "./code.ts";
import { multipartBoundary, parseMultipart, parseUrlEncoded, type FormField, type MultipartPart } from "./form.ts";
import { hexDump, looksBinary } from "./hex.ts";
import { prettyJson } from "./json.ts";
import { formatMarkup } from "./markup.ts";

export const VIEW_KINDS = [
  "json",
  "html",
  "xml",
  "css",
  "javascript",
  "form",
  "multipart",
  "image",
  "text",
  "hex",
] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];

export type RenderedView =
  | { kind: "text"; view: ViewKind; text: string; note?: string }
  | { kind: "fields"; view: "form"; fields: FormField[] }
  | { kind: "parts"; view: "multipart"; parts: MultipartPart[] }
  | { kind: "hex"; view: "hex"; lines: string[]; more: number }
  | { kind: "image"; view: "image"; mimeType: string };

/** Hex dumps past this many lines say how many more there are (the raw bytes are a download away). */
export const HEX_MAX_LINES = 4096;

const IMAGE_TYPES = /^image\/(png|jpeg|jpg|gif|webp|bmp|x-icon|vnd\.microsoft\.icon|avif|svg\+xml)$/;

/** The media type of a Content-Type value, lowercased, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The view that suits a body: its Content-Type first, then a look at its bytes. */
export function chooseView(contentType: string | null | undefined, bytes: Uint8Array): ViewKind {
  const type = mediaType(contentType);
  if (IMAGE_TYPES.test(type) || (type === "" && sniffImage(bytes) !== null)) return "image";
  if (type === "application/json" || type === "text/json" || type.endsWith("+json")) return "json";
  if (type === "text/html" || type === "application/xhtml+xml") return "html";
  if (type === "text/xml" || type === "application/xml" || type.endsWith("+xml")) return "xml";
  if (type === "text/css") return "css";
  if (/(java|ecma)script$/.test(type)) return "javascript";
  if (type === "application/x-www-form-urlencoded") return "form";
  if (type.startsWith("multipart/") && multipartBoundary(contentType) !== null) return "multipart";
  if (looksBinary(bytes)) return "hex";
  const start = firstSignificant(bytes);
  if ((start === 0x7b || start === 0x5b) && prettyJson(decodeText(bytes)) !== null) return "json";
  return "text";
}

/** The body in view `view`; a view that does not fit the bytes falls back to text (or hex) with a note. */
export function renderView(
  view: ViewKind,
  bytes: Uint8Array,
  contentType: string | null | undefined,
  charset: string | undefined = charsetOf(contentType),
): RenderedView {
  switch (view) {
    case "image":
      return {
        kind: "image",
        view,
        mimeType: IMAGE_TYPES.test(mediaType(contentType))
          ? mediaType(contentType)
          : (sniffImage(bytes) ?? "image/png"),
      };
    case "hex": {
      const lines = hexDump(bytes, HEX_MAX_LINES);
      return { kind: "hex", view, lines, more: Math.ceil(bytes.length / 16) - lines.length };
    }
    case "form":
      return { kind: "fields", view, fields: parseUrlEncoded(decodeText(bytes, charset)) };
    case "multipart": {
      const boundary = multipartBoundary(contentType);
      if (boundary !== null) return { kind: "parts", view, parts: parseMultipart(bytes, boundary) };
      return {
        kind: "text",
        view: "text",
        text: decodeText(bytes, charset),
        note: "no multipart boundary in the Content-Type",
      };
    }
    default:
      return textView(view, bytes, charset);
  }
}

function textView(view: ViewKind, bytes: Uint8Array, charset?: string): RenderedView {
  if (looksBinary(bytes)) {
    const lines = hexDump(bytes, HEX_MAX_LINES);
    return { kind: "hex", view: "hex", lines, more: Math.ceil(bytes.length / 16) - lines.length };
  }
  const text = decodeText(bytes, charset);
  switch (view) {
    case "json": {
      const pretty = prettyJson(text);
      return pretty === null
        ? { kind: "text", view: "text", text, note: "not valid JSON: shown as text" }
        : { kind: "text", view, text: pretty };
    }
    case "html":
    case "xml":
      return { kind: "text", view, text: formatMarkup(text, view === "html") };
    case "css":
    case "javascript":
      return { kind: "text", view, text: formatCode(text, view) };
    default:
      return { kind: "text", view: "text", text };
  }
}

/** Bytes as text in `charset` (UTF-8 when missing or unknown to the browser); bad sequences become U+FFFD. */
export function decodeText(bytes: Uint8Array, charset?: string): string {
  try {
    return new TextDecoder(charset || "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

/** The `charset` parameter of a Content-Type, if any. */
export function charsetOf(contentType: string | null | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? "");
  return m?.[1]?.toLowerCase();
}

/** An image type from the first bytes (PNG, JPEG, GIF, WebP, BMP, ICO), or `null`. */
export function sniffImage(bytes: Uint8Array): string | null {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (
    starts(0x52, 0x49, 0x46, 0x46) &&
    bytes[8] === 0x57 &&
    bytes[9] === 0x45 &&
    bytes[10] === 0x42 &&
    bytes[11] === 0x50
  )
    return "image/webp";
  if (starts(0x42, 0x4d) && bytes.length > 26) return "image/bmp";
  if (starts(0x00, 0x00, 0x01, 0x00) && bytes.length > 22) return "image/x-icon";
  return null;
}

function firstSignificant(bytes: Uint8Array): number | undefined {
  for (const b of bytes.subarray(0, 64))
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf) return b;
  return undefined;
}

export type { FormField, MultipartPart };
