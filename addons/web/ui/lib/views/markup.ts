/**
 * HTML and XML formatted for reading: one tag a line, indented by nesting,
 * short text kept beside its element (`<title>Home</title>`). The content of
 * `script`, `style`, `pre` and `textarea` is kept as written. A tolerant
 * tokenizer: broken markup is laid out as far as it goes, never refused.
 */

type Token =
  | { kind: "open"; text: string; name: string; selfClosing: boolean }
  | { kind: "close"; text: string; name: string }
  | { kind: "other"; text: string }
  | { kind: "text"; text: string };

const HTML_VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
  "keygen",
]);
const RAW_TEXT = new Set(["script", "style", "pre", "textarea"]);
const INLINE_TEXT_MAX = 80;

/** `markup` laid out with `indent` spaces per level; `html` knows void elements and raw-text elements. */
export function formatMarkup(markup: string, html: boolean, indent = 2): string {
  const tokens = tokenize(markup, html);
  const unit = " ".repeat(indent);
  const lines: string[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const pad = unit.repeat(depth);
    if (t.kind === "open") {
      const next = tokens[i + 1];
      const after = tokens[i + 2];
      // <name>short text</name> on one line.
      if (next?.kind === "text" && after?.kind === "close" && after.name === t.name && !t.text.includes("\n")) {
        const inner = next.text.trim();
        if (inner.length <= INLINE_TEXT_MAX && !inner.includes("\n")) {
          lines.push(`${pad}${t.text}${inner}${after.text}`);
          i += 2;
          continue;
        }
      }
      if (next?.kind === "close" && next.name === t.name) {
        lines.push(`${pad}${t.text}${next.text}`);
        i += 1;
        continue;
      }
      lines.push(pad + t.text);
      if (!t.selfClosing && !(html && HTML_VOID.has(t.name))) depth++;
    } else if (t.kind === "close") {
      depth = Math.max(0, depth - 1);
      lines.push(unit.repeat(depth) + t.text);
    } else if (t.kind === "text") {
      for (const line of textLines(t.text)) lines.push(pad + line);
    } else {
      lines.push(pad + t.text);
    }
  }
  return lines.join("\n");
}

/** Text between tags: blank lines dropped, each line trimmed (a raw-text element's content keeps its own indentation). */
function textLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const kept = lines.filter((l) => l.trim() !== "");
  if (kept.length === 0) return [];
  const common = Math.min(...kept.map((l) => /^[ \t]*/.exec(l)![0].length));
  return kept.map((l) => l.slice(common).trimEnd());
}

function tokenize(src: string, html: boolean): Token[] {
  const tokens: Token[] = [];
  const lower = html ? src.toLowerCase() : src;
  let i = 0;
  while (i < src.length) {
    if (src[i] !== "<") {
      const end = src.indexOf("<", i);
      const stop = end === -1 ? src.length : end;
      pushText(tokens, src.slice(i, stop));
      i = stop;
      continue;
    }
    if (src.startsWith("<!--", i)) i = pushUntil(tokens, src, i, "-->");
    else if (src.startsWith("<![CDATA[", i)) i = pushUntil(tokens, src, i, "]]>");
    else if (src.startsWith("<?", i)) i = pushUntil(tokens, src, i, "?>");
    else if (src.startsWith("<!", i)) i = pushUntil(tokens, src, i, ">");
    else i = pushTag(tokens, src, lower, i, html);
  }
  return tokens;
}

function pushText(tokens: Token[], text: string): void {
  if (text.trim() !== "") tokens.push({ kind: "text", text });
}

function pushUntil(tokens: Token[], src: string, start: number, close: string): number {
  const end = src.indexOf(close, start);
  const stop = end === -1 ? src.length : end + close.length;
  tokens.push({ kind: "other", text: src.slice(start, stop) });
  return stop;
}

const NAME = /^<\/?\s*([A-Za-z][\w:.-]*)/;

function pushTag(tokens: Token[], src: string, lower: string, start: number, html: boolean): number {
  const stop = tagEnd(src, start);
  const text = src.slice(start, stop);
  const m = NAME.exec(text);
  if (!m) {
    // A lone '<' in text (`a < b`): text, not a tag.
    pushText(tokens, text);
    return stop;
  }
  const name = html ? m[1]!.toLowerCase() : m[1]!;
  if (text[1] === "/") {
    tokens.push({ kind: "close", text, name });
    return stop;
  }
  const selfClosing = text.endsWith("/>");
  tokens.push({ kind: "open", text, name, selfClosing });
  if (html && !selfClosing && RAW_TEXT.has(name)) {
    // Everything up to the matching close tag is content, whatever it holds ('<' in a script).
    const closeAt = lower.indexOf(`</${name}`, stop);
    const contentEnd = closeAt === -1 ? src.length : closeAt;
    pushText(tokens, src.slice(stop, contentEnd));
    return contentEnd;
  }
  return stop;
}

/** Index just past the `>` ending the tag at `start`, skipping quoted attribute values. */
function tagEnd(src: string, start: number): number {
  let quote: string | null = null;
  for (let i = start + 1; i < src.length; i++) {
    const ch = src[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ">") {
      return i + 1;
    } else if (ch === "<" && i > start + 1) {
      // A new tag begins before this one closed: end the broken one here.
      return i;
    }
  }
  return src.length;
}
