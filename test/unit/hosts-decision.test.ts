// The pure ignore_hosts / allow_hosts rules of sdk/src/hosts.ts
// (SEMANTICS.md §1 and the seed page "Ignoring Domains").
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  OptionError,
  PatternError,
  compileHostPatterns,
  decideHosts,
  describeDecision,
  domainPattern,
  hostCandidates,
  patternWarnings,
  type CandidateKind,
  type HostsDecision,
  type HostsInput,
  type HostsRule,
} from "../../sdk/src/index.ts";

const at = (host: string, port: number) => ({ host, port });
const hello = (sni?: string) => (sni === undefined ? {} : { sni });

interface Case {
  name: string;
  ignore?: string[];
  allow?: string[];
  input: HostsInput;
  expect: "ignore" | "intercept" | "wait";
  /** The rule that decides, when worth pinning. */
  rule?: HostsRule;
  /** For matches: the kind of candidate that matched. */
  by?: CandidateKind;
}

const cases: Case[] = [
  // --- No patterns: everything intercepted, never a wait.
  {
    name: "no patterns: intercepted",
    input: { destination: at("example.com", 443) },
    expect: "intercept",
    rule: "no-patterns",
  },
  {
    name: "no patterns: an incomplete ClientHello does not wait",
    input: { destination: at("example.com", 443), clientHello: "incomplete" },
    expect: "intercept",
    rule: "no-patterns",
  },
  {
    name: "no patterns: an incomplete HTTP head does not wait",
    input: { destination: at("10.0.0.1", 80), hostHeader: "incomplete" },
    expect: "intercept",
    rule: "no-patterns",
  },

  // --- The seed page's examples.
  {
    name: "seed: lax 'apple.com:443' matches itunes.apple.com:443",
    ignore: ["apple.com:443"],
    input: { destination: at("itunes.apple.com", 443) },
    expect: "ignore",
    by: "destination",
  },
  {
    name: "seed: lax 'apple.com:443' also matches evilapple.com:443",
    ignore: ["apple.com:443"],
    input: { destination: at("evilapple.com", 443) },
    expect: "ignore",
  },
  {
    name: "seed: lax 'apple.com:443' ('.' is any char) matches applexcom:443",
    ignore: ["apple.com:443"],
    input: { destination: at("applexcom", 443) },
    expect: "ignore",
  },
  {
    name: "seed: 'apple.com:443' does not match another port",
    ignore: ["apple.com:443"],
    input: { destination: at("apple.com", 80) },
    expect: "intercept",
    rule: "not-ignored",
  },
  {
    name: "seed: correct apple pattern matches apple.com:443",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("apple.com", 443) },
    expect: "ignore",
  },
  {
    name: "seed: correct apple pattern matches itunes.apple.com:443",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("itunes.apple.com", 443) },
    expect: "ignore",
  },
  {
    name: "seed: correct apple pattern does not match evilapple.com:443",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("evilapple.com", 443) },
    expect: "intercept",
  },
  {
    name: "seed: correct apple pattern does not match apple.com.evil.net:443",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("apple.com.evil.net", 443) },
    expect: "intercept",
  },
  {
    name: "seed: correct apple pattern does not match apple.com:8443",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("apple.com", 8443) },
    expect: "intercept",
  },
  {
    name: "seed: '^example.com:' matches example.com on 443",
    ignore: ["^example.com:"],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
  {
    name: "seed: '^example.com:' matches example.com on any port",
    ignore: ["^example.com:"],
    input: { destination: at("example.com", 8080) },
    expect: "ignore",
  },
  {
    name: "seed: '^example.com:' does not match subdomains",
    ignore: ["^example.com:"],
    input: { destination: at("www.example.com", 443) },
    expect: "intercept",
  },
  {
    name: "seed: the tutorial's '^example\\.com:443$'",
    ignore: ["^example\\.com:443$"],
    input: { destination: at("example.com", 443), resolved: at("93.184.216.34", 443) },
    expect: "ignore",
    by: "destination",
  },
  {
    name: "seed: '^example\\.com$' never matches (there is always a port)",
    ignore: ["^example\\.com$"],
    input: {
      destination: at("example.com", 443),
      resolved: at("93.184.216.34", 443),
      clientHello: hello("example.com"),
    },
    expect: "intercept",
  },
  {
    name: "seed: transparent IP '17\\.178\\.96\\.59:443'",
    ignore: ["17\\.178\\.96\\.59:443"],
    input: { destination: at("17.178.96.59", 443) },
    expect: "ignore",
  },
  {
    name: "seed: IP range '17\\.178\\.\\d+\\.\\d+:443' matches",
    ignore: ["17\\.178\\.\\d+\\.\\d+:443"],
    input: { destination: at("17.178.12.34", 443) },
    expect: "ignore",
  },
  {
    name: "seed: IP range does not match 17.179.x.x",
    ignore: ["17\\.178\\.\\d+\\.\\d+:443"],
    input: { destination: at("17.179.1.1", 443) },
    expect: "intercept",
  },
  {
    name: "seed: IP range does not match port 8443",
    ignore: ["17\\.178\\.\\d+\\.\\d+:443"],
    input: { destination: at("17.178.1.1", 8443) },
    expect: "intercept",
  },
  {
    name: "search, not full match: 'example\\.com' matches evilexample.com:443",
    ignore: ["example\\.com"],
    input: { destination: at("evilexample.com", 443) },
    expect: "ignore",
  },

  // --- Resolved address (eager connection).
  {
    name: "resolved ip:port matches an IP pattern for a named destination",
    ignore: ["^17\\.178\\."],
    input: { destination: at("apple.com", 443), resolved: at("17.178.96.59", 443) },
    expect: "ignore",
    by: "resolved",
  },
  {
    name: "without the resolved address the IP pattern cannot match a name",
    ignore: ["^17\\.178\\."],
    input: { destination: at("apple.com", 443) },
    expect: "intercept",
  },
  {
    name: "resolved address alone (no destination) is still judged",
    ignore: ["^10\\.0\\.0\\.1:443$"],
    input: { resolved: at("10.0.0.1", 443) },
    expect: "ignore",
    by: "resolved",
  },
  {
    name: "IPv4-mapped resolved address is judged as IPv4",
    ignore: ["^17\\.178\\.96\\.59:443$"],
    input: { destination: at("apple.com", 443), resolved: at("::ffff:17.178.96.59", 443) },
    expect: "ignore",
    by: "resolved",
  },

  // --- Ports.
  {
    name: "port-only ':443$' matches any host on 443",
    ignore: [":443$"],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
  {
    name: "port-only ':443$' does not match 8443",
    ignore: [":443$"],
    input: { destination: at("example.com", 8443) },
    expect: "intercept",
  },
  {
    name: "port-only ':8443$' matches 8443",
    ignore: [":8443$"],
    input: { destination: at("example.com", 8443) },
    expect: "ignore",
  },
  {
    name: "unanchored ':443' also matches port 4430 (search)",
    ignore: [":443"],
    input: { destination: at("example.com", 4430) },
    expect: "ignore",
  },

  // --- IPv6 (no brackets).
  {
    name: "IPv6 destination without brackets",
    ignore: ["^2001:db8::1:443$"],
    input: { destination: at("2001:db8::1", 443) },
    expect: "ignore",
  },
  {
    name: "IPv6 candidate has no brackets",
    ignore: ["\\["],
    input: { destination: at("::1", 443), resolved: at("::1", 443) },
    expect: "intercept",
  },
  {
    name: "IPv6 destination given with brackets is judged without",
    ignore: ["^::1:8443$"],
    input: { destination: at("[::1]", 8443) },
    expect: "ignore",
  },

  // --- SNI.
  {
    name: "SNI + destination port (transparent, IP destination)",
    ignore: ["^(.+\\.)?apple\\.com:443$"],
    input: { destination: at("17.1.2.3", 443), clientHello: hello("itunes.apple.com") },
    expect: "ignore",
    by: "sni",
  },
  {
    name: "SNI gets the destination's port, not 443",
    ignore: ["apple\\.com:443$"],
    input: { destination: at("17.1.2.3", 8443), clientHello: hello("apple.com") },
    expect: "intercept",
  },
  {
    name: "SNI gets the destination's port (8443 pattern)",
    ignore: ["apple\\.com:8443$"],
    input: { destination: at("17.1.2.3", 8443), clientHello: hello("apple.com") },
    expect: "ignore",
    by: "sni",
  },
  {
    name: "SNI without any destination: no ignore",
    ignore: ["apple"],
    input: { clientHello: hello("apple.com") },
    expect: "intercept",
    rule: "no-destination",
  },
  {
    name: "SNI is not used with only a resolved address",
    ignore: ["apple"],
    input: { resolved: at("1.2.3.4", 443), clientHello: hello("apple.com") },
    expect: "intercept",
    rule: "not-ignored",
  },
  {
    name: "ClientHello without SNI: judged on the destination",
    ignore: ["apple"],
    input: { destination: at("1.2.3.4", 443), clientHello: hello() },
    expect: "intercept",
  },
  {
    name: "empty SNI gives no candidate",
    ignore: ["^:443$", "^:"],
    input: { destination: at("1.2.3.4", 443), clientHello: hello("") },
    expect: "intercept",
  },

  // --- Incomplete / garbage ClientHello.
  {
    name: "incomplete ClientHello waits",
    ignore: ["apple"],
    input: { destination: at("10.0.0.1", 443), clientHello: "incomplete" },
    expect: "wait",
    rule: "incomplete-client-hello",
  },
  {
    name: "incomplete ClientHello waits even if the destination already matches",
    ignore: ["^10\\."],
    input: { destination: at("10.0.0.1", 443), resolved: at("10.0.0.1", 443), clientHello: "incomplete" },
    expect: "wait",
  },
  {
    name: "incomplete ClientHello without destination: no wait, no ignore",
    ignore: ["apple"],
    input: { clientHello: "incomplete" },
    expect: "intercept",
    rule: "no-destination",
  },
  {
    name: "incomplete ClientHello, resolved only: no wait",
    ignore: ["^10\\."],
    input: { resolved: at("10.0.0.1", 443), clientHello: "incomplete" },
    expect: "ignore",
  },
  {
    name: "incomplete ClientHello but final: decided on what is known",
    ignore: ["^10\\."],
    input: { destination: at("10.0.0.1", 443), clientHello: "incomplete", final: true },
    expect: "ignore",
  },
  {
    name: "garbage (not a ClientHello): no SNI, destination matches",
    ignore: ["^10\\.0\\.0\\.1:443$"],
    input: { destination: at("10.0.0.1", 443), clientHello: undefined },
    expect: "ignore",
  },
  {
    name: "garbage (not a ClientHello): no SNI, nothing matches",
    ignore: ["apple"],
    input: { destination: at("10.0.0.1", 443), clientHello: undefined },
    expect: "intercept",
  },

  // --- Host header (clear-text HTTP/1).
  {
    name: "Host without port gets the destination's port",
    ignore: ["^example\\.com:80$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "example.com" },
    expect: "ignore",
    by: "host-header",
  },
  {
    name: "Host with its own port keeps it",
    ignore: ["^example\\.com:8080$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "example.com:8080" },
    expect: "ignore",
    by: "host-header",
  },
  {
    name: "Host with its own port: destination's port not appended",
    ignore: ["^example\\.com:80$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "example.com:8080" },
    expect: "intercept",
  },
  {
    name: "Host missing (null): judged on the destination only",
    ignore: ["example"],
    input: { destination: at("10.0.0.1", 80), hostHeader: null },
    expect: "intercept",
  },
  {
    name: "Host IPv6 with port: brackets stripped",
    ignore: ["^::1:8080$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "[::1]:8080" },
    expect: "ignore",
    by: "host-header",
  },
  {
    name: "Host IPv6 without port: brackets stripped, port appended",
    ignore: ["^::1:80$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "[::1]" },
    expect: "ignore",
    by: "host-header",
  },
  {
    name: "incomplete HTTP head waits",
    ignore: ["example"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "incomplete" },
    expect: "wait",
    rule: "incomplete-http-head",
  },
  {
    name: "incomplete HTTP head waits even if the destination matches",
    ignore: ["^10\\."],
    input: { destination: at("10.0.0.1", 80), hostHeader: "incomplete" },
    expect: "wait",
  },
  {
    name: "Host header without destination (absolute-form request): never ignored",
    ignore: ["example"],
    input: { hostHeader: "example.com" },
    expect: "intercept",
    rule: "no-destination",
  },
  { name: "nothing known at all: no ignore", ignore: [".*"], input: {}, expect: "intercept", rule: "no-destination" },

  // --- allow_hosts, and both lists.
  {
    name: "allow: matching destination is intercepted",
    allow: ["example\\.com"],
    input: { destination: at("example.com", 443) },
    expect: "intercept",
    rule: "allowed",
  },
  {
    name: "allow: anything else is ignored",
    allow: ["example\\.com"],
    input: { destination: at("other.org", 443) },
    expect: "ignore",
    rule: "not-allowed",
  },
  {
    name: "allow: SNI can allow an IP destination",
    allow: ["^example\\.com:"],
    input: { destination: at("93.184.216.34", 443), clientHello: hello("example.com") },
    expect: "intercept",
    by: "sni",
  },
  {
    name: "allow: no destination, nothing ignored",
    allow: ["example\\.com"],
    input: {},
    expect: "intercept",
    rule: "no-destination",
  },
  {
    name: "allow: incomplete ClientHello waits",
    allow: ["example\\.com"],
    input: { destination: at("93.184.216.34", 443), clientHello: "incomplete" },
    expect: "wait",
  },
  {
    name: "allow + ignore: allowed but ignored",
    allow: ["example\\.com"],
    ignore: ["^static\\.example\\.com:"],
    input: { destination: at("static.example.com", 443) },
    expect: "ignore",
    rule: "ignored",
  },
  {
    name: "allow + ignore: allowed, not ignored",
    allow: ["example\\.com"],
    ignore: ["^static\\.example\\.com:"],
    input: { destination: at("www.example.com", 443) },
    expect: "intercept",
    rule: "not-ignored",
  },
  {
    name: "allow + ignore: not allowed",
    allow: ["example\\.com"],
    ignore: ["^static\\.example\\.com:"],
    input: { destination: at("other.org", 443) },
    expect: "ignore",
    rule: "not-allowed",
  },

  // --- Outer SNI (the inner decision after client TLS was terminated).
  {
    name: "outer SNI + destination port",
    ignore: ["^api\\.example\\.com:443$"],
    input: { destination: at("10.0.0.1", 443), outerSni: "api.example.com" },
    expect: "ignore",
    by: "outer-sni",
  },
  {
    name: "outer SNI allows the inner connection",
    allow: ["^api\\.example\\.com:"],
    input: { destination: at("10.0.0.1", 443), outerSni: "api.example.com", clientHello: undefined },
    expect: "intercept",
    by: "outer-sni",
  },
  {
    name: "outer SNI without destination: no ignore",
    ignore: ["api"],
    input: { outerSni: "api.example.com" },
    expect: "intercept",
  },

  // --- Case, several patterns, Python spellings, edge patterns.
  {
    name: "case-insensitive: upper-case pattern",
    ignore: ["^EXAMPLE\\.COM:443$"],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
  {
    name: "case-insensitive: upper-case SNI",
    ignore: ["^example\\.com:443$"],
    input: { destination: at("10.0.0.1", 443), clientHello: hello("EXAMPLE.com") },
    expect: "ignore",
    by: "sni",
  },
  {
    name: "case-insensitive: upper-case Host header",
    ignore: ["^example\\.com:80$"],
    input: { destination: at("10.0.0.1", 80), hostHeader: "Example.COM" },
    expect: "ignore",
  },
  {
    name: "Python (?i) at the start is accepted",
    ignore: ["(?i)^example\\.com:443$"],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
  {
    name: "several patterns: the second matches",
    ignore: ["^a\\.com:", "^b\\.com:"],
    input: { destination: at("b.com", 443) },
    expect: "ignore",
  },
  {
    name: "several patterns: none matches",
    ignore: ["^a\\.com:", "^b\\.com:"],
    input: { destination: at("c.com", 443) },
    expect: "intercept",
  },
  {
    name: "Python named group (?P<sub>...)",
    ignore: ["^(?P<sub>.+)\\.apple\\.com:443$"],
    input: { destination: at("itunes.apple.com", 443) },
    expect: "ignore",
  },
  {
    name: "Python back-reference (?P=name)",
    ignore: ["^(?P<w>[a-z]+)\\.(?P=w)\\.com:"],
    input: { destination: at("foo.foo.com", 443) },
    expect: "ignore",
  },
  {
    name: "an empty pattern matches every connection (re.search)",
    ignore: [""],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
  {
    name: "'.*' matches every connection with a destination",
    ignore: [".*"],
    input: { destination: at("example.com", 443) },
    expect: "ignore",
  },
];

const compiled = (c: Case) => ({
  allow: compileHostPatterns(c.allow ?? [], "--allow-hosts"),
  ignore: compileHostPatterns(c.ignore ?? [], "--ignore-hosts"),
});

for (const c of cases) {
  test(`decision: ${c.name} → ${c.expect}`, () => {
    const d = decideHosts(compiled(c), c.input);
    assert.is(d.action, c.expect, describeDecision(d));
    if (c.rule) assert.is(d.rule, c.rule, describeDecision(d));
    if (c.by) {
      const kind = d.action === "ignore" ? d.reason?.candidate?.kind : d.allowed?.candidate.kind;
      assert.is(kind, c.by, describeDecision(d));
    }
  });
}

test("the table has at least 40 decision cases", () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
});

// --- Candidates.

test("candidates: SEMANTICS order resolved, destination, Host, SNI, outer SNI", () => {
  const c = hostCandidates({
    destination: at("example.com", 8443),
    resolved: at("93.184.216.34", 8443),
    hostHeader: "www.example.com",
    clientHello: hello("sni.example.com"),
    outerSni: "outer.example.com",
  });
  assert.equal(c, [
    { value: "93.184.216.34:8443", kind: "resolved" },
    { value: "example.com:8443", kind: "destination" },
    { value: "www.example.com:8443", kind: "host-header" },
    { value: "sni.example.com:8443", kind: "sni" },
    { value: "outer.example.com:8443", kind: "outer-sni" },
  ]);
});

test("candidates: without destination only the resolved address", () => {
  assert.equal(
    hostCandidates({
      resolved: at("1.2.3.4", 443),
      hostHeader: "a.com",
      clientHello: hello("b.com"),
      outerSni: "c.com",
    }),
    [{ value: "1.2.3.4:443", kind: "resolved" }],
  );
  assert.equal(hostCandidates({ hostHeader: "a.com", clientHello: hello("b.com"), outerSni: "c.com" }), []);
});

test("candidates: duplicates dropped, the first kept", () => {
  assert.equal(
    hostCandidates({ destination: at("example.com", 443), clientHello: hello("example.com"), outerSni: "EXAMPLE.com" }),
    [{ value: "example.com:443", kind: "destination" }],
  );
});

test("candidates: IPv6 without brackets", () => {
  assert.equal(hostCandidates({ destination: at("2001:db8::1", 443), resolved: at("2001:db8::1", 443) }), [
    { value: "2001:db8::1:443", kind: "resolved" },
  ]);
  const v = (hostHeader: string) => hostCandidates({ destination: at("10.0.0.1", 80), hostHeader })[1]?.value;
  assert.is(v("[2001:db8::1]:8080"), "2001:db8::1:8080");
  assert.is(v("[2001:db8::1]"), "2001:db8::1:80");
  assert.is(v("2001:db8::1"), "2001:db8::1:80");
  assert.is(v("example.com:"), "example.com:80");
  assert.is(v(" example.com "), "example.com:80");
  assert.is(hostCandidates({ destination: at("10.0.0.1", 80), hostHeader: "" }).length, 1);
});

test("candidates: incomplete data gives no candidate", () => {
  assert.equal(hostCandidates({ destination: at("a.com", 443), clientHello: "incomplete", hostHeader: "incomplete" }), [
    { value: "a.com:443", kind: "destination" },
  ]);
});

test("decision: the first matching candidate (candidate order) is reported", () => {
  const d = decideHosts(
    { allow: [], ignore: compileHostPatterns(["example", "^93\\."], "--ignore-hosts") },
    { destination: at("example.com", 443), resolved: at("93.184.216.34", 443) },
  );
  assert.equal(d.reason, {
    list: "ignore",
    pattern: "^93\\.",
    candidate: { value: "93.184.216.34:443", kind: "resolved" },
  });
});

test("decision: reasons", () => {
  const allow = compileHostPatterns(["^a\\.com:"], "--allow-hosts");
  const ignore = compileHostPatterns(["^b\\.com:"], "--ignore-hosts");
  assert.equal(decideHosts({ allow, ignore: [] }, { destination: at("c.com", 443) }).reason, { list: "allow" });
  assert.equal(decideHosts({ allow: [], ignore }, { destination: at("c.com", 443) }).reason, { list: "ignore" });
  assert.equal(decideHosts({ allow, ignore: [] }, { destination: at("a.com", 443) }).reason, {
    list: "allow",
    pattern: "^a\\.com:",
    candidate: { value: "a.com:443", kind: "destination" },
  });
  const none = decideHosts({ allow: [], ignore: [] }, { destination: at("c.com", 443) });
  assert.is(none.reason, undefined);
  assert.equal(none.candidates, []);
  const wait = decideHosts({ allow: [], ignore }, { destination: at("c.com", 443), clientHello: "incomplete" });
  assert.is(wait.reason, undefined);
  assert.equal(wait.candidates, [{ value: "c.com:443", kind: "destination" }]);
});

// --- Compiling.

test("compile: invalid pattern → OptionError with the exact message", () => {
  try {
    compileHostPatterns(["ok", "(unclosed"], "--ignore-hosts");
    assert.unreachable("should throw");
  } catch (err) {
    assert.instance(err, OptionError);
    assert.instance(err, PatternError);
    assert.is((err as Error).message, "invalid --ignore-hosts pattern '(unclosed': Unterminated group");
  }
  assert.throws(
    () => compileHostPatterns(["*.example.com"], "--allow-hosts"),
    (e: Error) => e.message === "invalid --allow-hosts pattern '*.example.com': Nothing to repeat",
  );
  assert.throws(
    () => compileHostPatterns(["[abc"], "--ignore-hosts"),
    (e: Error) => e.message === "invalid --ignore-hosts pattern '[abc': Unterminated character class",
  );
  assert.throws(
    () => compileHostPatterns(["a)"], "--ignore-hosts"),
    (e: Error) => e.message === "invalid --ignore-hosts pattern 'a)': Unmatched ')'",
  );
  assert.throws(
    () => compileHostPatterns(["(?P=nope)x"], "--ignore-hosts"),
    (e: Error) => e.message === "invalid --ignore-hosts pattern '(?P=nope)x': unknown group name 'nope'",
  );
  assert.throws(
    () => compileHostPatterns(["(?x) a b"], "--ignore-hosts"),
    (e: Error) => e.message.startsWith("invalid --ignore-hosts pattern '(?x) a b': "),
  );
});

test("compile: keeps the source, case-insensitive, not global", () => {
  const [p] = compileHostPatterns(["^(.+\\.)?apple\\.com:443$"], "--ignore-hosts");
  assert.is(p!.source, "^(.+\\.)?apple\\.com:443$");
  assert.ok(p!.regex.ignoreCase);
  assert.not.ok(p!.regex.global);
  assert.ok(p!.regex.test("ITUNES.Apple.com:443"));
  assert.ok(p!.regex.test("itunes.apple.com:443")); // repeatable (no lastIndex state)
  assert.equal(compileHostPatterns([], "--ignore-hosts"), []);
});

test("compile: Python spellings are translated", () => {
  const re = (p: string) => compileHostPatterns([p], "--ignore-hosts")[0]!.regex;
  assert.is(re("(?P<host>[a-z]+)\\.com").source, "(?<host>[a-z]+)\\.com");
  assert.is(re("(?P<w>a)(?P=w)").source, "(?<w>a)\\k<w>");
  assert.ok(re("(?P<w>a)(?P=w)").test("xAa"));
  assert.not.ok(re("(?P<w>a)(?P=w)").test("ab"));
  assert.ok(re("(?i)^EXAMPLE").test("example.com:443"));
  assert.is(re("(?i)abc").source, "abc");
  assert.ok(re("(?s)a.b").dotAll);
  assert.ok(re("\\Aexample\\.com:443\\Z").test("example.com:443"));
  assert.not.ok(re("\\Aexample\\.com:443\\Z").test("www.example.com:443"));
  assert.not.ok(re("com\\Z").test("example.com:443"));
  assert.ok(re("^a{,2}b").test("aab:1"));
  assert.ok(re("[]x]").test("]"));
  assert.ok(re("(?#a comment)^x").test("x:1"));
  assert.ok(re("(?i:EX)ample").test("example.com:443"));
  // escaped parentheses are not groups: nothing is translated
  assert.ok(re("\\(?P<").test("P<"));
});

// --- Start-up warnings.

test("patternWarnings: '^example\\.com$' ends before the port, with fixes", () => {
  const w = patternWarnings("^example\\.com$", "--ignore-hosts");
  assert.is(w.length, 1);
  assert.match(w[0]!, "--ignore-hosts pattern '^example\\.com$' can never match");
  assert.match(w[0]!, "'^example\\.com:'");
  assert.match(w[0]!, "'^example\\.com:443$'");
});

test("patternWarnings: other patterns that can never match", () => {
  const never = [
    "^(.+\\.)?apple\\.com$",
    "apple\\.com$",
    "example\\.com:$",
    "^127\\.0\\.0\\.1$",
    "^example\\.com\\Z",
    "(?i)^Example\\.COM$",
    "[a-z]$",
    "^$",
    "^:443",
    "https://example.com",
    "example\\.com/",
    "a\\.com:443,b\\.com:443",
    "a\\.com b\\.com",
    "foo$|bar:443",
  ];
  for (const p of never) {
    const w = patternWarnings(p, "--allow-hosts");
    assert.is(w.length, 1, `${p}: ${JSON.stringify(w)}`);
    assert.ok(w[0]!.startsWith(`--allow-hosts pattern '${p}' `), w[0]);
    // And it really never matches a realistic candidate.
    if (p !== "") {
      const re = compileHostPatterns([p], "--allow-hosts")[0]!.regex;
      for (const c of ["example.com:443", "apple.com:443", "127.0.0.1:80", "a.com:443", "foo:1", "::1:443"]) {
        if (p === "foo$|bar:443") continue;
        assert.not.ok(re.test(c), `${p} matched ${c}`);
      }
    }
  }
  assert.match(patternWarnings("", "--ignore-hosts")[0]!, "matches every connection");
});

test("patternWarnings: no false positives on legit patterns", () => {
  const fine = [
    "apple.com:443",
    "^(.+\\.)?apple\\.com:443$",
    "17\\.178\\.\\d+\\.\\d+:443",
    "17\\.178\\.96\\.59:443",
    ":8443$",
    ":443$",
    ".*",
    "$",
    "^example.com:",
    "^example\\.com:443$",
    "example\\.com",
    "\\.com:\\d+$",
    "\\d{1,3}:443$",
    "foo:\\d{2,5}$",
    "^[^:]+:\\d+$",
    "^(foo|bar)$",
    "^2001:db8::1:443$",
    "(?P<h>.+)\\.apple\\.com:443$",
    "(?i)^example\\.com:443$",
    "com(?=:\\d+$)",
    "\\d$",
    ".$",
    "[0-9]$",
    "443$",
    "\\.(com|net):\\d+$",
    "(unclosed", // compile errors are reported by compileHostPatterns, not here
    domainPattern("example.com", "--ignore-domain"),
  ];
  for (const p of fine) assert.equal(patternWarnings(p, "--ignore-hosts"), [], p);
});

// --- --ignore-domain / --allow-domain.

test("domainPattern: domain and subdomains, any port", () => {
  const p = domainPattern("example.com", "--ignore-domain");
  assert.is(p, "^(.+\\.)?example\\.com:\\d+$");
  const re = compileHostPatterns([p], "--ignore-domain")[0]!.regex;
  assert.ok(re.test("example.com:443"));
  assert.ok(re.test("www.example.com:8080"));
  assert.ok(re.test("a.b.example.com:1"));
  assert.not.ok(re.test("evilexample.com:443"));
  assert.not.ok(re.test("example.com.evil.net:443"));
  assert.not.ok(re.test("exampleXcom:443"));
});

test("domainPattern: normalizing and wildcards", () => {
  assert.is(domainPattern("  Example.COM.  ", "--ignore-domain"), "^(.+\\.)?example\\.com:\\d+$");
  assert.is(domainPattern(".example.com", "--ignore-domain"), "^(.+\\.)?example\\.com:\\d+$");
  assert.is(domainPattern("*.example.com", "--ignore-domain"), "^.+\\.example\\.com:\\d+$");
  assert.is(domainPattern("localhost", "--allow-domain"), "^(.+\\.)?localhost:\\d+$");
  assert.is(domainPattern("my-host.example.co.uk", "--allow-domain"), "^(.+\\.)?my-host\\.example\\.co\\.uk:\\d+$");
  assert.is(domainPattern("bücher.de", "--allow-domain"), "^(.+\\.)?xn--bcher-kva\\.de:\\d+$");
});

test("domainPattern: IP literals match exactly", () => {
  assert.is(domainPattern("17.178.96.59", "--ignore-domain"), "^17\\.178\\.96\\.59:\\d+$");
  assert.is(domainPattern("[2001:0db8::1]", "--ignore-domain"), "^2001:db8::1:\\d+$");
  assert.is(domainPattern("::1", "--ignore-domain"), "^::1:\\d+$");
  const re = compileHostPatterns([domainPattern("17.178.96.59", "--ignore-domain")], "--ignore-domain")[0]!.regex;
  assert.ok(re.test("17.178.96.59:443"));
  assert.not.ok(re.test("117.178.96.59:443"));
  assert.not.ok(re.test("17.178.96.590:443"));
});

test("domainPattern: bad input → OptionError naming the flag and the value", () => {
  for (const bad of [
    "",
    "exa mple.com",
    "example.com:443",
    "https://example.com",
    "*",
    "a.*.com",
    "-a.com",
    "a..com",
    "1.2.3",
    "[nope]",
    "ex$ample.com",
  ]) {
    assert.throws(
      () => domainPattern(bad, "--ignore-domain"),
      (e: Error) => e instanceof OptionError && e.message.startsWith(`invalid --ignore-domain value '${bad}': `),
      bad,
    );
  }
});

test("domainPattern + decideHosts", () => {
  const ignore = compileHostPatterns([domainPattern("apple.com", "--ignore-domain")], "--ignore-domain");
  assert.is(
    decideHosts({ allow: [], ignore }, { destination: at("17.1.2.3", 443), clientHello: hello("itunes.apple.com") })
      .action,
    "ignore",
  );
  assert.is(decideHosts({ allow: [], ignore }, { destination: at("evilapple.com", 443) }).action, "intercept");
});

// --- describeDecision.

test("describeDecision: ignore by pattern", () => {
  const ignore = compileHostPatterns(["^(.+\\.)?apple\\.com:443$"], "--ignore-hosts");
  const d = decideHosts(
    { allow: [], ignore },
    { destination: at("17.1.2.3", 443), clientHello: hello("itunes.apple.com") },
  );
  assert.is(
    describeDecision(d),
    "ignoring connection: '^(.+\\.)?apple\\.com:443$' matched 'itunes.apple.com:443' (sni)",
  );
});

test("describeDecision: intercept, nothing ignored", () => {
  const ignore = compileHostPatterns(["^b\\.com:"], "--ignore-hosts");
  const d = decideHosts({ allow: [], ignore }, { destination: at("a.com", 443), clientHello: hello("x.a.com") });
  assert.is(
    describeDecision(d),
    "intercepting connection: no --ignore-hosts pattern matched 'a.com:443' (destination), 'x.a.com:443' (sni)",
  );
});

test("describeDecision: not allowed / allowed", () => {
  const allow = compileHostPatterns(["^b\\.com:"], "--allow-hosts");
  const no = decideHosts({ allow, ignore: [] }, { destination: at("a.com", 443) });
  assert.is(describeDecision(no), "ignoring connection: no --allow-hosts pattern matched 'a.com:443' (destination)");
  const yes = decideHosts({ allow, ignore: [] }, { destination: at("b.com", 443) });
  assert.is(
    describeDecision(yes),
    "intercepting connection: --allow-hosts pattern '^b\\.com:' matched 'b.com:443' (destination)",
  );
  const both = decideHosts(
    { allow, ignore: compileHostPatterns(["^c"], "--ignore-hosts") },
    { destination: at("b.com", 443) },
  );
  assert.is(
    describeDecision(both),
    "intercepting connection: --allow-hosts pattern '^b\\.com:' matched 'b.com:443' (destination), and no --ignore-hosts pattern matched 'b.com:443' (destination)",
  );
});

test("describeDecision: no patterns, no destination, waiting", () => {
  const ignore = compileHostPatterns(["x"], "--ignore-hosts");
  assert.is(
    describeDecision(decideHosts({ allow: [], ignore: [] }, {})),
    "intercepting connection: no --ignore-hosts or --allow-hosts patterns",
  );
  assert.match(
    describeDecision(decideHosts({ allow: [], ignore }, { hostHeader: "a.com" })),
    /^intercepting connection: destination unknown/,
  );
  assert.match(
    describeDecision(decideHosts({ allow: [], ignore }, { destination: at("a.com", 443), clientHello: "incomplete" })),
    /^waiting for more data: the TLS ClientHello is incomplete \(candidates so far: 'a\.com:443' \(destination\)\)$/,
  );
  assert.match(
    describeDecision(decideHosts({ allow: [], ignore }, { destination: at("a.com", 80), hostHeader: "incomplete" })),
    /^waiting for more data: the HTTP request head is incomplete/,
  );
});

test("describeDecision: a decision built by hand (no rule field)", () => {
  const c = { value: "a.com:443", kind: "destination" as const };
  const hand: HostsDecision[] = [
    { action: "ignore", candidates: [c], reason: { list: "ignore", pattern: "a", candidate: c } },
    { action: "ignore", candidates: [c], reason: { list: "allow" } },
    { action: "intercept", candidates: [c], reason: { list: "ignore" } },
    { action: "intercept", candidates: [c] },
    { action: "wait", candidates: [] },
  ];
  assert.equal(hand.map(describeDecision), [
    "ignoring connection: 'a' matched 'a.com:443' (destination)",
    "ignoring connection: no --allow-hosts pattern matched 'a.com:443' (destination)",
    "intercepting connection: no --ignore-hosts pattern matched 'a.com:443' (destination)",
    "intercepting connection: 'a.com:443' (destination)",
    "waiting for more data (candidates so far: (no candidates))",
  ]);
});

test.run();
