// The same rewrite specs given to Debian's mitmdump 8.1.1 and to interloper:
// for the same requests, the origin must receive the same things and curl
// must get the same answers. So a user's mitmproxy -M/-H/-B/--map-local
// values mean the same here (the escapes, Python regexes and templates, the
// remove-then-add of headers, map_local's candidates and 404 included).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startMitmdump } from "../helpers/mitmdump.ts";
import { curl, removeDir, startOrigin, startProxy, tempDir, type Origin } from "../helpers/harness.ts";

const work = tempDir("interloper-modify-interop-");
const site = join(work, "site");
mkdirSync(join(site, "docs"), { recursive: true });
writeFileSync(join(site, "app.js"), "local js");
writeFileSync(join(site, "docs", "index.html"), "local docs");
writeFileSync(join(site, "a b.txt"), "spaced");
writeFileSync(join(work, "secret.txt"), "SECRET");
const agent = join(work, "agent.txt");
writeFileSync(agent, "agent-from-file");

const SPECS = [
  ["-H", "|~q|X-Added|yes"],
  ["-H", "|~q|X-Two|1"],
  ["-H", "|~q|x-two|2"],
  ["-H", "|~q|Accept|"],
  ["-H", `|~q & ~m POST|User-Agent|@${agent}`],
  ["-H", "/~s/Server/"],
  ["-H", "/~s/X-Resp/r\\x41"],
  ["-H", "|~d nomatch\\.test|X-Never|1"],
  ["-B", "/~q/foo/bar"],
  ["-B", "|~s|(\\w+)-(\\w+)|\\\\2+\\\\1"],
  ["-B", "|~s|\\bword|WORD"],
  ["-B", ":~s:o{2,}:0"],
  ["-B", "|~s|(?P<n>\\d+)|<\\g<n>>"],
  ["-M", "|/old/|/new/"],
  ["-M", "|(?P<p>/x)y|\\g<p>z"],
  ["--map-local", `|/local|${site}`],
].flat();

const REQUESTS: string[][] = [
  ["/plain", "-H", "Accept: text/html"],
  ["/post", "-d", "foo food"],
  ["/old/a?b=1"],
  ["/xy/q"],
  ["/local/app.js?v=1"],
  ["/local/docs"],
  ["/local/a%20b.txt"],
  ["/local/nope.css"],
  ["/local/%2e%2e/secret.txt"],
];

interface Seen {
  origin: string[];
  answers: string[];
}

/** What the origin received and what curl got, for each request, through the proxy at `port`. */
async function exchange(port: number, origin: Origin): Promise<Seen> {
  const answers: string[] = [];
  for (const [path, ...extra] of REQUESTS) {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${port}`,
      "-D",
      "-",
      ...extra,
      `http://127.0.0.1:${origin.port}${path}`,
    ]);
    answers.push(summary(r.stdout.toString("latin1")));
  }
  const origin_ = origin.requests.map((q) => {
    const h = (name: string) =>
      q.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [q.rawHeaders[i + 1]!] : [])).join("|");
    return `${q.method} ${q.url} added=${h("x-added")} two=${h("x-two")} accept=${h("accept")} ua=${h("user-agent").replace(/^curl\/.*/, "curl")} never=${h("x-never")} body=${q.body.toString()}`;
  });
  origin.requests.length = 0;
  return { origin: origin_, answers };
}

/** Status, the fields both proxies should agree on, and the body. */
function summary(raw: string): string {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const lines = head.split("\r\n");
  const field = (name: string) =>
    lines
      .slice(1)
      .filter((l) => l.toLowerCase().startsWith(`${name}:`))
      .map((l) => l.slice(name.length + 1).trim())
      .join("|");
  const server = field("server");
  return `${lines[0]} type=${field("content-type")} resp=${field("x-resp")} server=${/origin/.test(server) ? server : server ? "proxy" : ""} body=${body}`;
}

test("mitmdump 8.1.1 and interloper, same specs, same requests: the same results", async () => {
  const origin = await startOrigin((req, res, body) => {
    res.setHeader("Server", "origin-server");
    res.setHeader("Content-Type", "text/plain");
    res.end(`${req.method} ${req.url} got=${body.toString()} word foo-bar 1234 ooo`);
  });
  let theirs: Seen | undefined;
  const mitm = await startMitmdump(["--set", `confdir=${join(work, "mitm-conf")}`, ...SPECS]);
  try {
    theirs = await exchange(mitm.port, origin);
  } finally {
    await mitm.stop();
  }
  const proxy = await startProxy(SPECS);
  try {
    const ours = await exchange(proxy.port, origin);
    assert.equal(ours.origin, theirs.origin);
    assert.equal(ours.answers, theirs.answers);
    // Not vacuous: the specs did change things.
    assert.ok(
      ours.origin.some((l) => l.includes("added=yes two=1|2 accept= ")),
      ours.origin.join("\n"),
    );
    assert.ok(ours.answers.some((a) => a.includes("local js")));
    assert.ok(ours.answers.some((a) => /^HTTP\/1\.1 404/.test(a)));
    assert.ok(ours.origin.some((l) => l.startsWith("GET /new/a?b=1 ")));
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test.after(() => removeDir(work));
test.run();
