/**
 * The flow model holds HTTP's byte fields (method, path, reason, header
 * names and values) as strings of one character per byte, as Node's parsers
 * give them and as the core puts them back on the wire (latin1). Flow files
 * hold bytes; these convert without losing a byte either way.
 */
import { Headers } from "../headers.ts";

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

/** One byte per character; a string an addon built with characters above U+00FF is written as UTF-8 instead. */
export function wireBytes(text: string): Buffer {
  return Buffer.from(text, BEYOND_LATIN1.test(text) ? "utf8" : "latin1");
}

export function wireText(bytes: Buffer): string {
  return bytes.toString("latin1");
}

/**
 * Header fields from pairs of bytes (or str, which older writers used), kept
 * exactly: no validation of names or values, since the file records what was
 * on the wire, odd or not.
 */
export function fieldsFromPairs(pairs: Array<[Buffer | string, Buffer | string]>): Headers {
  const h = new Headers();
  for (const [name, value] of pairs) h.fields.push([asWire(name), asWire(value)]);
  return h;
}

function asWire(v: Buffer | string): string {
  return typeof v === "string" ? wireText(Buffer.from(v, "utf8")) : wireText(v);
}
