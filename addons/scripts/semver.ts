// The part of npm's semver ranges an addon's peer dependency on the sdk uses: `1.2.3`, `^1.2`,
// `~1.2.3`, `>=1 <3`, `1.x`, `*`, `1.0.0 - 2.0.0` and `||` between them. Pre-release tags
// compare as semver orders them, without npm's rule that hides them from ranges of other versions.

/** A version as three numbers and its pre-release tag (empty for a release). */
export interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

interface Comparator {
  op: "<" | "<=" | ">" | ">=" | "=";
  v: Version;
}

const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(text: string): Version | undefined {
  const m = PARTIAL.exec(text.trim());
  if (!m || [m[1], m[2], m[3]].some((p) => p === undefined || !/^\d+$/.test(p))) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? "" };
}

export function compareVersions(a: Version, b: Version): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (d !== 0) return d;
  if (a.pre === b.pre) return 0;
  // A release is newer than its pre-releases.
  if (a.pre === "") return 1;
  if (b.pre === "") return -1;
  return comparePre(a.pre, b.pre);
}

function comparePre(a: string, b: string): number {
  const pa = a.split(".");
  const pb = b.split(".");
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Whether `version` is in `range`; undefined when `range` is not a semver range (a URL, `file:`, a tag). */
export function satisfies(version: string, range: string): boolean | undefined {
  const v = parseVersion(version);
  const sets = parseRange(range);
  if (!v || !sets) return undefined;
  return sets.some((set) => set.every((c) => test(c, v)));
}

/** The lowest release a range admits (`^1.2` → 1.2.0, `>=2` → 2.0.0), if it is a range. */
export function minVersion(range: string): Version | undefined {
  const sets = parseRange(range);
  if (!sets) return undefined;
  let best: Version | undefined;
  for (const set of sets) {
    let low: Version = { major: 0, minor: 0, patch: 0, pre: "" };
    for (const c of set) {
      if ((c.op === ">=" || c.op === "=") && compareVersions(c.v, low) > 0) low = c.v;
      if (c.op === ">" && compareVersions(c.v, low) >= 0)
        low = Object.assign({}, c.v, { patch: c.v.patch + 1, pre: "" });
    }
    if (set.every((c) => test(c, low)) && (!best || compareVersions(low, best) < 0)) best = low;
  }
  return best;
}

function test(c: Comparator, v: Version): boolean {
  const d = compareVersions(v, c.v);
  switch (c.op) {
    case "<":
      return d < 0;
    case "<=":
      return d <= 0;
    case ">":
      return d > 0;
    case ">=":
      return d >= 0;
    default:
      return d === 0;
  }
}

/** `||`-separated sets of comparators that must all hold; undefined when it is not a range. */
function parseRange(range: string): Comparator[][] | undefined {
  const sets: Comparator[][] = [];
  for (const part of range.split("||")) {
    const set = parseSet(part.trim());
    if (!set) return undefined;
    sets.push(set);
  }
  return sets;
}

function parseSet(text: string): Comparator[] | undefined {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen) {
    const low = expand(">=", hyphen[1]!);
    const high = expand("<=", hyphen[2]!);
    return low && high ? [...low, ...high] : undefined;
  }
  const out: Comparator[] = [];
  // `>= 1.2` is `>=1.2`: join an operator to the version after it.
  const tokens = text
    .replace(/(<=|>=|<|>|=|\^|~)\s+/g, "$1")
    .split(/\s+/)
    .filter(Boolean);
  if (tokens.length === 0) return [];
  for (const token of tokens) {
    const m = /^(<=|>=|<|>|=|\^|~>?|)(.*)$/.exec(token)!;
    const cs = expand(m[1]!, m[2]!);
    if (!cs) return undefined;
    out.push(...cs);
  }
  return out;
}

/** One operator and a possibly partial version as plain comparators. */
function expand(op: string, text: string): Comparator[] | undefined {
  const m = PARTIAL.exec(text);
  if (!m) return undefined;
  const num = (p: string | undefined) => (p === undefined || /^[xX*]$/.test(p) ? undefined : Number(p));
  const [major, minor, patch] = [num(m[1]), num(m[2]), num(m[3])];
  const pre = m[4] ?? "";
  const at = (a: number, b: number, c: number, p = ""): Version => ({ major: a, minor: b, patch: c, pre: p });
  if (major === undefined) return op === "<" || op === ">" ? [{ op: "<", v: at(0, 0, 0) }] : [];
  const exact = minor !== undefined && patch !== undefined;
  const low = at(major, minor ?? 0, patch ?? 0, exact ? pre : "");
  // The first version past what a partial version covers (`1` → 2.0.0, `1.2` → 1.3.0).
  const next = minor === undefined ? at(major + 1, 0, 0) : patch === undefined ? at(major, minor + 1, 0) : undefined;
  switch (op) {
    case "^": {
      const upper =
        major > 0 || minor === undefined
          ? at(major + 1, 0, 0)
          : minor > 0 || patch === undefined
            ? at(0, minor + 1, 0)
            : at(0, 0, patch + 1);
      return [
        { op: ">=", v: low },
        { op: "<", v: upper },
      ];
    }
    case "~":
    case "~>":
      return [
        { op: ">=", v: low },
        { op: "<", v: minor === undefined ? at(major + 1, 0, 0) : at(major, minor + 1, 0) },
      ];
    case ">":
      return [next ? { op: ">=", v: next } : { op: ">", v: low }];
    case "<=":
      return [next ? { op: "<", v: next } : { op: "<=", v: low }];
    case "<":
    case ">=":
      return [{ op, v: low }];
    default:
      return next
        ? [
            { op: ">=", v: low },
            { op: "<", v: next },
          ]
        : [{ op: "=", v: low }];
  }
}
