/**
 * JSON pretty-printing that re-indents the text as written instead of
 * parsing and re-serialising it: numbers too large for a double, duplicate
 * keys and key order survive exactly.
 */

/** `text` indented by `indent` spaces, or `null` when it is not JSON. */
export function prettyJson(text: string, indent = 2): string | null {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  return reindent(text, " ".repeat(indent));
}

/** Re-indents valid JSON: whitespace outside strings is dropped and written anew. */
function reindent(text: string, unit: string): string {
  const out: string[] = [];
  let depth = 0;
  let i = 0;
  const newline = (): void => {
    out.push("\n", unit.repeat(depth));
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      const end = stringEnd(text, i);
      out.push(text.slice(i, end));
      i = end;
      continue;
    }
    i++;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") continue;
    if (ch === "{" || ch === "[") {
      const close = ch === "{" ? "}" : "]";
      const next = nextSignificant(text, i);
      if (text[next] === close) {
        // An empty object or array stays on one line.
        out.push(ch, close);
        i = next + 1;
        continue;
      }
      out.push(ch);
      depth++;
      newline();
    } else if (ch === "}" || ch === "]") {
      depth--;
      newline();
      out.push(ch);
    } else if (ch === ",") {
      out.push(",");
      newline();
    } else if (ch === ":") {
      out.push(": ");
    } else {
      out.push(ch);
    }
  }
  return out.join("");
}

/** Index just past the string literal starting at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\") i += 2;
    else if (ch === '"') return i + 1;
    else i++;
  }
  return text.length;
}

function nextSignificant(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  return i;
}
