/** A Python regex that is invalid, or that has no JavaScript translation; `index` is where, in the pattern. */
export class RegexProblem extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/**
 * Raised inside a translation that found it needs the other way of handling
 * case: see `translatePythonRegex`. Never escapes the translator.
 */
export class Restart extends Error {
  constructor(readonly caseHandling: CaseHandling) {
    super(`restart with ${caseHandling} case handling`);
  }
}

/**
 * `native`: the RegExp `i` flag. `manual`: no flag, letters spelled out as
 * classes (`[aA]`), which is how scoped flags like `(?-i:…)` work, and how a
 * bytes pattern keeps Python's ASCII-only case folding.
 */
export type CaseHandling = "native" | "manual";
