// proxyauth's htpasswd support: the hash kinds Apache's htpasswd writes (bcrypt, apr1 MD5, SHA1)
// checked against vectors made by the real htpasswd, the file format, hostile input, the spec
// (ldap refused) and the addon reading the file again when the option is set.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HTTPFlow, Request, type Socks5AuthData } from "@interloper/sdk";
import { testClient, testContext, testFlow } from "@interloper/sdk/testing";
import { Htpasswd } from "../../addons/proxyauth/htpasswd.ts";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";
import { apr1, hashKind, verifyPassword } from "../../addons/proxyauth/password-hash.ts";
import { parseProxyAuth } from "../../addons/proxyauth/spec.ts";
import { removeDir, tempDir } from "../helpers/harness.ts";

// Made with Apache's htpasswd 2.4 (Debian apache2-utils): `htpasswd -nb[m|B|s|2|5] USER PASSWORD`
// (`-r 2000` for the rounds one); the md5-crypt ones with `openssl passwd -1 PASSWORD`.
const VECTORS: Array<[kind: string, password: string, hash: string]> = [
  ["apr1", "secret", "$apr1$Do6ALgad$ROyhUqDihMKtnbbRF2aUq1"],
  ["bcrypt", "secret", "$2y$05$Z4LJngvKywUSbNqTC.rZ2uXuYlAj2IIQ7hwgZI1FKj06A2BK9CCPm"],
  ["sha1", "secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="],
  ["apr1", "pass word:colon", "$apr1$1MDEKFM.$wi5a54Wb5XOlZkaRH04Rx1"],
  ["bcrypt", "pass word:colon", "$2y$05$jLAsH8ZioQ39kzZEe0nVee/5RDE3wgCGcLhLxzy4.Wn935A4R94xm"],
  ["sha1", "pass word:colon", "{SHA}ugeRwbkHCFoNK3oFVTZYDrxo0dA="],
  ["apr1", "päss€", "$apr1$dj0Cm38K$Xn0sYJtPYSjDr/rx6UKmg."],
  ["bcrypt", "päss€", "$2y$05$ZNkGdh9MZkdNTDdWMETVtudNO2BVhJ07ch71Z5rAjt9P.FAprfuVC"],
  ["sha1", "päss€", "{SHA}opdCQOdlpTZs0afbfyutjMGxET0="],
  ["sha-crypt", "secret", "$5$0WVYjirFGiYwOq5g$p6TgGENWzomfPSzdJc8cfa1ZGXGVUccMIsTx2ckNNq9"],
  [
    "sha-crypt",
    "secret",
    "$6$UtdEn4hFG7CY/.4b$9DILF36CQ0bKp3XZO0cUNbYKJfxg0a7T5dodCFq9mL5tekBVBd3HEOB5MOqUzRaHf2emqGY.UtE5l0xTR6mm70",
  ],
  ["sha-crypt", "pass word:colon", "$5$Apc4C5anyiWK7.sq$XmUm4PuAR4JFqVhxxPmtrai0UmwBFY1NAqWDEaVQ1b1"],
  [
    "sha-crypt",
    "pass word:colon",
    "$6$c82S5HbN2HxRtxB8$8QsiUVJxPXZzyMEYftQAQOhNVVRVYqgGWXM0KHgWJk81S1VOY48LYbhDVduqyLV.37aVqpK8r0LlK5444UtXj.",
  ],
  ["sha-crypt", "päss€", "$5$QyUGXnlLzGIXJ5K9$Z3697K7KvQs/H3cKD8UCdX1m/EIUuzqZD8KqcfLewJ2"],
  [
    "sha-crypt",
    "päss€",
    "$6$s..LVfq7iqf6hP0H$ijMLjfcxTMmGMAlv8byDryb606oVvED3OyoLrAYiqUMYujtZYqfSr4l6mERvv01y2XdOPAIYH3CfN7KxezrV51",
  ],
  ["sha-crypt", "rounds", "$5$rounds=2000$TSZLf940Xv/e0TdB$JfOOIcktC/bdPJI6Ic00wFKcwWUcuoujHqJqjUgvqCB"],
  ["md5-crypt", "secret", "$1$32/OKvrf$yIm/nGCkjB4n2Eitec..m0"],
  ["md5-crypt", "päss€", "$1$8GahFTwo$rfoNwSE6PC/ud7TjAnkgM/"],
];

test("vectors made by the real htpasswd: the right password passes, others do not", async () => {
  assert.ok(VECTORS.length >= 18);
  for (const [kind, password, hash] of VECTORS) {
    const k = hashKind(hash);
    assert.is(k, kind, hash);
    assert.ok(await verifyPassword(k as "apr1", hash, password), `${kind} ${JSON.stringify(password)}`);
    for (const wrong of [
      `${password}x`,
      password.slice(1),
      password.toUpperCase() === password ? "a" : password.toUpperCase(),
      "",
    ]) {
      if (wrong === password) continue;
      assert.not.ok(await verifyPassword(k as "apr1", hash, wrong), `${kind} ${JSON.stringify(wrong)}`);
    }
  }
});

test("apr1 gives what htpasswd gives for the same salt", () => {
  for (const [kind, password, hash] of VECTORS) {
    if (kind !== "apr1") continue;
    assert.is(apr1(password, hash.split("$")[2]!), hash);
  }
});

test("apr1, SHA1 and SHA-256/512-crypt agree with a live htpasswd (apache2-utils) on passwords of many shapes", async () => {
  for (let i = 0; i < 12; i++) {
    const password = randomPassword(i);
    for (const flag of ["-m", "-s", "-2", "-5"]) {
      const line = execFileSync("htpasswd", ["-nb", flag, "u", password], { encoding: "utf8" }).trim();
      const hash = line.slice(2);
      const kind = hashKind(hash);
      assert.ok(typeof kind === "string", hash);
      assert.ok(await verifyPassword(kind, hash, password), `${flag} ${JSON.stringify(password)}`);
      if (flag === "-m") assert.is(apr1(password, hash.split("$")[2]!), hash);
    }
  }
});

test("a SHA-crypt check of a hostile, very long password fails at once instead of hashing gigabytes", async () => {
  const [, , hash] = VECTORS.find(([kind, password]) => kind === "sha-crypt" && password === "secret")!;
  assert.not.ok(await verifyPassword("sha-crypt", hash, "s".repeat(60_000)));
  assert.ok(await verifyPassword("sha-crypt", hash, "secret"));
});

test("hashKind: what htpasswd writes is known; crypt, plain text and malformed hashes are refused", () => {
  assert.is(hashKind(`$2y$05$${"a".repeat(53)}`), "bcrypt");
  assert.is(hashKind(`$2b$17$${"a".repeat(53)}`), "bcrypt");
  assert.is(hashKind("$apr1$abcdefgh$" + "x".repeat(22)), "apr1");
  assert.is(hashKind("{SHA}" + "A".repeat(27) + "="), "sha1");
  assert.is(hashKind("$1$abcdefgh$" + "x".repeat(22)), "md5-crypt");
  assert.is(hashKind("$5$salt$" + "a".repeat(43)), "sha-crypt");
  assert.is(hashKind("$6$rounds=100000$" + "s".repeat(16) + "$" + "a".repeat(86)), "sha-crypt");
  const refused: Array<[string, RegExp]> = [
    ["rqXexS6ZhobKA", /DES crypt \(htpasswd -d\) and plain-text \(-p\) passwords are not supported/],
    ["plaintext", /not supported/],
    ["", /not supported/],
    [`$2y$05$${"a".repeat(52)}`, /malformed/],
    [`$2y$03$${"a".repeat(53)}`, /bcrypt cost 3 is not 4-17/],
    [`$2y$31$${"a".repeat(53)}`, /bcrypt cost 31 is not 4-17/],
    ["$apr1$$" + "x".repeat(22), /malformed/],
    ["$apr1$toolongsalt$" + "x".repeat(22), /malformed/],
    ["{SHA}short", /malformed/],
    ["$1$salt$short", /malformed/],
    ["$5$salt$" + "a".repeat(86), /malformed/],
    ["$6$salt$" + "a".repeat(43), /malformed/],
    ["$6$" + "s".repeat(17) + "$" + "a".repeat(86), /malformed/],
    ["$6$rounds=999999999$salt$" + "a".repeat(86), /rounds=999999999 is more than 100000/],
  ];
  for (const [hash, why] of refused) {
    const k = hashKind(hash);
    assert.ok(typeof k === "object", hash);
    assert.match(k.refused, why);
  }
});

test("Htpasswd.parse: comments, blank lines, CRLF, a BOM, extra fields; the first of a repeated user counts", async () => {
  const pick = (kind: string, password: string) => {
    const [, , hash] = VECTORS.find(([k, p]) => k === kind && p === password)!;
    return { password, hash };
  };
  const sha = pick("sha1", "secret");
  const apr = pick("apr1", "pass word:colon");
  const text = `\ufeff# users\r\n\r\n  alice:${sha.hash}:extra field\r\nbob:${apr.hash}\nalice:${apr.hash}\n   \n`;
  const file = Htpasswd.parse(text);
  assert.is(file.size, 2);
  assert.ok(await file.check("alice", sha.password));
  assert.not.ok(await file.check("alice", apr.password), "the first alice line counts");
  assert.ok(await file.check("bob", apr.password));
  assert.not.ok(await file.check("carol", apr.password));
  assert.not.ok(await file.check("", ""));
});

test("Htpasswd.parse: a line it cannot use refuses the file, naming the line", () => {
  const sha = VECTORS.find(([k]) => k === "sha1")![2];
  const cases: Array<[string, RegExp]> = [
    [`a:${sha}\nnocolon\n`, /^line 2: expected user:hash$/],
    [`a:${sha}\n:${sha}\n`, /^line 2: expected user:hash$/],
    [`# c\nbob:rqXexS6ZhobKA\n`, /^line 2: user 'bob': DES crypt \(htpasswd -d\) and plain-text/],
    [`bob:secret\n`, /^line 1: user 'bob': DES crypt/],
    [`e\x1b[31m:x\n`, /^line 1: user 'e\\x1b\[31m': /],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => Htpasswd.parse(text),
      (err: Error) => {
        assert.match(err.message, why);
        return true;
      },
    );
  }
  assert.is(Htpasswd.parse("").size, 0);
  assert.is(Htpasswd.parse(`${"#".repeat(100000)}\n`.repeat(10)).size, 0);
});

test("parseProxyAuth: user:pass, any, @path; ldap: and ldaps: refused in one line without the spec", () => {
  assert.equal(parseProxyAuth(undefined), { kind: "off" });
  assert.equal(parseProxyAuth(""), { kind: "off" });
  assert.equal(parseProxyAuth("any"), { kind: "any" });
  assert.equal(parseProxyAuth("a:b:c"), { kind: "user", user: "a", pass: "b:c" });
  assert.equal(parseProxyAuth("@/etc/htpasswd"), { kind: "htpasswd", path: "/etc/htpasswd" });
  assert.ok((parseProxyAuth("@~/pw") as { path: string }).path.endsWith("/pw"));
  assert.not.ok((parseProxyAuth("@~/pw") as { path: string }).path.startsWith("~"));
  for (const ldap of [
    "ldap:localhost:cn=admin,dc=example,dc=com:secret:ou=users,dc=example,dc=com",
    "ldaps:ldap.example.com:636:cn=admin:secret:ou=users?search_filter_key=uid",
    "LDAP:x:y:z:w",
  ]) {
    assert.throws(
      () => parseProxyAuth(ldap),
      (err: Error) => {
        assert.is(err.name, "OptionError");
        assert.match(err.message, /^invalid value for proxyauth: LDAP \(ldap:…, ldaps:…\) is not supported; /);
        assert.not.match(err.message, /secret/, "the bind password is not repeated");
        return true;
      },
    );
  }
  for (const bad of ["nocolon", ":pass", "@"]) {
    assert.throws(() => parseProxyAuth(bad), /^invalid value for proxyauth: '/);
  }
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

function explicit(user?: string, pass?: string): HTTPFlow {
  const headers: Record<string, string> = { Host: "example.com" };
  if (user !== undefined) headers["Proxy-Authorization"] = basic(user, pass ?? "");
  const f = testFlow({ url: "http://example.com/x", headers });
  f.request.form = "absolute";
  return f;
}

test("the addon with an htpasswd file: each hash kind, HTTP and SOCKS5; read again when the option is set", async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "users");
    const kinds = ["bcrypt", "apr1", "sha1", "sha-crypt", "md5-crypt"].map((k) =>
      VECTORS.find(([kind]) => kind === k)!,
    );
    writeFileSync(path, kinds.map(([kind, , hash]) => `${kind}-user:${hash}`).join("\n"));
    const ctx = await testContext(new ProxyAuth(), { proxyauth: `@${path}` });
    for (const [kind, password] of kinds) {
      assert.is((await ctx.http(explicit(`${kind}-user`, password), { status: 200 })).response?.status, 200, kind);
      assert.is((await ctx.http(explicit(`${kind}-user`, `${password}!`), { status: 200 })).response?.status, 407);
    }
    assert.is((await ctx.http(explicit(), { status: 200 })).response?.status, 407);
    const socks: Socks5AuthData = { client: testClient(), username: "sha1-user", password: kinds[2]![1], valid: false };
    await ctx.trigger("socks5Auth", socks);
    assert.ok(socks.valid);

    // The file changes; setting the option again reads it again.
    writeFileSync(path, `sha1-user:${kinds[1]![2]}\n`);
    await ctx.setOptions({ proxyauth: "any" });
    await ctx.setOptions({ proxyauth: `@${path}` });
    assert.is((await ctx.http(explicit("sha1-user", kinds[1]![1]), { status: 200 })).response?.status, 200);
    assert.is((await ctx.http(explicit("bcrypt-user", kinds[0]![1]), { status: 200 })).response?.status, 407);

    // A refused file keeps the old one in force.
    writeFileSync(join(dir, "bad"), "mallory:plaintext\n");
    try {
      await ctx.setOptions({ proxyauth: `@${join(dir, "bad")}` });
      assert.unreachable("accepted a file with a plain-text password");
    } catch (err) {
      assert.match((err as Error).message, /^invalid value for proxyauth: '@.*bad' \(line 1: user 'mallory': /);
    }
    assert.is(ctx.host.options.get("proxyauth"), `@${path}`);
    for (const missing of [join(dir, "missing"), dir]) {
      try {
        await ctx.setOptions({ proxyauth: `@${missing}` });
        assert.unreachable(`accepted ${missing}`);
      } catch (err) {
        assert.match((err as Error).message, /\(cannot read the htpasswd file: E[A-Z]+\)$/);
      }
    }
    writeFileSync(join(dir, "empty"), "# nobody\n");
    try {
      await ctx.setOptions({ proxyauth: `@${join(dir, "empty")}` });
      assert.unreachable("accepted a file without users");
    } catch (err) {
      assert.match((err as Error).message, /holds no user/);
    }
    assert.is((await ctx.http(explicit("sha1-user", kinds[1]![1]), { status: 200 })).response?.status, 200);
  } finally {
    removeDir(dir);
  }
});

test("the CONNECT of a tunnel is checked against the file", async () => {
  const dir = tempDir();
  try {
    const [, password, hash] = VECTORS.find(([kind]) => kind === "apr1")!;
    writeFileSync(join(dir, "users"), `u:${hash}\n`);
    const ctx = await testContext(new ProxyAuth(), { proxyauth: `@${join(dir, "users")}` });
    const connect = (auth?: string) =>
      new HTTPFlow(
        testClient(),
        { id: "s", address: { host: "example.com", port: 443 }, tls: false, tlsEstablished: false },
        new Request({
          method: "CONNECT",
          host: "example.com",
          port: 443,
          path: "",
          form: "authority",
          headers: auth ? { "Proxy-Authorization": auth } : {},
        }),
      );
    const refused = connect(basic("u", "wrong"));
    await ctx.trigger("httpConnect", refused);
    assert.is(refused.response?.status, 407);
    const allowed = connect(basic("u", password));
    await ctx.trigger("httpConnect", allowed);
    assert.is(allowed.response, undefined);
  } finally {
    removeDir(dir);
  }
});

/** Passwords of many shapes: ASCII, spaces, colons, UTF-8, long ones. */
function randomPassword(i: number): string {
  const shapes = ["p", "pass word", "a:b:c", "päss€", "x".repeat(40), "日本語のパスワード", "'\"\\$!", "0"];
  return `${shapes[i % shapes.length]}${i}`;
}

test.run();
