/** UTF-8 validity by RFC 3629's byte ranges, for errors that say where text goes wrong. */

/** The length of the valid UTF-8 sequence at `i` (RFC 3629's byte ranges), or 0. */
export function validSequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 1;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 2;
    if (c === 0xe0) lo = 0xa0;
    if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 3;
    if (c === 0xf0) lo = 0x90;
    if (c === 0xf4) hi = 0x8f;
  } else return 0;
  for (let k = 1; k <= n; k++) {
    const d = b[i + k];
    if (d === undefined || (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf)) return 0;
  }
  return n + 1;
}

/** Where invalid UTF-8 begins in `b` (its length if nowhere). */
export function firstBadUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const n = validSequenceLength(b, i);
    if (n === 0) return i;
    i += n;
  }
  return b.length;
}
