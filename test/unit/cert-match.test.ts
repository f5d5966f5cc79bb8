// Which of the user's certificates (certs) a connection gets, as mitmproxy's
// CertStore decides (core/tls/cert-match.ts): spec parsing, asterisk forms,
// lookup order, spellings, hostile input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { asteriskForms, CertMatcher, matchKey, parseCertSpec } from "../../core/tls/cert-match.ts";

test("a spec without '=' is for every name (*)", () => {
  assert.equal(parseCertSpec("/etc/certs/all.pem"), { domain: "*", path: "/etc/certs/all.pem" });
  assert.equal(parseCertSpec("all.pem"), { domain: "*", path: "all.pem" });
});

test("a spec is split at its first '=' (the rest is the path, as mitmproxy's split('=', 1))", () => {
  assert.equal(parseCertSpec("example.com=/c/e.pem"), { domain: "example.com", path: "/c/e.pem" });
  assert.equal(parseCertSpec("*.example.com=w.pem"), { domain: "*.example.com", path: "w.pem" });
  assert.equal(parseCertSpec("a.test=dir=x/c.pem"), { domain: "a.test", path: "dir=x/c.pem" });
  assert.equal(parseCertSpec("Example.COM.=e.pem"), { domain: "example.com", path: "e.pem" });
  assert.equal(parseCertSpec("*=all.pem"), { domain: "*", path: "all.pem" });
  assert.equal(parseCertSpec("127.0.0.1=ip.pem"), { domain: "127.0.0.1", path: "ip.pem" });
  assert.equal(parseCertSpec("0:0::1=ip6.pem"), { domain: "::1", path: "ip6.pem" });
});

test("specs that name no file or no domain are refused with a reason", () => {
  assert.equal(parseCertSpec("=c.pem"), { error: "the domain before '=' is empty" });
  assert.equal(parseCertSpec(" =c.pem"), { error: "the domain before '=' is empty" });
  assert.equal(parseCertSpec("a.test="), { error: "no file is given" });
  assert.equal(parseCertSpec(""), { error: "no file is given" });
  assert.equal(parseCertSpec("   "), { error: "no file is given" });
  assert.equal(parseCertSpec("a b=c.pem"), { error: "the domain holds spaces or control characters" });
  assert.equal(parseCertSpec("a\u0000b=c.pem"), { error: "the domain holds spaces or control characters" });
  assert.equal(parseCertSpec("a.test\r\n=c.pem"), { domain: "a.test", path: "c.pem" });
});

test("asterisk forms: the name, then * for each label from the left; '*' alone is not one", () => {
  assert.equal(asteriskForms("www.example.com"), ["www.example.com", "*.example.com", "*.com"]);
  assert.equal(asteriskForms("a.b.c.example.com"), [
    "a.b.c.example.com",
    "*.b.c.example.com",
    "*.c.example.com",
    "*.example.com",
    "*.com",
  ]);
  assert.equal(asteriskForms("localhost"), ["localhost"]);
  assert.equal(asteriskForms("*.example.com"), ["*.example.com", "*.example.com", "*.com"]);
  assert.equal(asteriskForms("WWW.Example.COM."), ["www.example.com", "*.example.com", "*.com"]);
});

test("an IP address has no asterisk forms (as current mitmproxy), in its canonical spelling", () => {
  assert.equal(asteriskForms("127.0.0.1"), ["127.0.0.1"]);
  assert.equal(asteriskForms("::1"), ["::1"]);
  assert.equal(asteriskForms("[0:0:0:0:0:0:0:1]"), ["::1"]);
  assert.equal(asteriskForms("2001:DB8::0:1"), ["2001:db8::1"]);
});

test("names compare without case, trailing dot or IDN spelling differences", () => {
  assert.is(matchKey("Example.COM."), "example.com");
  assert.is(matchKey("bücher.example"), "xn--bcher-kva.example");
  assert.is(matchKey("xn--bcher-kva.example"), "xn--bcher-kva.example");
  assert.is(matchKey(" a b "), "a b"); // not a name a certificate can carry: compared as typed
});

function matcher(entries: Array<[string, string[]]>): CertMatcher<string> {
  const m = new CertMatcher<string>();
  for (const [entry, names] of entries) m.add(entry, names);
  return m;
}

test("an exact name, a wildcard over any depth below it, and * for the rest", () => {
  const m = matcher([
    ["exact", ["user.test"]],
    ["wild", ["*.wild.test"]],
    ["all", ["*"]],
  ]);
  assert.is(m.find(["user.test"]), "exact");
  assert.is(m.find(["USER.test."]), "exact");
  assert.is(m.find(["a.wild.test"]), "wild");
  assert.is(m.find(["b.c.wild.test"]), "wild"); // unlike a TLS wildcard, as mitmproxy matches
  assert.is(m.find(["wild.test"]), "all"); // *.wild.test does not cover wild.test itself
  assert.is(m.find(["a.user.test"]), "all");
  assert.is(m.find(["other.example"]), "all");
  assert.is(m.find([]), "all");
});

test("without a * entry, names nothing covers get nothing (the CA mints)", () => {
  const m = matcher([["wild", ["*.wild.test"]]]);
  assert.is(m.find(["wild.test"]), undefined);
  assert.is(m.find(["a.wild.test.evil"]), undefined);
  assert.is(m.find(["evilwild.test"]), undefined);
  assert.is(m.find(["a.wild.test"]), "wild");
  assert.is(new CertMatcher<string>().find(["anything"]), undefined);
});

test("names are tried in order (upstream names before the SNI), each with its forms before the next", () => {
  const m = matcher([
    ["by-sni", ["sni.test"]],
    ["by-upstream", ["*.upstream.test"]],
  ]);
  assert.is(m.find(["www.upstream.test", "sni.test"]), "by-upstream");
  assert.is(m.find(["sni.test", "www.upstream.test"]), "by-sni");
  assert.is(m.find(["nothing.test", "sni.test"]), "by-sni");
});

test("a later registration of the same name wins; an entry is found by any of its names", () => {
  const m = matcher([
    ["first", ["a.test", "b.test"]],
    ["second", ["b.test"]],
  ]);
  assert.is(m.find(["a.test"]), "first");
  assert.is(m.find(["b.test"]), "second");
  assert.is(m.size, 2);
});

test("IP addresses match exactly, in any spelling", () => {
  const m = matcher([["ip", ["127.0.0.1", "::1"]]]);
  assert.is(m.find(["127.0.0.1"]), "ip");
  assert.is(m.find(["0:0::1"]), "ip");
  assert.is(m.find(["127.0.0.2"]), undefined);
  assert.is(m.find(["1"]), undefined);
});

test("hostile names find nothing and throw nothing", () => {
  const m = matcher([["wild", ["*.wild.test"]]]);
  for (const name of ["", ".", "..", "*", "*.", ".wild.test", "a..wild.test", "\u0000.wild.test", "a b.wild", "%"]) {
    const hit = m.find([name]);
    assert.ok(hit === undefined || hit === "wild", JSON.stringify(name));
  }
  // A long name costs its labels' forms, no more.
  const long = `${"a.".repeat(120)}wild.test`;
  assert.is(m.find([long]), "wild");
  assert.is(asteriskForms(long).length, 122);
});

test.run();
