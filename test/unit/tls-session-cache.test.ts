// The upstream TLS session cache: bounded LRU, keys that separate everything a
// resumption must not cross, one cache per trust store, PEM chains.
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TlsSessionCache, pemChain, sessionCacheFor, sessionKey } from "../../core/tls/session-cache.ts";
import { originCa } from "../helpers/harness.ts";

const entry = (n: number) => ({ session: Buffer.from([n]), peer: undefined });

test("get returns what set stored; missing keys are undefined", () => {
  const c = new TlsSessionCache(4);
  assert.is(c.get("a"), undefined);
  c.set("a", entry(1));
  assert.equal([...c.get("a")!.session], [1]);
  c.set("a", entry(2));
  assert.equal([...c.get("a")!.session], [2], "a newer session replaces the older one");
  assert.is(c.size, 1);
});

test("the least recently used entry goes first when the cache is full", () => {
  const c = new TlsSessionCache(3);
  c.set("a", entry(1));
  c.set("b", entry(2));
  c.set("c", entry(3));
  c.get("a"); // a is now the most recently used
  c.set("d", entry(4));
  assert.is(c.size, 3);
  assert.is(c.get("b"), undefined, "b was the least recently used");
  assert.ok(c.get("a") && c.get("c") && c.get("d"));
});

test("capacity holds under many insertions", () => {
  const c = new TlsSessionCache(100);
  for (let i = 0; i < 10_000; i++) c.set(`k${i}`, entry(i & 0xff));
  assert.is(c.size, 100);
  assert.ok(c.get("k9999"));
  assert.is(c.get("k9899"), undefined);
});

test("delete forgets a session", () => {
  const c = new TlsSessionCache();
  c.set("a", entry(1));
  c.delete("a");
  c.delete("never-there");
  assert.is(c.get("a"), undefined);
});

test("keys differ in every part that must match for a safe resumption", () => {
  const base = { host: "example.com", port: 443, sni: "example.com", alpn: ["h2", "http/1.1"], verify: true };
  const k = sessionKey(base);
  const variants = [
    { ...base, host: "example.org" },
    { ...base, port: 8443 },
    { ...base, sni: undefined },
    { ...base, sni: "www.example.com" },
    { ...base, alpn: ["http/1.1"] },
    { ...base, alpn: [] },
    { ...base, verify: false },
    { ...base, via: "proxy.local:3128" },
  ];
  const keys = new Set([k, ...variants.map(sessionKey)]);
  assert.is(keys.size, variants.length + 1);
  assert.is(sessionKey({ ...base }), k, "the same parts give the same key");
});

test("one cache per SecureContext: a new context starts empty", () => {
  const a = tls.createSecureContext({});
  const b = tls.createSecureContext({});
  sessionCacheFor(a).set("k", entry(1));
  assert.is(sessionCacheFor(a), sessionCacheFor(a));
  assert.ok(sessionCacheFor(a).get("k"));
  assert.is(sessionCacheFor(b).get("k"), undefined);
});

test("pemChain: nothing for no certificate; the certificate's PEM otherwise", async () => {
  assert.equal(pemChain(undefined), []);
  const ca = await originCa();
  const x = new X509Certificate(ca.certFor(["chain.test"]));
  const chain = pemChain(x);
  assert.is(chain.length, 1);
  assert.match(chain[0]!, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  assert.is(new X509Certificate(chain[0]!).fingerprint256, x.fingerprint256);
});

test.run();
