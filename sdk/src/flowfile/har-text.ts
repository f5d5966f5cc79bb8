/**
 * Bodies as HAR text. HAR holds a body decoded, as text in its charset or
 * base64; the charset is inferred the way mitmproxy infers it (its HAR
 * reader decodes what its HAR writers wrote): the Content-Type's charset,
 * UTF-8 for JSON, HTML, XML, JavaScript and CSS, else Latin-1.
 */
import { isUtf8 } from "node:buffer";
import { encodeEscaped } from "./surrogate-escape.ts";

type Charset = "utf8" | "latin1" | "utf16le";

export function harTextCharset(contentType: string | null): Charset {
  const type = (contentType ?? "").toLowerCase();
  const named = /charset\s*=\s*"?([\w-]+)/.exec(type)?.[1];
  if (named === "utf-8" || named === "utf8") return "utf8";
  if (named === "iso-8859-1" || named === "latin1" || named === "latin-1" || named === "us-ascii" || named === "ascii")
    return "latin1";
  if (named === "utf-16le" || named === "utf16le") return "utf16le";
  // A charset Node cannot encode: UTF-8 is the likeliest to give the bytes back.
  if (named) return "utf8";
  if (/json|html|xml|javascript|ecmascript|text\/css/.test(type)) return "utf8";
  return "latin1";
}

/** Control bytes other than tab, newline, form feed and carriage return mean binary: base64 then. */
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f]/;

/** The body as HAR `text` (and `encoding: "base64"` when it is not text in its charset). */
export function toHarText(content: Buffer, contentType: string | null): { text: string; encoding?: "base64" } {
  const charset = harTextCharset(contentType);
  const text = charset === "utf8" && !isUtf8(content) ? undefined : content.toString(charset);
  if (text !== undefined && !CONTROL.test(text) && Buffer.from(text, charset).equals(content)) return { text };
  return { text: content.toString("base64"), encoding: "base64" };
}

/**
 * HAR text as bytes in the body's charset. UTF-8 text may spell
 * undecodable bytes as lone surrogates (mitmproxy's HARs do); text a
 * Latin-1 body cannot hold (a browser's decoded emoji) is written as UTF-8.
 */
export function fromHarText(text: string, contentType: string | null): Buffer {
  const charset = harTextCharset(contentType);
  if (charset === "utf8" || /[^\x00-\xff]/.test(text))
    return charset === "utf16le" ? Buffer.from(text, charset) : encodeEscaped(text);
  return Buffer.from(text, charset);
}
