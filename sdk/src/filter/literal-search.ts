/** A compiled regex argument: whether it is found in a subject (Python's `re.search`). */
export type Matcher = (subject: string) => boolean;

/**
 * A Matcher for a pattern that is only literal characters (`example\.com`,
 * `GET`): a substring search, a fraction of the cost of a RegExp call on the
 * short strings most operators read (host, method, header values). `rx` is
 * the same pattern compiled, for the cases a plain search cannot decide.
 *
 * Case is folded as Python folds it: for bytes patterns ASCII letters only;
 * for text patterns Unicode case, where lowercasing the subject agrees with
 * Python for an ASCII literal once the long s (ſ, which Python folds to s) is
 * taken care of.
 */
export function literalMatcher(literal: string, ignoreCase: boolean, bytes: boolean, rx: RegExp): Matcher {
  if (!ignoreCase || !/[A-Za-z]/.test(literal)) {
    // A text pattern with non-ASCII letters still needs case folding.
    if (ignoreCase && !bytes && /[^\x00-\x7f]/.test(literal)) return (s) => rx.test(s);
    return (s) => s.includes(literal);
  }
  const lower = literal.toLowerCase();
  // A bytes subject lowercased turns latin1 letters (bytes of UTF-8 text) into others: only safe for ASCII.
  if (/[^\x00-\x7f]/.test(literal)) return (s) => rx.test(s);
  if (bytes || !lower.includes("s")) return (s) => s.toLowerCase().includes(lower);
  return (s) => s.toLowerCase().replaceAll("\u017f", "s").includes(lower);
}
