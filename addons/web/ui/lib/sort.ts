/**
 * Column sorting for the flow list: a comparator per column, stable, missing
 * values last whichever the direction, and the same order for the same data
 * every time (ties fall back to arrival order).
 */

export type SortDirection = "asc" | "desc";

/** A column's sort key of one row: a number or a string, or missing. */
export type SortKey = number | string | null | undefined;

/**
 * Sorts `rows` by `key` (a new array; `rows` is left as it is). Strings
 * compare case-insensitively, numbers numerically, NaN as missing; a column
 * mixing both puts numbers first (ascending). Ties keep the rows' given order in both
 * directions.
 */
export function sortRows<T>(rows: readonly T[], key: (row: T) => SortKey, direction: SortDirection): T[] {
  const sign = direction === "desc" ? -1 : 1;
  // Keys are computed once per row (a string key per comparison would dominate 50,000 rows).
  const keyed = rows.map((row, index) => ({ row, index, key: normalise(key(row)) }));
  keyed.sort((a, b) => {
    const c = compareKeys(a.key, b.key);
    if (c.missing) return c.order || a.index - b.index;
    return c.order * sign || a.index - b.index;
  });
  return keyed.map((k) => k.row);
}

type Normal = number | string | null;

function normalise(key: SortKey): Normal {
  if (typeof key === "number") return Number.isNaN(key) ? null : key;
  if (typeof key === "string") return key.toLowerCase();
  return null;
}

/** The order of two keys, and whether a missing key decided it (then the direction does not flip it). */
function compareKeys(a: Normal, b: Normal): { order: number; missing: boolean } {
  if (a === null || b === null) return { order: a === null ? (b === null ? 0 : 1) : -1, missing: true };
  if (typeof a === "number" && typeof b === "number") return { order: a < b ? -1 : a > b ? 1 : 0, missing: false };
  if (typeof a === "number") return { order: -1, missing: false };
  if (typeof b === "number") return { order: 1, missing: false };
  return { order: a < b ? -1 : a > b ? 1 : 0, missing: false };
}
