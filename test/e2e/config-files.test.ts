// Config files end to end (the CLI, curl, a local origin): the confdir's config.yaml and the
// project's interloper.config.ts applied at start-up, --config, the precedence defaults < confdir
// file < project file < command line, live changes (and a refused one keeping the old value),
// unknown keys and syntax errors ending the start with exit code 2 and file:line, and config.yaml's
// `scripts:` loading an addon installed in the addon home (a tarball, no registry).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { confdirWith, countMatches, runCliIn } from "../helpers/config-cli.ts";
import {
  curl,
  removeDir,
  runCli,
  startOrigin,
  startProxy,
  tempDir,
  waitFor,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";

/** An addon with an option `tag` (refusing the value "refused") that puts it into X-Tag. */
const TAGGER = `import { OptionError } from "@interloper/sdk";
export default {
  name: "tagger",
  tag: "unset",
  load(loader) {
    loader.addOption({ name: "tag", type: "string", default: "default", help: "What X-Tag says." });
  },
  configure(_updated, options) {
    const tag = options.get("tag");
    if (tag === "refused") throw new OptionError("invalid value for tag: 'refused' (this test refuses it)");
    this.tag = tag;
  },
  response(flow) {
    flow.response.headers.set("X-Tag", this.tag);
  },
};
`;

/** Should a start that ought to fail succeed, it listens on loopback only. */
const LOOPBACK = ["-p", "0", "--listen-host", "127.0.0.1"];

let origin: Origin;
let work: string;
let tagger: string;
const proxies: ProxyProcess[] = [];

test.before(async () => {
  origin = await startOrigin((_req, res) => res.end("from the origin\n"));
  work = tempDir("interloper-config-e2e-");
  tagger = join(work, "tagger.js");
  writeFileSync(tagger, TAGGER);
  // The shared test confdir gets its CA once; confdirWith copies it.
  const first = await startProxy([]);
  await first.stop();
});

test.after(async () => {
  for (const p of proxies) await p.stop();
  await origin.close();
  removeDir(work);
});

async function proxy(args: string[], opts: { confdir: string; cwd: string }): Promise<ProxyProcess> {
  const p = await startProxy(args, opts);
  proxies.push(p);
  return p;
}

/** The X-Tag header of a request through the proxy (undefined without one), and the status. */
async function tagThrough(p: ProxyProcess, extra: string[] = []): Promise<{ status: string; tag?: string }> {
  const r = await curl(["-i", "-x", `http://127.0.0.1:${p.port}`, ...extra, `http://127.0.0.1:${origin.port}/`]);
  const head = r.stdout.toString();
  const status = /^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1] ?? `curl ${r.code}: ${r.stderr}`;
  const tag = /^x-tag: (.*?)\r?$/im.exec(head)?.[1];
  return tag === undefined ? { status } : { status, tag };
}

function folder(name: string, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

test("precedence: defaults < confdir config.yaml < project interloper.config.ts < command line", async () => {
  const empty = folder("empty");
  const project = folder("project", {
    "interloper.config.ts": `import { defineConfig } from "@interloper/sdk";\nexport default defineConfig({ options: { tag: "project" } });\n`,
  });
  const bare = confdirWith();
  const withYaml = confdirWith(`# the confdir's options\nscripts:\n  - ${tagger}\ntag: conf\n`);

  const byDefault = await proxy(["-s", tagger], { confdir: bare, cwd: empty });
  assert.equal(await tagThrough(byDefault), { status: "200", tag: "default" });
  const confdirOnly = await proxy([], { confdir: withYaml, cwd: empty });
  assert.equal(await tagThrough(confdirOnly), { status: "200", tag: "conf" }, "config.yaml's scripts and tag");
  const withProject = await proxy([], { confdir: withYaml, cwd: project });
  assert.equal(await tagThrough(withProject), { status: "200", tag: "project" });
  const withFlag = await proxy(["--set", "tag=cli"], { confdir: withYaml, cwd: project });
  assert.equal(await tagThrough(withFlag), { status: "200", tag: "cli" });
  assert.is(origin.requests.length, 4);
});

test("config.yaml in the confdir applies a built-in addon's option (proxyauth)", async () => {
  const confdir = confdirWith(`proxyauth: "alice:secret"\n`);
  const p = await proxy([], { confdir, cwd: folder("plain") });
  assert.equal(await tagThrough(p), { status: "407" });
  assert.equal(await tagThrough(p, ["-U", "alice:secret"]), { status: "200" });
});

test("--config names a project file elsewhere; its script paths are relative to it", async () => {
  const elsewhere = folder("elsewhere", {
    "tagger.js": TAGGER,
    "my.config.mjs": `export default { scripts: ["./tagger.js"], options: { tag: "given" } };\n`,
  });
  const p = await proxy(["--config", join(elsewhere, "my.config.mjs")], { confdir: confdirWith(), cwd: folder("cwd") });
  assert.equal(await tagThrough(p), { status: "200", tag: "given" });
  const missing = await runCliIn(work, ["--config", "nowhere.ts", ...LOOPBACK, "--confdir", confdirWith()]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /--config: no such file 'nowhere\.ts'/);
});

test("live: a saved change applies (both files), a refused value keeps the old one, the command line stays", async () => {
  const config = (tag: string) =>
    `import { defineConfig } from "@interloper/sdk";\nexport default defineConfig({\n  scripts: ["./tagger.js"],\n  options: { tag: "${tag}" },\n});\n`;
  const dir = folder("live", { "tagger.js": TAGGER, "interloper.config.ts": config("one") });
  const confdir = confdirWith("flow_detail: 1\n");
  const p = await proxy(["--set", "ssl_insecure=false"], { confdir, cwd: dir });
  assert.equal(await tagThrough(p), { status: "200", tag: "one" });
  const applied = (re: RegExp, n: number, what: string) => waitFor(() => countMatches(p.stdout(), re) >= n, what);

  writeFileSync(join(dir, "interloper.config.ts"), config("two"));
  await applied(/interloper\.config\.ts: applied tag/, 1, "the project file's change");
  assert.equal(await tagThrough(p), { status: "200", tag: "two" });

  writeFileSync(join(dir, "interloper.config.ts"), config("refused"));
  await applied(
    /interloper\.config\.ts:\d+: invalid value for tag: 'refused'.*; the options stay as they were/,
    1,
    "the refusal",
  );
  assert.equal(await tagThrough(p), { status: "200", tag: "two" }, "the old value stays");

  writeFileSync(
    join(confdir, "config.yaml"),
    `flow_detail: 1\nproxyauth: "bob:pw"\nssl_insecure: true\nmax_header_size: 70000\n`,
  );
  await applied(/config\.yaml: applied proxyauth/, 1, "the confdir file's change");
  assert.match(p.stdout(), /config\.yaml:4: max_header_size changed to 70000: restart interloper to apply it/);
  assert.not.match(p.stdout(), /applied proxyauth, ssl_insecure/, "ssl_insecure is the command line's");
  assert.equal((await tagThrough(p)).status, "407");
  assert.equal(await tagThrough(p, ["-U", "bob:pw"]), { status: "200", tag: "two" });

  writeFileSync(join(confdir, "config.yaml"), `flow_detail: 1\nproxyauth: "bob:pw"\nidle_timeout: -1\n`);
  await applied(
    /config\.yaml:3: invalid value for idle_timeout.*; the options stay as they were/,
    1,
    "a refused core value",
  );
  writeFileSync(join(confdir, "config.yaml"), `flow_detail: 1\nproxyauth: "bob:pw"\nmap_remot: []\n`);
  await applied(/config\.yaml:3: unknown option 'map_remot'.*; the options stay as they were/, 1, "an unknown key");
  writeFileSync(join(confdir, "config.yaml"), `flow_detail: 1\n`);
  await applied(/config\.yaml: applied proxyauth/, 2, "proxyauth removed: back to its default");
  assert.equal(await tagThrough(p), { status: "200", tag: "two" });
});

test("start-up: unknown keys, bad values and syntax errors exit 2 with file:line", async () => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [
      {},
      "flow_detail: 1\n\nssl_insecur: true\n",
      /config\.yaml:3: unknown option 'ssl_insecur' \(did you mean ssl_insecure\?\)/,
    ],
    [{}, "listen_port: [8080\n", /config\.yaml:\d+: YAML syntax error/],
    [{}, "flow_detail: lots\n", /config\.yaml:1: invalid value for flow_detail: "lots" \(expected a number\)/],
    [{}, "idle_timeout: -2\n", /config\.yaml:1: invalid value for idle_timeout/],
    [
      { "interloper.config.ts": `export default {\n  options: {\n    flow_detial: 2,\n  },\n};\n` },
      "",
      /interloper\.config\.ts:3: unknown option 'flow_detial' \(did you mean flow_detail\?\)/,
    ],
    [
      { "interloper.config.ts": `export default {\n  mode: "regular",\n  optoins: {},\n};\n` },
      "",
      /interloper\.config\.ts:3: unknown key 'optoins'/,
    ],
    [
      { "interloper.config.ts": `export default {\n  options: { tag: 1 +* 2 },\n};\n` },
      "",
      /interloper\.config\.ts: cannot load it: .*interloper\.config\.ts:2:\d+/,
    ],
  ];
  let n = 0;
  for (const [files, yaml, re] of cases) {
    const r = await runCliIn(folder(`bad-${n++}`, files), [...LOOPBACK, "--confdir", confdirWith(yaml)]);
    assert.is(r.code, 2, `${yaml}${JSON.stringify(files)}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.is(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  }
});

test("config.yaml's scripts: an addon package installed in the addon home loads at every start", async () => {
  const pkg = folder("home-addon", {
    "package.json": JSON.stringify({
      name: "@test/cfg-home",
      version: "1.0.0",
      main: "index.js",
      keywords: ["interloper-addon"],
    }),
    "index.js": `module.exports = { name: "cfg-home", response(flow) { flow.response.headers.set("X-Tag", "from the addon home"); } };\n`,
  });
  const tarball = join(
    work,
    execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkg, encoding: "utf8" }).trim(),
  );
  const confdir = confdirWith(`scripts: ["@test/cfg-home"]\n`);
  const installed = await runCli(["install", tarball, "--confdir", confdir, "--offline"]);
  assert.is(installed.code, 0, installed.stderr);
  const p = await proxy([], { confdir, cwd: folder("anywhere") });
  assert.match(p.stdout(), /loaded @test\/cfg-home 1\.0\.0 \(addon home\)/);
  assert.equal(await tagThrough(p), { status: "200", tag: "from the addon home" });
});

test.run();
