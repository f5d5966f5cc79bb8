import { RegexProblem } from "./problem.ts";

/** A replacement template read once: literal text and group references, in order. */
export type TemplatePart = string | { readonly group: number };

/** What a template may refer to: the pattern's groups. */
export interface TemplateGroups {
  /** How many groups the pattern has (Python's `groups`). */
  readonly count: number;
  /** Python's `groupindex`. */
  readonly index: ReadonlyMap<string, number>;
  /** A bytes pattern: group names must be ASCII. */
  readonly bytes: boolean;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
};
const DIGIT = /[0-9]/;
const OCTAL = /[0-7]/;
const ASCII_LETTER = /[A-Za-z]/;
/** Python's re module allows this many groups. */
const MAX_GROUPS = 0x3fffffff;

/**
 * Reads a replacement template as Python's `re.sub` does (sre_parse's
 * `parse_template`): `\g<name>`, `\g<2>`, `\2` and `\12` refer to groups,
 * `\0` and three-digit octals are characters, `\n` and the other control
 * escapes are characters, any other escaped ASCII letter is an error and any
 * other escaped character stays as written, backslash included.
 *
 * `template` is text for a text pattern, latin1 bytes for a bytes pattern.
 * Throws `RegexProblem` with the index of the bad escape.
 */
export function parseTemplate(template: string, groups: TemplateGroups): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = "";
  const addGroup = (group: number, at: number) => {
    if (group > groups.count) throw new RegexProblem(`invalid group reference ${group}`, at);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push({ group });
  };
  let i = 0;
  while (i < template.length) {
    const slash = template.indexOf("\\", i);
    if (slash === -1) {
      literal += template.slice(i);
      break;
    }
    literal += template.slice(i, slash);
    const c = template[slash + 1];
    if (c === undefined) throw new RegexProblem("bad escape (end of pattern)", slash);
    if (c === "g") {
      const { group, end } = namedReference(template, slash, groups);
      addGroup(group, slash);
      i = end;
    } else if (c === "0") {
      const digits = octalRun(template, slash + 2, 2);
      literal += String.fromCharCode(parseInt(`0${digits}`, 8) & 0xff);
      i = slash + 2 + digits.length;
    } else if (DIGIT.test(c)) {
      const read = digitEscape(template, slash);
      if (typeof read.value === "string") literal += read.value;
      else addGroup(read.value, slash);
      i = read.end;
    } else {
      const simple = SIMPLE_ESCAPES[c];
      if (simple === undefined && ASCII_LETTER.test(c)) throw new RegexProblem(`bad escape \\${c}`, slash);
      // A non-letter escape Python does not know keeps its backslash.
      literal += simple ?? `\\${c}`;
      i = slash + 2;
    }
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

/** Up to `max` octal digits from `at`. */
function octalRun(text: string, at: number, max: number): string {
  let end = at;
  while (end < at + max && OCTAL.test(text[end] ?? "")) end++;
  return text.slice(at, end);
}

/** `\1`…`\99` (a group) or `\101`-style three-digit octals (a character). */
function digitEscape(text: string, slash: number): { value: string | number; end: number } {
  const first = text[slash + 1]!;
  const second = text[slash + 2];
  if (second === undefined || !DIGIT.test(second)) return { value: Number(first), end: slash + 2 };
  const third = text[slash + 3];
  if (OCTAL.test(first) && OCTAL.test(second) && third !== undefined && OCTAL.test(third)) {
    const code = parseInt(first + second + third, 8);
    if (code > 0o377)
      throw new RegexProblem(`octal escape value \\${first}${second}${third} outside of range 0-0o377`, slash);
    return { value: String.fromCharCode(code), end: slash + 4 };
  }
  return { value: Number(first + second), end: slash + 3 };
}

/** `\g<name>` or `\g<number>` at `slash`. */
function namedReference(text: string, slash: number, groups: TemplateGroups): { group: number; end: number } {
  if (text[slash + 2] !== "<") throw new RegexProblem("missing <", slash + 2);
  const close = text.indexOf(">", slash + 3);
  if (close === -1) throw new RegexProblem("missing >, unterminated name", slash + 3);
  const name = text.slice(slash + 3, close);
  if (name === "") throw new RegexProblem("missing group name", slash + 3);
  const identifier = groups.bytes ? /^[A-Za-z_][A-Za-z0-9_]*$/ : /^[\p{L}\p{Nl}_][\p{L}\p{N}\p{Mn}\p{Mc}\p{Pc}_]*$/u;
  if (identifier.test(name)) {
    const group = groups.index.get(name);
    if (group === undefined) throw new RegexProblem(`unknown group name '${name}'`, slash + 3);
    return { group, end: close + 1 };
  }
  if (!/^[0-9]+$/.test(name)) throw new RegexProblem(`bad character in group name '${name}'`, slash + 3);
  const group = Number(name);
  if (group >= MAX_GROUPS) throw new RegexProblem(`invalid group reference ${name}`, slash + 3);
  return { group, end: close + 1 };
}
