const UNITS = ["k", "m", "g", "t"] as const;

/**
 * A byte count as the event log prints it: `512b`, `4.0k`, `1.2k`, `123k`,
 * `1.5m`. At most five characters.
 */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${Math.max(0, Math.trunc(bytes))}b`;
  let value = bytes;
  for (const unit of UNITS) {
    value /= 1024;
    if (value < 99.95) return `${value.toFixed(1)}${unit}`;
    if (value < 1023.5 || unit === "t") return `${Math.round(value)}${unit}`;
  }
  throw new Error("unreachable");
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$/i;
const FACTORS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses a human size such as `1m`, `5k`, `512`, `1.5g` (powers of 1024).
 * Returns `null` for input that is not a size.
 */
export function parseSize(text: string): number | null {
  const m = SIZE_RE.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * FACTORS[m[2]!.toLowerCase()]!);
}
