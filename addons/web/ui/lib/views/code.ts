/**
 * CSS and JavaScript laid out for reading: a statement or declaration a line,
 * blocks indented. Meant for minified code; JavaScript that already has its
 * own lines is shown as written. Strings, comments, template literals and
 * regex literals are copied untouched, so braces inside them never count.
 */

export type CodeLanguage = "css" | "javascript";

/** Minified means: some line longer than this. */
const LONG_LINE = 250;

export function formatCode(text: string, language: CodeLanguage, indent = 2): string {
  if (language === "javascript" && !text.split("\n").some((l) => l.length > LONG_LINE)) return text;
  return new Layout(text, language, " ".repeat(indent)).run();
}

/** Characters after which a `/` starts a regex literal rather than a division. */
const BEFORE_REGEX = new Set([
  "",
  "(",
  ",",
  "=",
  ":",
  "[",
  "!",
  "&",
  "|",
  "?",
  "{",
  "}",
  ";",
  "+",
  "-",
  "*",
  "%",
  "<",
  ">",
  "~",
  "^",
]);

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "void",
  "yield",
  "delete",
  "throw",
  "new",
  "await",
]);

class Layout {
  private readonly lines: string[] = [];
  private line = "";
  private depth = 0;
  private parens = 0;
  private i = 0;
  /** The last character written that was not white space. */
  private last = "";

  constructor(
    private readonly src: string,
    private readonly language: CodeLanguage,
    private readonly unit: string,
  ) {}

  run(): string {
    const { src } = this;
    while (this.i < src.length) {
      const ch = src[this.i]!;
      const next = src[this.i + 1];
      if (ch === '"' || ch === "'" || (ch === "`" && this.language === "javascript")) this.copy(this.quotedEnd(ch));
      else if (ch === "/" && next === "*") this.copy(this.until("*/", 2));
      else if (ch === "/" && next === "/" && this.language === "javascript") {
        this.copy(this.until("\n", 0));
        this.newline();
      } else if (ch === "/" && this.language === "javascript" && this.regexMayStart()) this.copy(this.regexEnd());
      else this.punctuation(ch);
    }
    this.newline();
    return this.lines.join("\n");
  }

  private punctuation(ch: string): void {
    this.i++;
    if (ch === "{") {
      this.write(this.line.endsWith(" ") || this.line === "" ? "{" : " {");
      this.newline();
      this.depth++;
    } else if (ch === "}") {
      this.newline();
      this.depth = Math.max(0, this.depth - 1);
      this.write("}");
      const after = this.src[this.i];
      if (after !== ";" && after !== "," && after !== ")" && after !== ".") this.newline();
    } else if (ch === ";" && this.parens === 0) {
      this.write(";");
      this.newline();
    } else if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      if (this.line !== "" && !this.line.endsWith(" ")) this.line += " ";
    } else {
      if (ch === "(") this.parens++;
      else if (ch === ")") this.parens = Math.max(0, this.parens - 1);
      this.write(ch);
    }
  }

  /** Whether a `/` here starts a regex literal: after an operator or opening punctuation, or a keyword like `return`. */
  private regexMayStart(): boolean {
    if (BEFORE_REGEX.has(this.last)) return true;
    const word = /([A-Za-z_$][\w$]*)\s*$/.exec(this.line)?.[1];
    return word !== undefined && KEYWORDS_BEFORE_EXPRESSION.has(word);
  }

  private write(text: string): void {
    this.line += text;
    const trimmed = text.trimEnd();
    if (trimmed !== "") this.last = trimmed[trimmed.length - 1]!;
  }

  private newline(): void {
    const text = this.line.trim();
    if (text !== "") this.lines.push(this.unit.repeat(this.depth) + text);
    this.line = "";
  }

  /** Copies the source up to (not including) `end` as it is. */
  private copy(end: number): void {
    this.write(this.src.slice(this.i, end));
    this.i = end;
  }

  private quotedEnd(quote: string): number {
    let j = this.i + 1;
    while (j < this.src.length) {
      const ch = this.src[j];
      if (ch === "\\") j += 2;
      else if (ch === quote) return j + 1;
      else if (ch === "\n" && quote !== "`") return j;
      else j++;
    }
    return this.src.length;
  }

  private until(close: string, skip: number): number {
    const end = this.src.indexOf(close, this.i + skip);
    return end === -1 ? this.src.length : end + (close === "\n" ? 0 : close.length);
  }

  private regexEnd(): number {
    let j = this.i + 1;
    let inClass = false;
    while (j < this.src.length) {
      const ch = this.src[j];
      if (ch === "\\") j += 2;
      else if (ch === "\n") return j;
      else if (inClass) {
        if (ch === "]") inClass = false;
        j++;
      } else if (ch === "[") {
        inClass = true;
        j++;
      } else if (ch === "/") {
        j++;
        while (j < this.src.length && /[a-z]/i.test(this.src[j]!)) j++;
        return j;
      } else j++;
    }
    return this.src.length;
  }
}
