// RFC 9110 §14 byte ranges for body downloads: one range is served (206); several, or a
// header that is not a byte range, are ignored (the whole body, 200), as the RFC allows.

/** Bytes `start` to `end`, both included. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The range a `Range` header asks of a body of `length` bytes: a range, `"unsatisfiable"`
 * (answer 416), or undefined (no usable range: answer the whole body).
 */
export function parseRange(header: string | undefined, length: number): ByteRange | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "" && last === "") return undefined;
  if (first === "") {
    // The last N bytes.
    const n = Number(last);
    if (n === 0 || length === 0) return "unsatisfiable";
    return { start: Math.max(0, length - n), end: length - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= length) return "unsatisfiable";
  const end = last === "" ? length - 1 : Math.min(Number(last), length - 1);
  if (!Number.isSafeInteger(end) || end < start) return last === "" ? "unsatisfiable" : undefined;
  return { start, end };
}

/** The `Content-Range` of an answer. */
export function contentRange(range: ByteRange | "unsatisfiable", length: number): string {
  return range === "unsatisfiable" ? `bytes */${length}` : `bytes ${range.start}-${range.end}/${length}`;
}
