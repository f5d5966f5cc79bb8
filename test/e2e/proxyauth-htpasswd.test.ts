// proxyauth with htpasswd files written by Apache's real htpasswd (apache2-utils): bcrypt, apr1 MD5,
// SHA1 and SHA-256/512-crypt users through curl (explicit HTTP, a CONNECT tunnel, SOCKS5), and the specs refused at
// start-up (a crypt(3) entry, LDAP) with one line and exit code 2.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, removeDir, runCli, startOrigin, startProxy, tempDir, testConfdir } from "../helpers/harness.ts";

/** Users made with `htpasswd -b`: bcrypt (-B), apr1 MD5 (-m, the default), SHA1 (-s), SHA-256/512-crypt (-2, -5). */
const USERS = [
  { user: "alice", pass: "bcrypt pässword", flag: "-B" },
  { user: "bob", pass: "apr1:secret", flag: "-m" },
  { user: "carol", pass: "sha-one", flag: "-s" },
  { user: "erin", pass: "sha 256", flag: "-2" },
  { user: "frank", pass: "sha-512 €", flag: "-5" },
];

function htpasswdFile(dir: string): string {
  const path = join(dir, ".htpasswd");
  USERS.forEach(({ user, pass, flag }, i) => {
    execFileSync("htpasswd", [i === 0 ? "-cb" : "-b", flag, path, user, pass], { stdio: "ignore" });
  });
  return path;
}

test("@path to an htpasswd file: the right password gets through (200), a wrong one gets 407", async () => {
  const dir = tempDir();
  const origin = await startOrigin((req, res) => res.end(`ok ${req.url}`));
  const path = htpasswdFile(dir);
  const [byFlag, bySet] = await Promise.all([
    startProxy(["--mode", "regular@0", "--mode", "socks5@0", "--proxyauth", `@${path}`]),
    startProxy(["--set", `proxyauth=@${path}`]),
  ]);
  try {
    await byFlag.waitForOutput(/SOCKS5 proxy listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/);
    await byFlag.waitForOutput(/Proxy server listening/);
    const socksPort = Number(/SOCKS5 proxy listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/.exec(byFlag.stdout())![1]);
    const httpPort = Number(/Proxy server listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/.exec(byFlag.stdout())![1]);
    const url = `http://127.0.0.1:${origin.port}`;
    for (const port of [httpPort, bySet.port]) {
      for (const { user, pass } of USERS) {
        const proxy = ["-x", `http://127.0.0.1:${port}`, "--proxy-user", `${user}:${pass}`];
        const good = await curl([...proxy, "-w", "\n%{http_code}", `${url}/${user}`]);
        assert.is(good.stdout.toString(), `ok /${user}\n200`, `${user} on ${port}`);
        const bad = await curl([
          "-x",
          `http://127.0.0.1:${port}`,
          "--proxy-user",
          `${user}:${pass}x`,
          "-w",
          "%{http_code}",
          "-o",
          "/dev/null",
          `${url}/bad`,
        ]);
        assert.is(bad.stdout.toString(), "407", `${user} with a wrong password`);
      }
      const none = await curl([
        "-x",
        `http://127.0.0.1:${port}`,
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        `${url}/none`,
      ]);
      assert.is(none.stdout.toString(), "407");
      const nobody = await curl([
        "-x",
        `http://127.0.0.1:${port}`,
        "--proxy-user",
        "dave:sha-one",
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        `${url}/nobody`,
      ]);
      assert.is(nobody.stdout.toString(), "407", "a user not in the file");
    }
    const tunnel = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${httpPort}`,
      "--proxy-user",
      "alice:bcrypt pässword",
      `${url}/tunnel`,
    ]);
    assert.is(tunnel.stdout.toString(), "ok /tunnel");
    const refusedTunnel = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${httpPort}`,
      "--proxy-user",
      "alice:nope",
      `${url}/refused`,
    ]);
    assert.is.not(refusedTunnel.code, 0);
    assert.match(refusedTunnel.stderr, /407/);
    const socks = await curl([
      "--socks5-hostname",
      `127.0.0.1:${socksPort}`,
      "--proxy-user",
      "bob:apr1:secret",
      `${url}/socks`,
    ]);
    assert.is(socks.stdout.toString(), "ok /socks");
    const socksBad = await curl([
      "--socks5-hostname",
      `127.0.0.1:${socksPort}`,
      "--proxy-user",
      "bob:wrong",
      `${url}/socks-bad`,
    ]);
    assert.is.not(socksBad.code, 0);
    const reached = origin.requests.map((r) => r.url);
    for (const never of ["/bad", "/none", "/nobody", "/refused", "/socks-bad"]) {
      assert.not.ok(reached.includes(never), `${never} never reached the origin`);
    }
  } finally {
    await Promise.all([byFlag.stop(), bySet.stop()]);
    await origin.close();
    removeDir(dir);
  }
});

test("refused at start-up with one line and exit 2: a DES crypt entry, a missing file, LDAP specs", async () => {
  const dir = tempDir();
  try {
    const path = htpasswdFile(dir);
    execFileSync("htpasswd", ["-bd", path, "dave", "crypt"], { stdio: "ignore" });
    const cases: Array<[string, RegExp]> = [
      [
        `@${path}`,
        /^interloper: invalid value for proxyauth: '@.*\.htpasswd' \(line 6: user 'dave': DES crypt \(htpasswd -d\) and plain-text \(-p\) passwords are not supported; /,
      ],
      [
        `@${join(dir, "missing")}`,
        /^interloper: invalid value for proxyauth: '@.*missing' \(cannot read the htpasswd file: ENOENT\)$/,
      ],
      [
        "ldap:localhost:cn=admin,dc=example,dc=org:adminpw:ou=users,dc=example,dc=org",
        /^interloper: invalid value for proxyauth: LDAP \(ldap:…, ldaps:…\) is not supported; /,
      ],
      ["ldaps:localhost:636:cn=admin:adminpw:ou=users?search_filter_key=uid", /LDAP .* is not supported/],
    ];
    for (const [spec, line] of cases) {
      const r = await runCli(["-p", "0", "--set", `confdir=${testConfdir()}`, "--set", `proxyauth=${spec}`]);
      assert.is(r.code, 2, `${spec}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.is(lines.length, 1, r.stderr);
      assert.match(lines[0]!, line);
      assert.not.match(r.stderr, /adminpw/, "the LDAP bind password is not echoed");
    }
  } finally {
    removeDir(dir);
  }
});

test.run();
