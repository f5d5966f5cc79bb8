/** An option's value as the UI writes it in a box: text as is, lists one item a line, nothing for unset. */
export function valueText(value: unknown, listSeparator = "\n"): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return value.map((v) => valueText(v, listSeparator)).join(listSeparator);
  return JSON.stringify(value) ?? "";
}
