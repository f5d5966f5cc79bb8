import { readFile } from "node:fs/promises";
import { expandHome } from "@interloper/sdk";
import { EscapeError, unescapeBytes } from "./escapes.ts";
import { SpecError } from "./spec.ts";

/**
 * What modify_headers and modify_body put in: the value's bytes (string
 * escapes decoded), or `@path`: a file read each time it is used, so an edit
 * of the file applies without a restart (as in mitmproxy).
 */
export type ReplacementSource = { readonly bytes: Buffer } | { readonly file: string };

/** Reads a spec's replacement; an `@file` must be readable now, or the spec is refused. */
export async function replacementSource(text: string): Promise<ReplacementSource> {
  if (!text.startsWith("@")) return { bytes: unescaped(text, "replacement") };
  const file = expandUser(text.slice(1));
  try {
    await readFile(file);
  } catch (err) {
    throw new SpecError(`cannot read file ${file}: ${(err as Error).message}`);
  }
  return { file };
}

/** The bytes to put in now. Throws what reading the file throws. */
export async function replacementBytes(source: ReplacementSource): Promise<Buffer> {
  return "bytes" in source ? source.bytes : readFile(source.file);
}

/** Python's string escapes decoded, or a SpecError naming the part. */
export function unescaped(text: string, part: string): Buffer {
  try {
    return unescapeBytes(text);
  } catch (err) {
    if (err instanceof EscapeError) throw new SpecError(`bad escape in the ${part}: ${err.message}`);
    throw err;
  }
}

/** `~` and `~/…` as Python's `expanduser` reads them (the home folder): the sdk's helper. */
export const expandUser = expandHome;
