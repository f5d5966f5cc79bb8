import { caseVariants, classLiteral, literal } from "./chars.ts";
import { readClass } from "./classes.ts";
import { readChar, readEscape, type Cursor } from "./escapes.ts";
import { RegexProblem, Restart, type CaseHandling } from "./problem.ts";

export interface PythonRegexOptions {
  /** A bytes pattern (matched against latin1 strings of bytes), else a text pattern. */
  readonly bytes: boolean;
  readonly ignoreCase: boolean;
  readonly multiline: boolean;
  readonly dotall: boolean;
  /**
   * For a bytes pattern: `pattern` already holds the bytes, one latin1
   * character each (a pattern that came as bytes), rather than text to encode.
   */
  readonly latin1?: boolean;
}

export interface TranslatedRegex {
  readonly source: string;
  readonly flags: string;
  /** Whether case is ignored in the whole pattern (the `i` flag, or letters spelled out). */
  readonly ignoreCase: boolean;
  /**
   * Set when the pattern is nothing but literal characters (`example\.com`):
   * the text to search for, in the subject's terms (latin1 bytes for a bytes
   * pattern), so a caller may search for it without a RegExp.
   */
  readonly literal?: string;
  /**
   * The JavaScript name of each Python group, by Python's group number (index
   * 0, the whole match, is ""): every group is named in the translation, and
   * hidden helper groups make JavaScript's numbers differ from Python's.
   */
  readonly groupNames: readonly string[];
  /** Python's `groupindex`: the named groups' numbers. */
  readonly groupIndex: ReadonlyMap<string, number>;
}

/** Groups may nest this deep in one regex (V8's own parser recurses). */
const MAX_GROUP_NESTING = 200;
const FOLD_BUDGET = 4096;
const MAX_REPEAT = 4294967295;

/**
 * Translates a Python `re` pattern into a JavaScript RegExp source with the
 * same meaning, or throws `RegexProblem` (with the index in `pattern`) for
 * what Python refuses or JavaScript cannot express.
 *
 * What differs and is translated: `(?P<name>…)` / `(?P=name)`, inline flags
 * `(?aimsx)` at the start and scoped `(?i:…)` / `(?-i:…)`, `(?#…)`, `\A \Z`,
 * `^ $ .` (Python's `$` also matches before a final newline, `.` everything
 * but `\n`), Python's escapes (octal, `\U…`, `\b` in a class), `{,n}`, a
 * literal `{` or `]`, Unicode `\d \w \s \b` for text patterns and ASCII ones
 * for bytes, atomic groups and possessive quantifiers (by look-ahead and
 * back-reference). Refused: conditional groups, `\N{…}`, `(?L)`.
 *
 * Bytes patterns are UTF-8 encoded first (Python encodes mitmproxy's bytes
 * filters the same way) and fold case for ASCII letters only, by spelling
 * letters out (`[aA]`) instead of using the `i` flag, which would also fold
 * latin1 letters.
 */
export function translatePythonRegex(pattern: string, options: PythonRegexOptions): TranslatedRegex {
  const encode = options.bytes && options.latin1 !== true;
  const src = encode ? Buffer.from(pattern, "utf8").toString("latin1") : pattern;
  try {
    const first: CaseHandling = options.bytes ? "manual" : "native";
    try {
      return new Translation(src, options, first, true).run();
    } catch (err) {
      if (!(err instanceof Restart)) throw err;
      return new Translation(src, options, err.caseHandling, false).run();
    }
  } catch (err) {
    if (err instanceof RegexProblem && encode) throw new RegexProblem(err.message, charIndexOfByte(pattern, err.index));
    throw err;
  }
}

/** The index in `text` of the character that holds UTF-8 byte `byteIndex`. */
function charIndexOfByte(text: string, byteIndex: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > byteIndex) return i;
    i += cp > 0xffff ? 2 : 1;
  }
  return text.length;
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  a: boolean;
}

interface Group {
  kind: "capture" | "plain" | "look" | "atomic";
  /** Index of the `(` in the pattern. */
  at: number;
  /** Index in the output of the group's opening. */
  outStart: number;
  number?: number;
  hidden?: string;
  saved?: Flags;
}

/** The last thing emitted that a quantifier could apply to. */
interface Last {
  start: number;
  kind: "atom" | "assert" | "look" | "quantified";
}

const VERBOSE_SPACE = new Set([" ", "\t", "\n", "\r", "\v", "\f"]);
const BRACES = /\{(\d*)(?:(,)(\d*))?\}/y;

class Translation {
  private readonly cur: Cursor;
  private readonly out: string[] = [];
  private flags: Flags;
  private globalI: boolean;
  private readonly groups: Group[] = [];
  private readonly names = new Map<string, number>();
  /** JavaScript group name of each Python group number (index 0 unused). */
  private readonly jsNames: string[] = [""];
  private readonly closed: boolean[] = [true];
  private hidden = 0;
  private last: Last | undefined;
  private started = false;
  /** The characters so far while the pattern is only literal characters, else null. */
  private plain: number[] | null = [];
  /** Letters of the global flag groups so far (`(?a)(?u)` is refused like `(?au)`). */
  private globalLetters = "";
  private readonly budget = { left: FOLD_BUDGET };

  constructor(
    src: string,
    options: PythonRegexOptions,
    private readonly caseHandling: CaseHandling,
    private readonly mayRestart: boolean,
  ) {
    this.cur = { src, i: 0, bytes: options.bytes, ascii: false };
    this.flags = { i: options.ignoreCase, m: options.multiline, s: options.dotall, x: false, a: false };
    this.globalI = options.ignoreCase;
  }

  run(): TranslatedRegex {
    while (this.cur.i < this.cur.src.length) this.step();
    const open = this.groups.at(-1);
    if (open) throw new RegexProblem("missing ), unterminated subpattern", open.at);
    let flags = this.cur.bytes ? "" : "u";
    if (this.caseHandling === "native" && this.globalI) flags += "i";
    const literal = this.plain?.map((code) => String.fromCodePoint(code)).join("");
    return {
      source: this.out.join(""),
      flags,
      ignoreCase: this.globalI,
      literal,
      groupNames: this.jsNames,
      groupIndex: this.names,
    };
  }

  private step(): void {
    const { cur } = this;
    const c = cur.src[cur.i]!;
    if (this.flags.x && this.skipVerbose(c)) return;
    switch (c) {
      case "\\":
        return this.escape();
      case "[":
        return this.atom(readClass(cur, { fold: this.folding(), budget: this.budget }));
      case "(":
        return this.open();
      case ")":
        return this.close();
      case "|":
        cur.i++;
        this.out.push("|");
        this.last = undefined;
        this.plain = null;
        return;
      case "^":
        cur.i++;
        return this.assertion(this.flags.m ? "(?<![^\\n])" : "^");
      case "$":
        cur.i++;
        return this.assertion(this.flags.m ? "(?![^\\n])" : "(?=\\n?$)");
      case ".":
        cur.i++;
        return this.atom(this.flags.s ? "[\\s\\S]" : "[^\\n]");
      case "*":
      case "+":
      case "?":
        cur.i++;
        return this.quantify(c, cur.i - 1);
      case "{":
        if (this.braces()) return;
        break;
      default:
        break;
    }
    this.char(readChar(cur));
  }

  private skipVerbose(c: string): boolean {
    const { cur } = this;
    if (VERBOSE_SPACE.has(c)) {
      cur.i++;
      return true;
    }
    if (c !== "#") return false;
    const eol = cur.src.indexOf("\n", cur.i);
    cur.i = eol === -1 ? cur.src.length : eol + 1;
    return true;
  }

  private folding(): boolean {
    return this.caseHandling === "manual" && this.flags.i;
  }

  /** Emits something a quantifier may follow; `literal` is its character when it is one. */
  private atom(js: string, literal?: number): void {
    this.started = true;
    this.last = { start: this.out.length, kind: "atom" };
    this.out.push(js);
    if (literal === undefined) this.plain = null;
    else this.plain?.push(literal);
  }

  private assertion(js: string): void {
    this.plain = null;
    this.started = true;
    this.last = { start: this.out.length, kind: "assert" };
    this.out.push(js);
  }

  private char(code: number): void {
    const bytes = this.cur.bytes;
    if (!this.folding()) return this.atom(literal(code, bytes), code);
    const codes = caseVariants(code, bytes);
    const js = codes.length === 1 ? literal(code, bytes) : `[${codes.map((c) => classLiteral(c, bytes)).join("")}]`;
    this.atom(js, code);
  }

  private escape(): void {
    const at = this.cur.i;
    const e = readEscape(this.cur);
    switch (e.kind) {
      case "char":
        return this.char(e.code);
      case "set":
        return this.atom(e.set.alone);
      case "assert":
        return this.assertion(e.js);
      case "backref":
        if (e.group >= this.jsNames.length) throw new RegexProblem(`invalid group reference ${e.group}`, at);
        return this.backref(e.group, at);
    }
  }

  private backref(group: number, at: number): void {
    if (!this.closed[group]) throw new RegexProblem("cannot refer to an open group", at);
    if (this.folding()) {
      // Spelled-out case cannot reach a back-reference: use the i flag (bytes), or give up.
      if (this.mayRestart && this.cur.bytes) throw new Restart("native");
      throw new RegexProblem("a back-reference cannot ignore case inside a pattern with scoped case flags", at);
    }
    this.atom(`\\k<${this.jsNames[group]}>`);
  }

  private quantify(quantifier: string, at: number): void {
    const { last, cur, out } = this;
    if (!last || last.kind === "assert") throw new RegexProblem("nothing to repeat", at);
    if (last.kind === "quantified") throw new RegexProblem("multiple repeat", at);
    this.plain = null;
    let q = quantifier;
    let possessive = false;
    if (cur.src[cur.i] === "?") {
      q += "?";
      cur.i++;
    } else if (cur.src[cur.i] === "+") {
      possessive = true;
      cur.i++;
    }
    // JavaScript's u flag does not quantify a look-around directly; Python does.
    if (last.kind === "look") {
      out[last.start] = `(?:${out[last.start]}`;
      out.push(")");
    }
    if (possessive) {
      const name = `$a${++this.hidden}`;
      out[last.start] = `(?=(?<${name}>${out[last.start]}`;
      out.push(q, `))\\k<${name}>`);
    } else {
      out.push(q);
    }
    last.kind = "quantified";
  }

  /** `{m,n}` and its forms; `false` when the brace is a literal, as Python takes it. */
  private braces(): boolean {
    const { cur } = this;
    BRACES.lastIndex = cur.i;
    const m = BRACES.exec(cur.src);
    if (!m || (m[1] === "" && m[2] === undefined)) return false;
    const at = cur.i;
    const lo = m[1] === "" ? 0 : Number(m[1]);
    const hi = m[2] === undefined ? lo : m[3] === "" ? undefined : Number(m[3]);
    if (lo >= MAX_REPEAT || (hi !== undefined && hi >= MAX_REPEAT))
      throw new RegexProblem("the repetition number is too large", at);
    if (hi !== undefined && hi < lo) throw new RegexProblem("min repeat greater than max repeat", at);
    cur.i += m[0].length;
    this.quantify(m[2] === undefined ? `{${lo}}` : `{${lo},${hi ?? ""}}`, at);
    return true;
  }

  private open(): void {
    const { cur } = this;
    const at = cur.i;
    if (this.groups.length >= MAX_GROUP_NESTING)
      throw new RegexProblem(`groups nested too deeply (more than ${MAX_GROUP_NESTING})`, at);
    if (cur.src[at + 1] !== "?") {
      cur.i++;
      return this.capture(at, `$${this.jsNames.length}`);
    }
    const ext = cur.src[at + 2];
    switch (ext) {
      case ":":
        cur.i += 3;
        return this.push({ kind: "plain", at, outStart: this.out.length }, "(?:");
      case "P":
        return this.pythonNamed(at);
      case "=":
      case "!":
        cur.i += 3;
        return this.push({ kind: "look", at, outStart: this.out.length }, `(?${ext}`);
      case "<": {
        const dir = cur.src[at + 3];
        if (dir !== "=" && dir !== "!") throw new RegexProblem(`unknown extension ?<${dir ?? ""}`, at + 1);
        cur.i += 4;
        return this.push({ kind: "look", at, outStart: this.out.length }, `(?<${dir}`);
      }
      case "#": {
        const end = cur.src.indexOf(")", at);
        if (end === -1) throw new RegexProblem("missing ), unterminated comment", at);
        cur.i = end + 1;
        return;
      }
      case ">": {
        cur.i += 3;
        const hidden = `$a${++this.hidden}`;
        return this.push({ kind: "atomic", at, outStart: this.out.length, hidden }, `(?=(?<${hidden}>`);
      }
      case "(":
        throw new RegexProblem("conditional groups (?(...)...) are not supported", at);
      case undefined:
        throw new RegexProblem("unexpected end of pattern", at);
      default:
        if (/[aiLmsux-]/.test(ext)) return this.inlineFlags(at);
        throw new RegexProblem(`unknown extension ?${ext}`, at + 1);
    }
  }

  private push(group: Group, js: string): void {
    this.plain = null;
    this.groups.push(group);
    this.out.push(js);
    this.started = true;
    this.last = undefined;
  }

  private capture(at: number, jsName: string): void {
    const number = this.jsNames.length;
    this.jsNames.push(jsName);
    this.closed.push(false);
    this.push({ kind: "capture", at, outStart: this.out.length, number }, `(?<${jsName}>`);
  }

  /** `(?P<name>…)` and `(?P=name)`. */
  private pythonNamed(at: number): void {
    const { cur } = this;
    const kind = cur.src[at + 3];
    if (kind !== "<" && kind !== "=") throw new RegexProblem(`unknown extension ?P${kind ?? ""}`, at + 1);
    const close = kind === "<" ? ">" : ")";
    const end = cur.src.indexOf(close, at + 4);
    if (end === -1) throw new RegexProblem(`missing ${close}, unterminated name`, at + 4);
    const name = cur.src.slice(at + 4, end);
    const valid = cur.bytes ? /^[A-Za-z_][A-Za-z0-9_]*$/ : /^[\p{L}_][\p{L}\p{N}_]*$/u;
    if (!valid.test(name)) throw new RegexProblem(`bad character in group name '${name}'`, at + 4);
    cur.i = end + 1;
    if (kind === "=") {
      const group = this.names.get(name);
      if (group === undefined) throw new RegexProblem(`unknown group name '${name}'`, at + 4);
      return this.backref(group, at);
    }
    const was = this.names.get(name);
    if (was !== undefined)
      throw new RegexProblem(
        `redefinition of group name '${name}' as group ${this.jsNames.length}; was group ${was}`,
        at,
      );
    this.names.set(name, this.jsNames.length);
    this.capture(at, name);
  }

  /** `(?aimsx)` at the start, `(?aimsx-imsx:…)` anywhere. */
  private inlineFlags(at: number): void {
    const { cur } = this;
    let i = at + 2;
    let on = "";
    let off = "";
    while (i < cur.src.length && /[aiLmsux]/.test(cur.src[i]!)) on += cur.src[i++];
    if (cur.src[i] === "-") {
      i++;
      while (i < cur.src.length && /[aiLmsux]/.test(cur.src[i]!)) off += cur.src[i++];
      if (off === "") throw new RegexProblem("missing flag", i);
      if (/[auL]/.test(off)) throw new RegexProblem("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", i);
    }
    const end = cur.src[i];
    if (end !== ")" && end !== ":") throw new RegexProblem(end === undefined ? "missing -, : or )" : `unknown flag`, i);
    this.checkFlags(on, off, at);
    cur.i = i + 1;
    if (end === ")") {
      if (off !== "") throw new RegexProblem("missing :", i);
      if (this.started || this.groups.length > 0)
        throw new RegexProblem("global flags not at the start of the expression", at);
      this.globalLetters += on;
      if (this.globalLetters.includes("a") && this.globalLetters.includes("u"))
        throw new RegexProblem("ASCII and UNICODE flags are incompatible", at);
      this.apply(on, true);
      this.globalI = this.flags.i;
      return;
    }
    const saved = { ...this.flags };
    this.push({ kind: "plain", at, outStart: this.out.length, saved }, "(?:");
    this.apply(on, true);
    this.apply(off, false);
    if (this.flags.i !== saved.i && this.caseHandling === "native") {
      if (this.mayRestart && !this.cur.bytes) throw new Restart("manual");
      throw new RegexProblem("scoped case flags cannot be combined with a back-reference that ignores case", at);
    }
  }

  private checkFlags(on: string, off: string, at: number): void {
    if ([...off].some((f) => on.includes(f))) throw new RegexProblem("bad inline flags: flag turned on and off", at);
    if (this.cur.bytes && on.includes("u"))
      throw new RegexProblem("bad inline flags: cannot use 'u' flag with a bytes pattern", at);
    if (!this.cur.bytes && on.includes("L"))
      throw new RegexProblem("bad inline flags: cannot use 'L' flag with a str pattern", at);
    if (on.includes("L")) throw new RegexProblem("the locale flag (?L) is not supported", at);
    if (on.includes("a") && on.includes("u"))
      throw new RegexProblem("bad inline flags: flags 'a', 'u' and 'L' are incompatible", at);
  }

  private apply(letters: string, value: boolean): void {
    for (const f of letters) {
      if (f === "i" || f === "m" || f === "s" || f === "x" || f === "a") this.flags[f] = value;
    }
    this.cur.ascii = this.flags.a;
  }

  private close(): void {
    const { cur } = this;
    const at = cur.i;
    cur.i++;
    const group = this.groups.pop();
    if (!group) throw new RegexProblem("unbalanced parenthesis", at);
    if (group.kind === "capture") this.closed[group.number!] = true;
    this.out.push(group.kind === "atomic" ? `))\\k<${group.hidden}>` : ")");
    if (group.saved) {
      this.flags = group.saved;
      cur.ascii = this.flags.a;
    }
    this.started = true;
    this.last = { start: group.outStart, kind: group.kind === "look" ? "look" : "atom" };
  }
}
