/**
 * Header fields as the edit form shows them, one `Name: value` a line, and
 * back. Names and values keep their spelling and order; repeated fields stay
 * repeated; HTTP/2 pseudo-fields (`:authority: x`) keep their leading colon.
 */

export type FieldList = Array<[string, string]>;

export function fieldsToText(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([n, v]) => `${n}: ${v}`).join("\n");
}

/** Lines back into fields; blank lines are skipped; a line without a name before its colon throws, naming the line. */
export function textToFields(text: string): FieldList {
  const fields: FieldList = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    const colon = line.indexOf(":", line.startsWith(":") ? 1 : 0);
    const name = colon === -1 ? "" : line.slice(0, colon).trim();
    if (name === "" || /[\s]/.test(name))
      throw new Error(`header line ${i + 1} is not “Name: value”: ${line.slice(0, 60)}`);
    fields.push([name, line.slice(colon + 1).trim()]);
  });
  return fields;
}
