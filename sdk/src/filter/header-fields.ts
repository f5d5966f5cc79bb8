import type { Headers } from "../headers.ts";

/** Whether header `name` is `lower` (lowercase ASCII) in any case, without making a string. */
export function isField(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** `headers.get(lower)` without lowercasing every field name on the way (filters read the Host header per flow). */
export function fieldValue(headers: Headers, lower: string): string | null {
  let found: string | null = null;
  for (const [name, value] of headers.fields) {
    if (isField(name, lower)) found = found === null ? value : `${found}, ${value}`;
  }
  return found;
}
