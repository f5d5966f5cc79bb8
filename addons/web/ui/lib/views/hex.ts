/**
 * A hex dump of binary content, 16 bytes a line: offset, the bytes in hex in
 * two groups of eight, and the printable ASCII beside them (`.` for the rest).
 */

export const HEX_BYTES_PER_LINE = 16;

/** Lines of the dump of `bytes`, at most `maxLines` (the caller shows how many more there are). */
export function hexDump(bytes: Uint8Array, maxLines = Infinity): string[] {
  const lines: string[] = [];
  const total = Math.ceil(bytes.length / HEX_BYTES_PER_LINE);
  const count = Math.min(total, Math.max(0, Math.floor(maxLines)));
  const width = Math.max(8, (bytes.length - 1).toString(16).length);
  for (let line = 0; line < count; line++) {
    const start = line * HEX_BYTES_PER_LINE;
    const chunk = bytes.subarray(start, start + HEX_BYTES_PER_LINE);
    let hex = "";
    let ascii = "";
    for (let i = 0; i < HEX_BYTES_PER_LINE; i++) {
      if (i === 8) hex += " ";
      if (i < chunk.length) {
        const b = chunk[i]!;
        hex += `${b.toString(16).padStart(2, "0")} `;
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      } else {
        hex += "   ";
      }
    }
    lines.push(`${start.toString(16).padStart(width, "0")}  ${hex} |${ascii}|`);
  }
  return lines;
}

/** Whether bytes look binary: a NUL byte, or many control bytes, in their first 4 KiB, or not UTF-8. */
export function looksBinary(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 4096);
  let control = 0;
  for (const b of sample) {
    if (b === 0) return true;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) control++;
  }
  if (control > sample.length / 10) return true;
  try {
    // A cut multi-byte character at the sample's end is not a reason to call it binary.
    new TextDecoder("utf-8", { fatal: true }).decode(sample.length < bytes.length ? trimCut(sample) : sample);
    return false;
  } catch {
    return true;
  }
}

/** The sample without a UTF-8 sequence cut at its end. */
function trimCut(sample: Uint8Array): Uint8Array {
  const end = sample.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = sample[end - back]!;
    if ((b & 0xc0) === 0xc0) return sample.subarray(0, end - back);
    if ((b & 0xc0) !== 0x80) break;
  }
  return sample.subarray(0, end);
}
