/**
 * Python's `str()` of a value, for `~meta`: mitmproxy matches the lines
 * `f"{key}: {value}"`, so a filter written for mitmproxy (`~meta "retries: 3"`,
 * `~meta "tags: \['a'"`) finds the same text here. JSON-like values are spelled
 * as Python spells the equivalent (`True`, `None`, `{'a': 1}`, `[1, 'x']`).
 */
export function pythonStr(value: unknown): string {
  return typeof value === "string" ? value : pythonRepr(value, []);
}

function pythonRepr(value: unknown, seen: object[]): string {
  switch (typeof value) {
    case "string":
      return stringRepr(value);
    case "boolean":
      return value ? "True" : "False";
    case "number":
      return numberRepr(value);
    case "bigint":
      return value.toString();
    case "undefined":
      return "None";
    case "object":
      return value === null ? "None" : objectRepr(value, seen);
    default:
      return String(value);
  }
}

function objectRepr(value: object, seen: object[]): string {
  if (value instanceof Uint8Array) return bytesRepr(value);
  const isArray = Array.isArray(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (!isArray && proto !== Object.prototype && proto !== null) return instanceRepr(value);
  // A value that contains itself prints as Python prints it: [...] or {...}.
  if (seen.includes(value)) return isArray ? "[...]" : "{...}";
  seen.push(value);
  try {
    if (isArray) return `[${(value as unknown[]).map((v) => pythonRepr(v, seen)).join(", ")}]`;
    const entries = Object.entries(value).map(([k, v]) => `${stringRepr(k)}: ${pythonRepr(v, seen)}`);
    return `{${entries.join(", ")}}`;
  } finally {
    seen.pop();
  }
}

/** A class instance: its own toString() if it has one (Date, URL, Map...), else like Python's `<Foo object>`. */
function instanceRepr(value: object): string {
  const toString = (value as { toString?: () => string }).toString;
  if (typeof toString === "function" && toString !== Object.prototype.toString) return toString.call(value);
  const name = (value.constructor as { name?: string } | undefined)?.name;
  return `<${name || "object"} object>`;
}

/** Python's float/int repr: integers in full, other numbers with Python's exponent rules. */
function numberRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  const [mantissa, exp] = n.toExponential().split("e") as [string, string];
  const e = Number(exp);
  if (e >= -4 && e < 16) return String(n);
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

function stringRepr(s: string): string {
  const quoteChar = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quoteChar;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === quoteChar) out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quoteChar;
}

function bytesRepr(bytes: Uint8Array): string {
  const quoteChar = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = `b${quoteChar}`;
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (ch === "\\" || ch === quoteChar) out += `\\${ch}`;
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quoteChar;
}
