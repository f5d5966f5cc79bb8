// What the command line tells a user: `--options` lists every option (the core's, the built-in
// addons', the scripts' given with -s) with type, default and help, as mitmdump --options does;
// an unknown option or flag names the closest known one; --help lists the modes and the
// commands; an addon package outside its sdk range is refused in one line naming both versions;
// `interloper list` shows the addon home.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SDK_VERSION } from "@interloper/sdk";
import { removeDir, runCli, tempDir } from "../helpers/harness.ts";

const work = tempDir("interloper-cli-options-");
test.after(() => removeDir(work));

const TEAPOT = `import { defineAddon, Response } from "@interloper/sdk";

export default defineAddon({
  name: "teapot",
  load(loader) {
    loader.addOption({ name: "teapotPath", type: "string", default: "/tea", help: "Where the teapot answers." });
  },
  request(flow) {
    if (flow.request.path === "/tea") flow.response = Response.make(418, "I'm a teapot");
  },
});
`;
const teapot = join(work, "teapot.ts");
writeFileSync(teapot, TEAPOT);

/** One option of the listing: its comment lines joined into one, then its value line. */
function entry(listing: string, name: string): string {
  const block = listing.split("\n\n").find((b) => b.split("\n").some((l) => l.startsWith(`${name}: `))) ?? "";
  const lines = block.trim().split("\n");
  const comment = lines.filter((l) => l.startsWith("# ")).map((l) => l.slice(2));
  return `# ${comment.join(" ")}\n${lines.filter((l) => !l.startsWith("#")).join("\n")}`;
}

test("--options lists the core's, the built-in addons' and the scripts' options with type, default and help", async () => {
  const r = await runCli(["--options", "-s", teapot, "--set", "teapot_path=/kettle", "--set", "block_global=false"]);
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^# ==== the proxy \(core\) ====$/m);
  assert.is(entry(out, "listen_port"), "# Port to listen on. Type number, default 8080.\nlisten_port: 8080");
  assert.match(entry(out, "connection_strategy"), /one of eager, lazy\.\nconnection_strategy: "eager"$/);
  assert.match(out, /^# ==== addon block ====$/m);
  assert.match(entry(out, "block_global"), /Type bool, default true\.\nblock_global: false$/, "the value set is shown");
  assert.match(entry(out, "ignore_hosts"), /Type list of strings, default \[\]\.\nignore_hosts: \[\]$/);
  assert.match(out, /^# ==== addon scriptloader ====$/m);
  assert.match(entry(out, "addon_typecheck"), /addon_typecheck: true$/);
  assert.match(out, /^# ==== addon teapot ====$/m);
  assert.is(
    entry(out, "teapot_path"),
    '# Where the teapot answers. Type string, default "/tea".\nteapot_path: "/kettle"',
  );
  // The listing owns stdout: what loading the script logged went to stderr.
  assert.match(r.stderr, /\[scriptloader\] loaded .*teapot\.ts/);
  assert.not.match(out, /listening/);
});

test("--options never prints a secret: passphrases and passwords set on the command line show as ********", async () => {
  const r = await runCli([
    "--options",
    "--set",
    "cert_passphrase=hunter2",
    "--set",
    "upstream_auth=user:s3cret",
    "--set",
    "proxyauth=alice:pa55",
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cert_passphrase: "\*{8}"$/m);
  assert.match(r.stdout, /^upstream_auth: "\*{8}"$/m);
  assert.match(r.stdout, /^proxyauth: "\*{8}"$/m);
  for (const secret of ["hunter2", "s3cret", "pa55"]) assert.not.ok(r.stdout.includes(secret), secret);
});

test("an unknown option names the closest known one (a script's too); an unknown flag the closest flag", async () => {
  const option = await runCli(["-s", teapot, "--set", "teapot_pth=/x", "--set", `confdir=${work}`]);
  assert.is(option.code, 2);
  assert.is(option.stderr, "interloper: unknown option: teapot_pth (did you mean teapot_path?)\n");
  const core = await runCli(["--set", "idle_timout=3", "--set", `confdir=${work}`]);
  assert.is(core.stderr, "interloper: unknown option: idle_timout (did you mean idle_timeout?)\n");
  const flag = await runCli(["--lisen-port", "8081"]);
  assert.is(flag.code, 2);
  assert.is(flag.stderr, "interloper: Unknown argument: lisen-port (did you mean --listen-port?)\n");
  const far = await runCli(["--frobnicate"]);
  assert.is(
    far.stderr,
    "interloper: Unknown argument: frobnicate; options are set with --set name=value (--options lists them)\n",
  );
});

test("--help lists the modes and the commands", async () => {
  const r = await runCli(["--help"]);
  assert.is(r.code, 0);
  for (const word of [
    "regular",
    "transparent",
    "socks5",
    "reverse:SCHEME://host[:port]",
    "upstream:http[s]://host[:port]",
  ])
    assert.match(r.stdout, `\n  ${word} `);
  for (const command of ["new-addon NAME", "install PACKAGE...", "uninstall PACKAGE...", "list"])
    assert.match(r.stdout, `interloper ${command}`);
  assert.match(r.stdout, /--options/);
});

test("an addon package outside its sdk range is refused at start-up: one line naming both versions", async () => {
  const confdir = join(work, "conf");
  const dir = join(confdir, "addons", "node_modules", "@test", "future");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "@test/future",
      version: "3.0.0",
      main: "index.js",
      peerDependencies: { "@interloper/sdk": "^3.0.0" },
    }),
  );
  writeFileSync(join(dir, "index.js"), "module.exports = { name: 'future' };\n");
  const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--confdir", confdir, "-s", "@test/future"]);
  assert.is(r.code, 2);
  assert.is(
    r.stderr,
    `interloper: cannot load script @test/future: @test/future@3.0.0 needs @interloper/sdk ^3.0.0, but this interloper has @interloper/sdk ${SDK_VERSION}\n`,
  );
  assert.not.match(r.stdout, /listening/);

  const listed = await runCli(["list", "--confdir", confdir]);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(
    listed.stdout,
    `no addons in ${join(confdir, "addons")}`,
    "only what the home's package.json lists counts",
  );
  writeFileSync(
    join(confdir, "addons", "package.json"),
    JSON.stringify({ private: true, dependencies: { "@test/future": "^3.0.0" } }),
  );
  const again = await runCli(["list", "--confdir", confdir]);
  assert.match(
    again.stdout,
    /^@test\/future 3\.0\.0 {2}\[not loadable: @test\/future@3\.0\.0 needs @interloper\/sdk \^3\.0\.0/m,
  );
});

test.run();
