/**
 * Bytes in JSON text, as mitmproxy's HAR export spells them: UTF-8 decoded,
 * each byte that is not part of valid UTF-8 as a lone surrogate U+DC80 to
 * U+DCFF (Python's "surrogateescape"). So a header value with a stray 0xFF
 * survives a HAR round trip, and valid UTF-8 reads as text.
 */
import { isUtf8 } from "node:buffer";
import { validSequenceLength } from "./utf8.ts";

export function decodeEscaped(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = validSequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    } else {
      out += bytes.toString("utf8", i, i + n);
      i += n;
    }
  }
  return out;
}

export function encodeEscaped(text: string): Buffer {
  if (!/[\udc80-\udcff]/.test(text)) return Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let run = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const lone = code >= 0xdc80 && code <= 0xdcff && !(i > 0 && isHighSurrogate(text.charCodeAt(i - 1)));
    if (!lone) {
      run += text[i];
      continue;
    }
    if (run) parts.push(Buffer.from(run, "utf8"));
    run = "";
    parts.push(Buffer.of(code - 0xdc00));
  }
  if (run) parts.push(Buffer.from(run, "utf8"));
  return Buffer.concat(parts);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
