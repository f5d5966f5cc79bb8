/**
 * The host-ignoring rules of `ignoreHosts` / `allowHosts` (SEMANTICS.md §1,
 * current mitmproxy): which `host:port` strings a connection is judged by,
 * and whether it is ignored (passed through untouched), intercepted, or the
 * decision has to wait for more bytes.
 *
 * Everything here is pure (no I/O) and cheap: `decideHosts` runs once per
 * protocol decision of every connection. Compile patterns once with
 * `compileHostPatterns` (when the options change), then call `decideHosts`.
 *
 * ```ts
 * const rules = {
 *   allow: compileHostPatterns(options.allowHosts, "--allow-hosts"),
 *   ignore: compileHostPatterns(options.ignoreHosts, "--ignore-hosts"),
 * };
 * const d = decideHosts(rules, hostsInputFrom(data));
 * if (d.action === "wait") data.needMoreData = true;
 * else data.ignoreConnection = d.action === "ignore";
 * ```
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import type { NextLayerData, TlsClienthelloData } from "./addon.ts";
import type { Address } from "./flow.ts";
import { OptionError } from "./options.ts";

/** One compiled host pattern: what the user wrote and the regex it became. */
export interface HostPatterns {
  /** The pattern as the user gave it (shown in logs and errors). */
  readonly source: string;
  /** Case-insensitive, searched (not anchored unless the pattern anchors itself), never global. */
  readonly regex: RegExp;
}

/** The error type of bad patterns / domains: `OptionError`, so option changes are refused. */
export { OptionError as PatternError } from "./options.ts";

// ---------------------------------------------------------------------------
// Compiling (Python spellings → JavaScript)
// ---------------------------------------------------------------------------

/** Python `re` spellings translated into a JavaScript RegExp source plus flags. */
interface Translated {
  source: string;
  flags: string;
}

const PY_FLAG_CHARS = /^[aiLmsux]+$/;

/** A Python pattern with no JavaScript translation; the message is the reason. */
class Untranslatable extends Error {}

/**
 * Translates the Python-only spellings of a pattern into JavaScript:
 * leading global flags `(?i)` `(?s)` `(?m)` `(?a)` `(?u)` (`(?x)` and `(?L)` are refused),
 * `(?P<name>…)` → `(?<name>…)`, `(?P=name)` → `\k<name>`, `(?i:…)` → `(?:…)`
 * (everything is case-insensitive already), `(?#comment)` dropped,
 * `\A` `\Z` `\z` → look-arounds for the string's start / end, `{,n}` → `{0,n}`,
 * and a `]` first in a class (`[]a]`) escaped. Throws `Untranslatable` (its
 * message the reason) on what cannot be translated.
 */
function translatePython(pattern: string): Translated {
  let i = 0;
  let flags = "i";
  // Global inline flags, only at the very start (Python ≥ 3.11 refuses them elsewhere).
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(i));
    if (!m || !PY_FLAG_CHARS.test(m[1]!)) break;
    for (const f of m[1]!) {
      if (f === "x") throw new Untranslatable("the verbose flag (?x) is not supported");
      if (f === "L") throw new Untranslatable("the locale flag (?L) is not supported");
      if ((f === "s" || f === "m") && !flags.includes(f)) flags += f;
    }
    i += m[0].length;
  }

  let out = "";
  const defined = new Set<string>();
  const referenced: string[] = [];
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i]!;
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) {
        out += "\\";
        i += 1;
      } else if (next === "A") {
        out += "(?<![\\s\\S])";
        i += 2;
      } else if (next === "Z" || next === "z") {
        out += "(?![\\s\\S])";
        i += 2;
      } else {
        out += c + next;
        i += 2;
      }
      continue;
    }
    if (c === "[") {
      // Copy the class; Python takes a `]` right after `[` or `[^` literally.
      let j = i + 1;
      out += "[";
      if (pattern[j] === "^") {
        out += "^";
        j++;
      }
      if (pattern[j] === "]") {
        out += "\\]";
        j++;
      }
      while (j < n && pattern[j] !== "]") {
        if (pattern[j] === "\\" && j + 1 < n) {
          out += pattern[j]! + pattern[j + 1]!;
          j += 2;
        } else {
          out += pattern[j]!;
          j++;
        }
      }
      if (j < n) {
        out += "]";
        j++;
      }
      i = j;
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      let m: RegExpExecArray | null;
      if ((m = /^P<([^>]*)>/.exec(rest))) {
        defined.add(m[1]!);
        out += `(?<${m[1]}>`;
        i += 2 + m[0].length;
        continue;
      }
      if ((m = /^P=([^)]*)\)/.exec(rest))) {
        referenced.push(m[1]!);
        out += `\\k<${m[1]}>`;
        i += 2 + m[0].length;
        continue;
      }
      if (rest.startsWith("P")) throw new Untranslatable("unknown extension ?P" + (rest[1] ?? ""));
      if ((m = /^<([A-Za-z_$][\w$]*)>/.exec(rest))) {
        defined.add(m[1]!);
        out += `(?<${m[1]}>`;
        i += 2 + m[0].length;
        continue;
      }
      if (rest.startsWith("#")) {
        const end = pattern.indexOf(")", i);
        if (end < 0) throw new Untranslatable("missing ), unterminated comment");
        i = end + 1;
        continue;
      }
      if ((m = /^([aiu]+):/.exec(rest))) {
        // Scoped flags that change nothing here: everything is case-insensitive already.
        out += "(?:";
        i += 2 + m[0].length;
        continue;
      }
      out += "(?";
      i += 2;
      continue;
    }
    if (c === "{") {
      const m = /^\{,(\d*)\}/.exec(pattern.slice(i));
      if (m) {
        out += `{0,${m[1]}}`;
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  for (const name of referenced) {
    if (!defined.has(name)) throw new Untranslatable(`unknown group name '${name}'`);
  }
  return { source: out, flags };
}

/** The short reason of a V8 RegExp SyntaxError (`Invalid regular expression: /x/i: Unterminated group` → `Unterminated group`). */
function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const at = msg.lastIndexOf(": ");
  return at >= 0 ? msg.slice(at + 2) : msg;
}

/** Compiles one pattern; throws `OptionError` naming the option flag and the pattern. */
export function compileHostPattern(pattern: string, optionFlag: string): HostPatterns {
  let regex: RegExp;
  try {
    const t = translatePython(pattern);
    regex = new RegExp(t.source, t.flags);
  } catch (err) {
    const reason = err instanceof Untranslatable ? err.message : shortReason(err);
    throw new OptionError(`invalid ${optionFlag} pattern '${pattern}': ${reason}`);
  }
  return Object.freeze({ source: pattern, regex });
}

/**
 * Compiles user patterns for option `optionFlag` (e.g. `"--ignore-hosts"`):
 * case-insensitive, searched anywhere in each candidate (Python `re.search`).
 * Python-only spellings are translated (`(?P<name>…)`, `(?P=name)`, leading
 * `(?i)`, …). An invalid pattern throws `OptionError`:
 * `invalid --ignore-hosts pattern '(unclosed': Unterminated group`.
 */
export function compileHostPatterns(patterns: readonly string[], optionFlag: string): HostPatterns[] {
  return patterns.map((p) => compileHostPattern(p, optionFlag));
}

// ---------------------------------------------------------------------------
// Candidates
// ---------------------------------------------------------------------------

/** What the decision looks at (the fields of `NextLayerData` that matter). */
export interface HostsInput {
  /** `server.address`: the destination as given (CONNECT authority, transparent original destination, …). */
  destination?: Address;
  /** `server.peername`: the ip:port actually connected to (eager connection). */
  resolved?: Address;
  /** The parsed ClientHello, `"incomplete"` while it is still arriving, `undefined` when the bytes are not TLS. */
  clientHello?: { sni?: string } | "incomplete";
  /** The Host header of a clear-text HTTP/1 head; `null` none; `"incomplete"` head not complete; `undefined` not HTTP. */
  hostHeader?: string | null | "incomplete";
  /** `client.sni` of a TLS session already established on this connection (the inner decision). */
  outerSni?: string;
  /**
   * No more bytes will come from the client: an `"incomplete"` ClientHello or
   * HTTP head then counts as absent instead of making the decision wait.
   */
  final?: boolean;
}

/**
 * The rules' input for the payload of `nextLayer` or `tlsClienthello`, as the
 * built-in hosts addon builds it: the outer SNI only once interloper terminated
 * the client's TLS; in `tlsClienthello` the ClientHello is complete (`final`).
 */
export function hostsInputFrom(data: NextLayerData | TlsClienthelloData): HostsInput {
  const layer = "stage" in data ? data : undefined;
  return {
    destination: data.server.address,
    resolved: data.server.peername,
    clientHello: data.clientHello,
    hostHeader: layer?.hostHeader,
    outerSni: data.client.tlsEstablished ? data.client.sni : undefined,
    final: layer ? layer.final : true,
  };
}

export type CandidateKind = "resolved" | "destination" | "host-header" | "sni" | "outer-sni";

/** One `host:port` string the patterns are searched in, and where it came from. */
export interface Candidate {
  value: string;
  kind: CandidateKind;
}

/** `::ffff:1.2.3.4` (how Node reports IPv4 on a dual-stack socket) → `1.2.3.4`. */
function unmapIPv4(host: string): string {
  return host.length > 7 && host.slice(0, 7).toLowerCase() === "::ffff:" && host.includes(".") ? host.slice(7) : host;
}

function stripBrackets(host: string): string {
  return host.length >= 2 && host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

const PORT_SUFFIX = /:\d+$/;

/**
 * The Host header as a candidate: `host:port` kept; the destination's port
 * appended when there is none; IPv6 brackets stripped (`[::1]:8080` → `::1:8080`,
 * `[::1]` → `::1:<port>`); a bare IPv6 literal (invalid, but seen) is taken
 * as a host without port.
 */
function hostHeaderCandidate(raw: string, port: number): string | undefined {
  const h = raw.trim();
  if (h === "") return undefined;
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    if (close > 0) {
      const host = h.slice(1, close);
      const rest = h.slice(close + 1);
      if (rest === "" || rest === ":") return `${host}:${port}`;
      if (/^:\d+$/.test(rest)) return host + rest;
    }
    // Malformed: judge it as mitmproxy does, on the raw text.
  } else if (h.indexOf(":") !== h.lastIndexOf(":")) {
    // Several colons without brackets: an IPv6 literal without a port.
    return `${h}:${port}`;
  }
  if (PORT_SUFFIX.test(h)) return h;
  return `${h.endsWith(":") ? h.slice(0, -1) : h}:${port}`;
}

/**
 * The `host:port` candidate strings, in SEMANTICS.md §1 order:
 * 1 resolved `ip:port`; 2 destination `host:port`; and, only when the
 * destination is known, 3 the Host header (destination port appended when it
 * has none), 4 SNI + destination port, 5 outer SNI + destination port.
 * IPv6 without brackets. Duplicates are dropped (the first stays).
 * `"incomplete"` client data gives no candidate.
 */
export function hostCandidates(input: HostsInput): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (value: string, kind: CandidateKind): void => {
    const key = value.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ value, kind });
  };
  const { resolved, destination } = input;
  if (resolved && resolved.host) add(`${unmapIPv4(stripBrackets(resolved.host))}:${resolved.port}`, "resolved");
  if (destination && destination.host) {
    const port = destination.port;
    add(`${stripBrackets(destination.host)}:${port}`, "destination");
    const hh = input.hostHeader;
    if (typeof hh === "string" && hh !== "incomplete") {
      const v = hostHeaderCandidate(hh, port);
      if (v !== undefined) add(v, "host-header");
    }
    const ch = input.clientHello;
    if (ch && ch !== "incomplete" && ch.sni) add(`${ch.sni}:${port}`, "sni");
    if (input.outerSni) add(`${input.outerSni}:${port}`, "outer-sni");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Decision
// ---------------------------------------------------------------------------

/** Which rule decided (for logs and tests). */
export type HostsRule =
  /** Neither list has patterns: intercepted right away. */
  | "no-patterns"
  /** Neither a destination nor a resolved address: nothing is ignored. */
  | "no-destination"
  /** The client's TLS ClientHello is not complete yet. */
  | "incomplete-client-hello"
  /** The client's clear-text HTTP request head is not complete yet. */
  | "incomplete-http-head"
  /** `allowHosts` is set and no candidate matched it: ignored. */
  | "not-allowed"
  /** An `ignoreHosts` pattern matched a candidate: ignored. */
  | "ignored"
  /** An `allowHosts` pattern matched and `ignoreHosts` is empty: intercepted. */
  | "allowed"
  /** `ignoreHosts` is set and nothing matched it: intercepted. */
  | "not-ignored";

export interface HostsDecision {
  action: "ignore" | "intercept" | "wait";
  /** The candidates judged (for "wait": those known so far). */
  candidates: Candidate[];
  /**
   * Why: `{ list: "ignore", pattern, candidate }` the ignore pattern that matched;
   * `{ list: "allow" }` (no pattern) nothing was allowed; `{ list: "allow", pattern, candidate }`
   * the allow pattern that let it through (no ignore list); `{ list: "ignore" }` (no pattern)
   * no ignore pattern matched. Absent for "wait", "no patterns" and "no destination".
   */
  reason?: { list: "allow" | "ignore"; pattern?: string; candidate?: Candidate };
  /** The rule that decided. */
  rule?: HostsRule;
  /** The allow pattern and candidate that let the connection through, when `allowHosts` is set. */
  allowed?: { pattern: string; candidate: Candidate };
}

function firstMatch(
  patterns: readonly HostPatterns[],
  candidates: readonly Candidate[],
): { pattern: string; candidate: Candidate } | undefined {
  // Candidate-major, as mitmproxy's `any(re.search(rex, host) for host in hostnames for rex in patterns)`.
  for (const candidate of candidates) {
    for (const p of patterns) {
      const re = p.regex;
      if (re.global || re.sticky) re.lastIndex = 0;
      if (re.test(candidate.value)) return { pattern: p.source, candidate };
    }
  }
  return undefined;
}

/**
 * The decision of SEMANTICS.md §1: no patterns → intercept; no destination
 * and no resolved address → intercept; patterns, a destination and an
 * incomplete ClientHello / HTTP head → wait (even if the destination alone
 * would match); `allow` set and no candidate matches it → ignore; some
 * candidate matches some `ignore` pattern → ignore; else intercept.
 */
export function decideHosts(
  rules: { readonly allow: readonly HostPatterns[]; readonly ignore: readonly HostPatterns[] },
  input: HostsInput,
): HostsDecision {
  const { allow, ignore } = rules;
  if (allow.length === 0 && ignore.length === 0) {
    return { action: "intercept", candidates: [], rule: "no-patterns" };
  }
  const candidates = hostCandidates(input);
  if (input.destination && input.destination.host && !input.final) {
    if (input.hostHeader === "incomplete") return { action: "wait", candidates, rule: "incomplete-http-head" };
    if (input.clientHello === "incomplete") return { action: "wait", candidates, rule: "incomplete-client-hello" };
  }
  if (candidates.length === 0) return { action: "intercept", candidates, rule: "no-destination" };

  let allowed: { pattern: string; candidate: Candidate } | undefined;
  if (allow.length > 0) {
    allowed = firstMatch(allow, candidates);
    if (!allowed) return { action: "ignore", candidates, reason: { list: "allow" }, rule: "not-allowed" };
  }
  if (ignore.length > 0) {
    const hit = firstMatch(ignore, candidates);
    if (hit)
      return {
        action: "ignore",
        candidates,
        reason: { list: "ignore", ...hit },
        rule: "ignored",
        ...(allowed ? { allowed } : {}),
      };
    return {
      action: "intercept",
      candidates,
      reason: { list: "ignore" },
      rule: "not-ignored",
      ...(allowed ? { allowed } : {}),
    };
  }
  return {
    action: "intercept",
    candidates,
    reason: { list: "allow", ...allowed! },
    rule: "allowed",
    allowed: allowed!,
  };
}

function listCandidates(candidates: readonly Candidate[]): string {
  if (candidates.length === 0) return "(no candidates)";
  return candidates.map((c) => `'${c.value}' (${c.kind})`).join(", ");
}

function inferRule(d: HostsDecision): HostsRule | undefined {
  if (d.rule) return d.rule;
  const r = d.reason;
  if (d.action === "ignore")
    return r?.list === "allow" ? "not-allowed" : r?.pattern !== undefined ? "ignored" : undefined;
  if (d.action === "intercept" && r)
    return r.list === "allow" && r.pattern !== undefined ? "allowed" : r.list === "ignore" ? "not-ignored" : undefined;
  return undefined;
}

/**
 * One human line for `-v` logs, e.g.
 * `ignoring connection: '^(.+\.)?apple\.com:443$' matched 'itunes.apple.com:443' (sni)`,
 * `ignoring connection: no --allow-hosts pattern matched 'a:443' (destination)`,
 * `intercepting connection: no --ignore-hosts pattern matched 'a:443' (destination), 'b:443' (sni)`.
 */
export function describeDecision(d: HostsDecision): string {
  const rule = inferRule(d);
  const list = listCandidates(d.candidates);
  const allowedBy =
    d.allowed ??
    (d.reason?.list === "allow" && d.reason.pattern !== undefined && d.reason.candidate
      ? { pattern: d.reason.pattern, candidate: d.reason.candidate }
      : undefined);
  const allowedText = allowedBy
    ? `--allow-hosts pattern '${allowedBy.pattern}' matched '${allowedBy.candidate.value}' (${allowedBy.candidate.kind})`
    : undefined;
  switch (rule) {
    case "no-patterns":
      return "intercepting connection: no --ignore-hosts or --allow-hosts patterns";
    case "no-destination":
      return "intercepting connection: destination unknown (nothing is ignored without a destination)";
    case "incomplete-client-hello":
      return `waiting for more data: the TLS ClientHello is incomplete (candidates so far: ${list})`;
    case "incomplete-http-head":
      return `waiting for more data: the HTTP request head is incomplete (candidates so far: ${list})`;
    case "not-allowed":
      return `ignoring connection: no --allow-hosts pattern matched ${list}`;
    case "ignored": {
      const r = d.reason!;
      const c = r.candidate;
      return `ignoring connection: '${r.pattern}' matched ${c ? `'${c.value}' (${c.kind})` : list}`;
    }
    case "allowed":
      return `intercepting connection: ${allowedText ?? `--allow-hosts matched ${list}`}`;
    case "not-ignored":
      return allowedText
        ? `intercepting connection: ${allowedText}, and no --ignore-hosts pattern matched ${list}`
        : `intercepting connection: no --ignore-hosts pattern matched ${list}`;
    default:
      if (d.action === "wait") return `waiting for more data (candidates so far: ${list})`;
      return `${d.action === "ignore" ? "ignoring" : "intercepting"} connection: ${list}`;
  }
}

// ---------------------------------------------------------------------------
// Start-up warnings
// ---------------------------------------------------------------------------

type TokKind = "lit" | "esc" | "class" | "group" | "any" | "bol" | "eol" | "assert";

interface Tok {
  kind: TokKind;
  /** The token's text in the source. */
  text: string;
  start: number;
  end: number;
  /** For `lit`: the character it matches. */
  ch?: string;
  /** The quantifier after it (`?`, `*`, `+`, `{m,n}`, maybe lazy). */
  quant?: string;
}

const QUANT = /^(?:[*+?]|\{(?:\d+(?:,\d*)?|,\d*)\})\??/;

/** Splits a pattern into its top-level alternatives of tokens, or `undefined` if it does not scan. */
function scanTopLevel(src: string): Tok[][] | undefined {
  const alts: Tok[][] = [[]];
  let i = 0;
  const n = src.length;
  // Skip leading global flags.
  for (;;) {
    const m = /^\(\?[aiLmsux]+\)/.exec(src.slice(i));
    if (!m) break;
    i += m[0].length;
  }
  const skipClass = (j: number): number => {
    // j at '[' → index after the closing ']', or -1.
    j++;
    if (src[j] === "^") j++;
    if (src[j] === "]") j++;
    while (j < n && src[j] !== "]") j += src[j] === "\\" ? 2 : 1;
    return j < n ? j + 1 : -1;
  };
  while (i < n) {
    const cur = alts[alts.length - 1]!;
    const c = src[i]!;
    let tok: Tok;
    if (c === "|") {
      alts.push([]);
      i++;
      continue;
    }
    if (c === "\\") {
      const next = src[i + 1];
      if (next === undefined) return undefined;
      const text = src.slice(i, i + 2);
      if (next === "A") tok = { kind: "bol", text, start: i, end: i + 2 };
      else if (next === "Z" || next === "z") tok = { kind: "eol", text, start: i, end: i + 2 };
      else if (next === "b" || next === "B") tok = { kind: "assert", text, start: i, end: i + 2 };
      else if (/[A-Za-z0-9]/.test(next)) {
        // \d \w \s \x41 \u0041 \1 …: keep hex/unicode escapes whole.
        let end = i + 2;
        if (next === "x") end = i + 4;
        else if (next === "u") end = i + 6;
        tok = { kind: "esc", text: src.slice(i, end), start: i, end };
      } else tok = { kind: "lit", text, ch: next, start: i, end: i + 2 };
    } else if (c === "[") {
      const end = skipClass(i);
      if (end < 0) return undefined;
      tok = { kind: "class", text: src.slice(i, end), start: i, end };
    } else if (c === "(") {
      let depth = 0;
      let j = i;
      while (j < n) {
        const d = src[j]!;
        if (d === "\\") j += 2;
        else if (d === "[") {
          j = skipClass(j);
          if (j < 0) return undefined;
        } else {
          if (d === "(") depth++;
          else if (d === ")") depth--;
          j++;
          if (depth === 0) break;
        }
      }
      if (depth !== 0) return undefined;
      const text = src.slice(i, j);
      tok = { kind: /^\(\?(?:[=!]|<[=!])/.test(text) ? "assert" : "group", text, start: i, end: j };
    } else if (c === ")") {
      return undefined;
    } else if (c === ".") {
      tok = { kind: "any", text: c, start: i, end: i + 1 };
    } else if (c === "^") {
      tok = { kind: "bol", text: c, start: i, end: i + 1 };
    } else if (c === "$") {
      tok = { kind: "eol", text: c, start: i, end: i + 1 };
    } else if ((c === "*" || c === "+" || c === "?") && cur.length === 0) {
      return undefined;
    } else {
      tok = { kind: "lit", text: c, ch: c, start: i, end: i + 1 };
    }
    i = tok.end;
    const q = QUANT.exec(src.slice(i));
    if (q) {
      tok.quant = q[0];
      tok.end = i + q[0].length;
      i = tok.end;
    }
    cur.push(tok);
  }
  return alts;
}

/** Whether a quantifier allows zero repetitions. */
function allowsZero(quant: string | undefined): boolean {
  if (!quant) return false;
  return quant[0] === "?" || quant[0] === "*" || /^\{0*(?:,|\})/.test(quant) || /^\{,/.test(quant);
}

/** Whether a single token (class, escape, `.`) can match at least one digit. */
function canMatchDigit(tok: Tok): boolean {
  if (tok.kind === "lit") return /\d/.test(tok.ch!);
  if (tok.kind === "any") return true;
  if (tok.kind === "class" || tok.kind === "esc") {
    try {
      const t = translatePython(tok.text);
      const re = new RegExp(`^(?:${t.source})$`, "i");
      for (let d = 0; d <= 9; d++) if (re.test(String(d))) return true;
      return false;
    } catch {
      return true;
    }
  }
  return true; // groups, back-references, …: don't guess
}

/**
 * Start-up warnings for patterns that can never match a `host:port`
 * candidate, saying what to write instead. `[]` for patterns that are fine.
 *
 * Detected (per top-level alternative; every candidate is `host:port`, so it
 * ends with `:` and at least one digit, and never contains `/`, spaces or commas):
 * - `$` right after something that cannot end a port: `^example\.com$`,
 *   `(.+\.)?apple\.com$`, `example\.com:$`, `[a-z]$`, `^$`;
 * - `^:` (the host always comes first);
 * - a scheme or path (`https://example.com`, `example.com/`);
 * - a space or comma (a list given as one pattern).
 * Also: an empty pattern matches every connection.
 */
export function patternWarnings(source: string, optionFlag: string): string[] {
  const warnings: string[] = [];
  const say = (why: string) => warnings.push(`${optionFlag} pattern '${source}' ${why}`);
  if (source === "") {
    say("is empty and matches every connection; give '.*' if that is what you want");
    return warnings;
  }
  let alts: Tok[][] | undefined;
  try {
    compileHostPattern(source, optionFlag);
    alts = scanTopLevel(source);
  } catch {
    return warnings; // compile errors are reported by compileHostPatterns
  }
  if (!alts) return warnings;
  const part = (alt: Tok[]) =>
    alts.length > 1 && alt.length > 0
      ? `the alternative '${source.slice(alt[0]!.start, alt[alt.length - 1]!.end)}'`
      : "it";

  for (const alt of alts) {
    if (alt.length === 0) continue;
    const who = part(alt);

    // 1. `$` before the port.
    let endsBeforePort = false;
    const last = alt[alt.length - 1]!;
    if (last.kind === "eol" && !last.quant) {
      let k = alt.length - 2;
      while (k >= 0 && alt[k]!.kind === "eol" && !alt[k]!.quant) k--;
      const before = k >= 0 ? alt[k]! : undefined;
      let lit = "";
      let j = k;
      while (j >= 0 && alt[j]!.kind === "lit" && !alt[j]!.quant) {
        lit = alt[j]!.ch! + lit;
        j--;
      }
      if (!before) {
        // a lone `$` matches at the end of every candidate
      } else if (before.kind === "bol") {
        endsBeforePort = !before.quant; // `^$`: only the empty string
      } else if (lit !== "") {
        const wholeAlt = j === 0 && alt[0]!.kind === "bol" && !alt[0]!.quant;
        // `^:443$` is the "host comes first" case below.
        if (wholeAlt) endsBeforePort = !/^[^]+:\d+$/.test(lit) && !/^:\d+$/.test(lit);
        else endsBeforePort = !(/^\d*$/.test(lit) || /:\d+$/.test(lit));
      } else if (
        before.kind !== "group" &&
        before.kind !== "assert" &&
        before.kind !== "eol" &&
        !allowsZero(before.quant)
      ) {
        endsBeforePort = !canMatchDigit(before);
      }
      if (endsBeforePort) {
        const prefix = source.slice(0, last.start);
        const suffix = source.slice(last.end);
        let what: string;
        if (before!.kind === "bol") {
          what = `in ${who} '^$' only matches an empty string`;
        } else {
          const shown = source.slice(lit !== "" ? alt[j + 1]!.start : before!.start, before!.end);
          what = `${who} ends ('$') right after '${shown}', before the port`;
        }
        let fix = "";
        if (lit !== "" && before!.kind !== "bol" && (!lit.includes(":") || lit.endsWith(":"))) {
          const base = lit.endsWith(":") ? prefix : `${prefix}:`;
          fix = `; write '${base}${suffix}' (any port) or '${base}443$${suffix}' instead`;
        }
        say(`can never match: candidates are host:port strings (e.g. 'example.com:443'), but ${what}${fix}`);
      }
    }

    // 2. `^:`
    if (
      !endsBeforePort &&
      alt[0]!.kind === "bol" &&
      !alt[0]!.quant &&
      alt[1]?.kind === "lit" &&
      alt[1].ch === ":" &&
      !alt[1].quant
    ) {
      say(
        `can never match: candidates start with the host (e.g. 'example.com:443'), but ${who} starts with ':'; drop the '^' to match a port`,
      );
    }

    // 3./4. characters no candidate contains.
    for (let t = 0; t < alt.length; t++) {
      const tok = alt[t]!;
      if (tok.kind !== "lit" || allowsZero(tok.quant)) continue;
      if (tok.ch === "/") {
        say(
          `can never match: candidates are host:port strings (e.g. 'example.com:443') without scheme or path, but ${who} contains '/'; write e.g. '^example\\.com:443$'`,
        );
        break;
      }
      if (tok.ch === " " || tok.ch === "," || tok.ch === "\t") {
        say(
          `can never match: candidates never contain '${tok.ch === "," ? "," : " "}'; to give several patterns, repeat ${optionFlag} once for each`,
        );
        break;
      }
    }
  }
  return warnings;
}

// ---------------------------------------------------------------------------
// --ignore-domain / --allow-domain
// ---------------------------------------------------------------------------

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The pattern of the `--ignore-domain` / `--allow-domain` shorthand: the
 * domain and its subdomains on any port, `example.com` →
 * `^(.+\.)?example\.com:\d+$`. `*.example.com` → subdomains only
 * (`^.+\.example\.com:\d+$`); a leading `.` (`.example.com`, as in NO_PROXY)
 * is the same as none. IP literals match exactly: `17.178.96.59` →
 * `^17\.178\.96\.59:\d+$`, `[2001:db8::1]` → `^2001:db8::1:\d+$`.
 * Case and a trailing dot are ignored, international names become
 * punycode. Bad input throws `OptionError` naming the flag and the value.
 */
export function domainPattern(domain: string, optionFlag: string): string {
  const bad = (why: string) => new OptionError(`invalid ${optionFlag} value '${domain}': ${why}`);
  let name = domain.trim();
  if (name === "") throw bad("expected a domain name like 'example.com' or '*.example.com', or an IP address");

  // IP literals.
  const bare = stripBrackets(name);
  const ipVersion = isIP(bare);
  if (ipVersion === 4) return `^${escapeRegex(bare)}:\\d+$`;
  if (ipVersion === 6) {
    let canonical = bare.toLowerCase();
    try {
      canonical = stripBrackets(new URL(`http://[${bare}]/`).hostname);
    } catch {
      // zone ids etc.: keep as written
    }
    return `^${escapeRegex(canonical)}:\\d+$`;
  }
  if (name.startsWith("[")) throw bad("not an IP address");

  let subdomainsOnly = false;
  if (name.startsWith("*.")) {
    subdomainsOnly = true;
    name = name.slice(2);
  } else if (name.startsWith(".")) {
    name = name.slice(1);
  }
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (/[:/\s]/.test(name)) {
    throw bad(
      "expected a domain name without scheme, port or path, like 'example.com' (use --ignore-hosts / --allow-hosts for ports)",
    );
  }
  if (name.includes("*")) throw bad("'*' is only allowed as a leading '*.'");
  const ascii = /^[\x21-\x7e]*$/.test(name) ? name.toLowerCase() : domainToASCII(name);
  if (ascii === "") throw bad("not a valid domain name");
  const labels = ascii.split(".");
  if (ascii.length > 253 || labels.some((l) => !LABEL.test(l))) {
    throw bad(
      "expected a domain name (letters, digits, '-' and '.'), like 'example.com' or '*.example.com', or an IP address",
    );
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw bad("neither a domain name nor an IP address");
  const escaped = labels.join("\\.");
  return subdomainsOnly ? `^.+\\.${escaped}:\\d+$` : `^(.+\\.)?${escaped}:\\d+$`;
}
