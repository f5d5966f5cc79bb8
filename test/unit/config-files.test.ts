// Config files (core/config/): config.yaml parsing with lines, values turned into what each kind of
// option holds, the project file's shape, the precedence defaults < confdir < project < command line,
// where a refusal points, and the whole start-up and live cycle against a real option registry.
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as sdk from "@interloper/sdk";
import { OptionError, type LogEntry, type OptionSpec } from "@interloper/sdk";
import { AddonHost, Options } from "@interloper/sdk/host";
import { bundleScript } from "../../addons/scripts/bundle.ts";
import { evaluateBundle } from "../../addons/scripts/evaluate.ts";
import { locate, mergeSources, planChanges, type Placed } from "../../core/config/precedence.ts";
import { keyLine, projectSource } from "../../core/config/project-file.ts";
import { ConfigError, type ConfigSource } from "../../core/config/source.ts";
import { applyConfigFiles } from "../../core/config/start.ts";
import { configValue, ValueError } from "../../core/config/values.ts";
import { parseYamlConfig } from "../../core/config/yaml-file.ts";
import { removeDir, tempDir, waitFor } from "../helpers/harness.ts";

const SPECS: OptionSpec[] = [
  { name: "sslInsecure", type: "bool", default: false, help: "" },
  { name: "listenHost", type: "string", default: "", help: "" },
  { name: "listenPort", type: "number", default: 8080, startupOnly: true, help: "" },
  { name: "streamLargeBodies", type: "optional-string", default: undefined, help: "" },
  { name: "ignoreHosts", type: "strings", default: [], help: "" },
  { name: "flowDetail", type: "number", default: 1, help: "" },
  { name: "connectionStrategy", type: "string", default: "eager", choices: ["eager", "lazy"], help: "" },
  { name: "confdir", type: "string", default: "~/.interloper", startupOnly: true, help: "" },
  { name: "mapRemote", type: "strings", default: [], help: "" },
];

function registry(): Options {
  const o = new Options();
  for (const spec of SPECS) o.add(spec);
  return o;
}

/** What `fn` threw (fails when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.unreachable("expected an exception");
  throw new Error("unreachable");
}

const entries = (text: string) =>
  [...parseYamlConfig(text, "/conf/config.yaml").entries.values()].map((e) => [e.key, e.value, e.line]);

// ---------------------------------------------------------------- YAML

test("yaml: names to values with their lines; lists, booleans, numbers, nulls, strings, comments", () => {
  const text = [
    "# interloper options",
    "ssl_insecure: true",
    "listen_port: 8081",
    "",
    "ignore_hosts:",
    "  - '^example\\.com:443$'",
    "  - apple.com",
    "stream_large_bodies:",
    "listen_host: 127.0.0.1   # a comment after a value",
    "flowDetail: 2",
    'upstream_auth: "user:pass"',
    "anchored: &a [x, y]",
  ].join("\n");
  assert.equal(entries(text), [
    ["ssl_insecure", true, 2],
    ["listen_port", 8081, 3],
    ["ignore_hosts", ["^example\\.com:443$", "apple.com"], 5],
    ["stream_large_bodies", null, 8],
    ["listen_host", "127.0.0.1", 9],
    ["flowDetail", 2, 10],
    ["upstream_auth", "user:pass", 11],
    ["anchored", ["x", "y"], 12],
  ]);
  const source = parseYamlConfig("ssl_insecure: yes\nflow-detail: 3\n", "/c.yaml");
  assert.equal([...source.entries.keys()], ["sslInsecure", "flowDetail"], "names are canonical (snake, kebab, camel)");
  assert.is(source.entries.get("sslInsecure")!.value, "yes", "YAML 1.2: yes is a word, left to the option");
});

test("yaml: an empty file, comments only, a lone null or a document marker set nothing", () => {
  for (const text of ["", "\n\n", "# nothing\n# at all\n", "~\n", "---\n", "--- # x\n...\n"]) {
    assert.equal(entries(text), [], JSON.stringify(text));
  }
});

test("yaml: syntax errors name file:line", () => {
  const cases: Array<[string, number]> = [
    ["ssl_insecure: true\nlisten_port: [8080\n", 3],
    ["a: 1\n  b: 2\n", 1],
    ["ignore_hosts:\n  - a\n - b\n", 3],
    ["key: 'unterminated\n", 2],
    ["a: 1\na: 2\n", 2],
    ["one: 1\n---\ntwo: 2\n", 2],
    ["a: *missing\n", 1],
    ["\tssl_insecure: true\n", 1],
  ];
  for (const [text, line] of cases) {
    const err = thrown(() => parseYamlConfig(text, "/conf/config.yaml"));
    assert.instance(err, ConfigError, JSON.stringify(text));
    assert.match(err.message, new RegExp(`^/conf/config\\.yaml:${line}: `), `${JSON.stringify(text)}: ${err.message}`);
    assert.not.match(err.message, /\n/, "one line");
  }
});

test("yaml: a top level that is not a mapping, keys that are not names, a name given twice", () => {
  assert.match(
    thrown(() => parseYamlConfig("- a\n- b\n", "/c.yaml")).message,
    /^\/c\.yaml:1: expected option names.*a list/,
  );
  assert.match(thrown(() => parseYamlConfig("just words\n", "/c.yaml")).message, /^\/c\.yaml:1: .*a single value/);
  assert.match(
    thrown(() => parseYamlConfig("ok: 1\n1: x\n", "/c.yaml")).message,
    /^\/c\.yaml:2: 1 is not an option name/,
  );
  assert.match(thrown(() => parseYamlConfig("x: 1\n'a b': 2\n", "/c.yaml")).message, /^\/c\.yaml:2: "a b" is not/);
  assert.match(thrown(() => parseYamlConfig("x: 1\n? [a]\n: 2\n", "/c.yaml")).message, /^\/c\.yaml:2: a complex key/);
  assert.match(
    thrown(() => parseYamlConfig("listen_port: 1\nflow_detail: 2\nlistenPort: 3\n", "/c.yaml")).message,
    /^\/c\.yaml:3: option 'listenPort' is given twice \(first at line 1\)$/,
  );
});

test("yaml: hostile input: alias bombs are refused, deep nesting and long files are fine", () => {
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 0; i < 8; i++)
    bomb.push(
      `${"b".repeat(i + 1)}: &${"b".repeat(i + 1)} [${Array(10)
        .fill(i === 0 ? "*a" : `*${"b".repeat(i)}`)
        .join(", ")}]`,
    );
  assert.throws(
    () => parseYamlConfig(bomb.join("\n"), "/c.yaml"),
    (e: unknown) => e instanceof ConfigError,
  );
  const deep = `x: ${"[".repeat(200)}${"]".repeat(200)}\n`;
  assert.equal(parseYamlConfig(deep, "/c.yaml").entries.size, 1);
  const long = Array.from({ length: 5000 }, (_, i) => `opt${i}: ${i}`).join("\n");
  const source = parseYamlConfig(long, "/c.yaml");
  assert.is(source.entries.size, 5000);
  assert.is(source.entries.get("opt4999")!.line, 5000);
  assert.match(thrown(() => parseYamlConfig("a: b: c\n", "/c.yaml")).message, /^\/c\.yaml:1: YAML syntax error/);
});

// ---------------------------------------------------------------- values

test("values: each kind of option takes YAML values and the words --set takes", () => {
  const o = registry();
  const value = (name: string, raw: unknown) => configValue(o.spec(name)!, raw, (t) => o.parseValue(name, [t]));
  assert.is(value("sslInsecure", true), true);
  assert.is(value("sslInsecure", false), false);
  assert.is(value("sslInsecure", "yes"), true);
  assert.is(value("sslInsecure", "off"), false);
  assert.is(value("sslInsecure", 1), true);
  assert.is(value("listenPort", 8081), 8081);
  assert.is(value("listenPort", "8082"), 8082);
  assert.is(value("listenHost", "::1"), "::1");
  assert.is(value("listenHost", 127), "127", "a number where text is expected is its text");
  assert.is(value("streamLargeBodies", "1m"), "1m");
  assert.is(value("streamLargeBodies", 100), "100");
  assert.is(value("streamLargeBodies", null), undefined, "null: no value");
  assert.equal(value("ignoreHosts", ["a", "b"]), ["a", "b"]);
  assert.equal(value("ignoreHosts", "a"), ["a"], "one value is a one-item list");
  assert.equal(value("ignoreHosts", [443, true]), ["443", "true"]);
  assert.equal(value("ignoreHosts", null), []);
  assert.equal(value("ignoreHosts", []), []);
});

test("values: misfits name the option, the value and what was expected", () => {
  const o = registry();
  const misfit = (name: string, raw: unknown) =>
    thrown(() => configValue(o.spec(name)!, raw, (t) => o.parseValue(name, [t])));
  const cases: Array<[string, unknown, RegExp]> = [
    ["sslInsecure", "maybe", /^invalid value for ssl_insecure: "maybe" \(expected true or false\)$/],
    ["sslInsecure", "", /ssl_insecure: "" \(expected true or false\)/],
    ["sslInsecure", null, /ssl_insecure: nothing \(expected true or false\)/],
    ["sslInsecure", [true], /ssl_insecure: a list/],
    ["listenPort", "eighty", /listen_port: "eighty" \(expected a number\)/],
    ["listenPort", null, /listen_port: nothing/],
    ["listenPort", { a: 1 }, /listen_port: a mapping \(expected a number\)/],
    ["listenHost", null, /listen_host: nothing \(expected a string\)/],
    ["listenHost", ["a"], /listen_host: a list \(expected a string\)/],
    ["streamLargeBodies", { size: 1 }, /stream_large_bodies: a mapping \(expected a string or nothing\)/],
    ["ignoreHosts", [["nested"]], /ignore_hosts: a list \(expected a list of strings\)/],
    ["ignoreHosts", [null], /expected a list of strings/],
    ["ignoreHosts", { a: 1 }, /ignore_hosts: a mapping/],
  ];
  for (const [name, raw, re] of cases) {
    const err = misfit(name, raw);
    assert.instance(err, ValueError, `${name} ${JSON.stringify(raw)}`);
    assert.match(err.message, re, `${name} ${JSON.stringify(raw)}: ${err.message}`);
  }
  assert.match(misfit("listenHost", { long: "x".repeat(500) }).message, /a mapping/, "contents are never dumped");
  assert.ok(misfit("sslInsecure", "y".repeat(500)).message.length < 200, "long values are cut");
});

// ---------------------------------------------------------------- the project file

test("project file: mode, scripts and options become entries; script paths are taken from its folder", () => {
  const text = [
    'import { defineConfig } from "@interloper/sdk";',
    "export default defineConfig({",
    '  mode: ["regular@8081", "socks5"],',
    '  scripts: ["./addon.ts", "@me/redactor", "sub/other.ts", "/abs/x.ts"],',
    "  options: {",
    "    ssl_insecure: true,",
    '    "flow_detail": 2,',
    "    ignoreHosts: ['a'],",
    "  },",
    "});",
  ].join("\n");
  const config = {
    mode: ["regular@8081", "socks5"],
    scripts: ["./addon.ts", "@me/redactor", "sub/other.ts", "/abs/x.ts"],
    options: { ssl_insecure: true, flow_detail: 2, ignoreHosts: ["a"], skipped: undefined },
  };
  const source = projectSource("/proj/interloper.config.ts", config, text);
  const got = [...source.entries.values()].map((e) => [e.name, e.value, e.line]);
  assert.equal(got, [
    ["mode", ["regular@8081", "socks5"], 3],
    ["scripts", ["/proj/addon.ts", "@me/redactor", "/proj/sub/other.ts", "/abs/x.ts"], 4],
    ["sslInsecure", true, 6],
    ["flowDetail", 2, 7],
    ["ignoreHosts", ["a"], 8],
  ]);
});

test("project file: a wrong shape is one error naming the file (and the line where it can be found)", () => {
  const text = "export default {\n  mode: 'regular',\n  option: { a: 1 },\n};\n";
  assert.match(
    thrown(() => projectSource("/p/interloper.config.ts", { mode: "regular", option: { a: 1 } }, text)).message,
    /^\/p\/interloper\.config\.ts:3: unknown key 'option' \(did you mean options\?\)$/,
  );
  assert.match(
    thrown(() => projectSource("/p/c.ts", { zzz: 1 }, "")).message,
    /^\/p\/c\.ts: unknown key 'zzz' \(expected mode, scripts or options\)$/,
  );
  for (const bad of [undefined, null, 42, "x", [1], () => 1, new Map()]) {
    assert.match(
      thrown(() => projectSource("/p/c.ts", bad, "")).message,
      /^\/p\/c\.ts: expected a default export of defineConfig/,
    );
  }
  assert.match(
    thrown(() => projectSource("/p/c.ts", { options: ["x"] }, "x\noptions: []")).message,
    /^\/p\/c\.ts:2: options must be an object/,
  );
  assert.match(
    thrown(() => projectSource("/p/c.ts", { mode: "regular", options: { mode: "socks5" } }, "")).message,
    /option 'mode' is given twice/,
  );
});

test("keyLine: finds a property written bare or quoted, not a longer name or a value", () => {
  const text = 'a: 1,\n  "b_c": 2,\n  xmode: 3,\n  mode : 4,\n  { \'q\': 5 }\n  v: "w:"';
  assert.is(keyLine(text, "a"), 1);
  assert.is(keyLine(text, "b_c"), 2);
  assert.is(keyLine(text, "mode"), 4);
  assert.is(keyLine(text, "q"), 5);
  assert.is(keyLine(text, "w"), undefined);
  assert.is(keyLine(text, "missing"), undefined);
  assert.is(keyLine("x.y+z: 1", "x.y+z"), 1, "regex characters in a name are literal");
});

test("keyLine: a key named first in a comment, a string or a nested object is found where it is a property", () => {
  const text = [
    "// flow_detail: 1 was too little",
    "/* mode: here",
    "   is a comment */",
    "export default defineConfig({",
    '  scripts: ["x.ts", "mode: no"],',
    "  options: {",
    "    map_remote: { flow_detail: 0 },",
    '    note: "flow_detail: 9",',
    "    flow_detail: 2,",
    "  },",
    "  mode: ['regular'],",
    "});",
  ].join("\n");
  assert.is(keyLine(text, "mode"), 11);
  assert.is(keyLine(text, "options"), 6);
  assert.is(keyLine(text, "flow_detail", "options"), 9);
  assert.is(keyLine(text, "map_remote", "options"), 7);
  assert.is(keyLine(text, "mode", "options"), undefined, "not inside options");
  assert.is(keyLine("export default { mode: 1 }", "flow_detail", "options"), undefined);
  const source = projectSource("/p/interloper.config.ts", { options: { flow_detail: 2 }, mode: ["regular"] }, text);
  assert.is(source.entries.get("flowDetail")?.line, 9);
  assert.is(source.entries.get("mode")?.line, 11);
});

// ---------------------------------------------------------------- precedence

function source(file: string, values: Record<string, unknown>): ConfigSource {
  const s: ConfigSource = { file, entries: new Map() };
  let line = 1;
  for (const [name, value] of Object.entries(values)) s.entries.set(name, { name, key: name, value, line: line++ });
  return s;
}

test("precedence: confdir < project, per option; the command line's options are left out", () => {
  const merged = mergeSources([
    source("/conf/config.yaml", { sslInsecure: true, flowDetail: 3, ignoreHosts: ["a"] }),
    source("/conf/config.yml", { flowDetail: 4 }),
    source("/p/interloper.config.ts", { flowDetail: 2, listenHost: "::1" }),
  ]);
  assert.is(merged.get("flowDetail")!.file, "/p/interloper.config.ts");
  assert.is(merged.get("sslInsecure")!.file, "/conf/config.yaml");
  const o = registry();
  const plan = planChanges(merged, o, { commandLine: new Set(["listenHost"]), previous: new Set(), startup: true });
  assert.equal(plan.changes, { sslInsecure: true, flowDetail: 2, ignoreHosts: ["a"] });
  assert.equal(
    plan.overridden.map((p) => p.name),
    ["listenHost"],
  );
  assert.equal(plan.unknown, []);
});

test("precedence: at start-up every file value is a change (even the default); unknown names wait", () => {
  const o = registry();
  const merged = mergeSources([source("/c.yaml", { listenPort: 8080, teapotPath: "/tea", mapRemot: ["x"] })]);
  const plan = planChanges(merged, o, { commandLine: new Set(), previous: new Set(), startup: true });
  assert.equal(plan.changes, { listenPort: 8080 }, "given, so the option counts as set");
  assert.equal(
    plan.unknown.map((p) => p.key),
    ["teapotPath", "mapRemot"],
  );
});

test("precedence: later, only differences; a removed entry goes back to its default; start-up-only options wait", () => {
  const o = registry();
  o.update({ sslInsecure: true, flowDetail: 3, ignoreHosts: ["a"], listenPort: 9000 });
  const merged = mergeSources([source("/c.yaml", { sslInsecure: true, flowDetail: 2, listenPort: 9001 })]);
  const plan = planChanges(merged, o, {
    commandLine: new Set(),
    previous: new Set(["sslInsecure", "flowDetail", "ignoreHosts", "listenPort"]),
    startup: false,
  });
  assert.equal(plan.changes, { flowDetail: 2, ignoreHosts: [] });
  assert.equal(
    plan.restart.map((r) => [r.name, r.value]),
    [["listenPort", 9001]],
  );
  const removed = planChanges(new Map(), o, {
    commandLine: new Set(),
    previous: new Set(["listenPort"]),
    startup: false,
  });
  assert.equal(
    removed.restart.map((r) => [r.name, r.value, r.placed]),
    [["listenPort", 8080, undefined]],
  );
  const cli = planChanges(merged, o, {
    commandLine: new Set(["flowDetail"]),
    previous: new Set(["flowDetail"]),
    startup: false,
  });
  assert.not.ok("flowDetail" in cli.changes, "a command-line value is never overwritten by a file change");
});

test("precedence: a misfit value throws a ConfigError at its file and line", () => {
  const o = registry();
  const merged = mergeSources([source("/c.yaml", { sslInsecure: true, listenPort: "x" })]);
  assert.match(
    thrown(() => planChanges(merged, o, { commandLine: new Set(), previous: new Set(), startup: true })).message,
    /^\/c\.yaml:2: invalid value for listen_port: "x" \(expected a number\)$/,
  );
});

test("locate: a refusal points at the entry its message names, else at the value it quotes", () => {
  const merged = new Map<string, Placed>([
    ["idleTimeout", { name: "idleTimeout", key: "idle_timeout", value: -1, line: 3, file: "/c.yaml" }],
    ["scripts", { name: "scripts", key: "scripts", value: ["./gone.ts"], line: 5, file: "/p.ts" }],
    ["flowDetail", { name: "flowDetail", key: "flow_detail", value: true, line: 7, file: "/c.yaml" }],
  ]);
  const names = [...merged.keys()];
  assert.is(locate("invalid value for idle_timeout: -1 (expected seconds)", merged, names)?.line, 3);
  assert.is(locate("cannot load script ./gone.ts: script not found", merged, names)?.line, 5);
  assert.is(locate("something about true", merged, names), undefined, "a boolean is no evidence");
  assert.is(locate("invalid value for idle_timeout_x: 1", merged, names), undefined);
  assert.is(locate("invalid value for idle_timeout: -1", merged, ["flowDetail"]), undefined, "only the names given");
});

// ---------------------------------------------------------------- the whole cycle

/** A host with SPECS as its options (one addon that refuses a negative flow_detail) and its log. */
async function hostWithLog(): Promise<{ host: AddonHost; logs: LogEntry[] }> {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  await host.add({
    name: "opts",
    load(loader) {
      for (const spec of SPECS) loader.addOption(spec);
    },
    configure(_updated, options) {
      if (options.get<number>("flowDetail") < 0) throw new OptionError("invalid value for flow_detail: negative");
    },
  });
  return { host, logs };
}

const noModules = () => Promise.reject(new Error("no project file expected"));

test("cycle: confdir file, project file and command line at start-up, then live changes", async () => {
  const dir = tempDir("interloper-config-");
  const confdir = join(dir, "conf");
  mkdirSync(confdir);
  try {
    writeFileSync(join(confdir, "config.yaml"), "ssl_insecure: true\nflow_detail: 3\nlisten_host: ::1\n");
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { flow_detail: 2 } };\n");
    const { host, logs } = await hostWithLog();
    // The script loader's evaluator without its bundler: the file is CommonJS already.
    const run = (file: string) =>
      Promise.resolve({ exports: evaluateBundle(readFileSync(file, "utf8"), file, {}), inputs: [file] });
    const files = await applyConfigFiles(
      host,
      { listenHost: "127.0.0.1", confdir },
      { projectFile: undefined, run, cwd: dir },
    );
    assert.is(host.options.get("sslInsecure"), true, "confdir file over the default");
    assert.is(host.options.get("flowDetail"), 2, "project file over the confdir file");
    assert.is(host.options.get("listenHost"), "127.0.0.1", "command line over both");

    await files.watch();
    const seen = () => logs.map((e) => e.message).join("\n");
    writeFileSync(
      join(confdir, "config.yaml"),
      "flow_detail: 3\nlisten_host: ::1\nignore_hosts: [x]\nlisten_port: 9\n",
    );
    await waitFor(() => /config\.yaml: applied ignore_hosts, ssl_insecure/.test(seen()), "the live change");
    assert.is(host.options.get("sslInsecure"), false, "removed from the file: back to the default");
    assert.equal(host.options.get("ignoreHosts"), ["x"]);
    assert.is(host.options.get("flowDetail"), 2, "the project file still wins");
    assert.is(host.options.get("listenHost"), "127.0.0.1", "the command line still wins");
    assert.match(seen(), /config\.yaml:4: listen_port changed to 9: restart interloper to apply it/);
    assert.is(host.options.get("listenPort"), 8080);

    writeFileSync(
      join(dir, "interloper.config.js"),
      "module.exports = { options: { flow_detail: -1, ssl_insecure: true } };\n",
    );
    await waitFor(
      () => /interloper\.config\.js:.*flow_detail: negative; the options stay as they were/.test(seen()),
      "the refusal",
    );
    assert.is(host.options.get("flowDetail"), 2, "a refused value keeps the old one");
    assert.is(host.options.get("sslInsecure"), false, "and so does the rest of that change");

    writeFileSync(join(confdir, "config.yaml"), "flow_detail: 3\nmap_remot: [x]\n");
    await waitFor(
      () => /config\.yaml:2: unknown option 'map_remot' \(did you mean map_remote\?\); the options stay/.test(seen()),
      "the unknown key",
    );
    assert.equal(host.options.get("ignoreHosts"), ["x"], "nothing of that change applied");

    writeFileSync(join(confdir, "config.yaml"), "flow_detail: [3\n");
    await waitFor(
      () => /config\.yaml:\d+: YAML syntax error: .*; the options stay as they were/.test(seen()),
      "the syntax error",
    );
    writeFileSync(join(confdir, "config.yaml"), "");
    await waitFor(() => /config\.yaml: applied ignore_hosts$/m.test(seen()), "the empty file");
    assert.equal(host.options.get("ignoreHosts"), []);
    await files.close();
    await host.stop();
  } finally {
    removeDir(dir);
  }
});

test("cycle: at start-up an unknown key, a bad value or a refused one is a ConfigError naming file:line", async () => {
  const dir = tempDir("interloper-config-");
  try {
    const cases: Array<[string, RegExp]> = [
      [
        "flow_detail: 2\n\nmap_remot: [a]\n",
        /config\.yaml:3: unknown option 'map_remot' \(did you mean map_remote\?\)$/,
      ],
      ["listen_port: high\n", /config\.yaml:1: invalid value for listen_port: "high" \(expected a number\)$/],
      ["ssl_insecure: true\nflow_detail: -4\n", /config\.yaml:2: invalid value for flow_detail: negative$/],
      ["connection_strategy: sometimes\n", /config\.yaml:1: invalid value for connection_strategy: 'sometimes'/],
      ["a: [\n", /config\.yaml:\d+: YAML syntax error/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(join(dir, "config.yaml"), text);
      const { host } = await hostWithLog();
      let error: unknown;
      try {
        await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run: noModules, cwd: dir });
      } catch (err) {
        error = err;
      }
      assert.instance(error, OptionError, text);
      assert.match((error as Error).message, re, text);
    }
    const { host } = await hostWithLog();
    writeFileSync(join(dir, "config.yaml"), "flow_detail: -4\n");
    await applyConfigFiles(host, { confdir: dir, flowDetail: 0 }, { projectFile: undefined, run: noModules, cwd: dir });
    assert.is(host.options.get("flowDetail"), 0, "a file value the command line overrides is not applied");
    const missing = await applyConfigFiles(host, {}, { projectFile: "nope.ts", run: noModules, cwd: dir }).catch(
      (e: Error) => e,
    );
    assert.match((missing as Error).message, /^--config: no such file 'nope\.ts'$/);
  } finally {
    removeDir(dir);
  }
});

test("cycle: a TypeScript project file is built by the script loader's bundler; its local imports are watched", async () => {
  const dir = tempDir("interloper-config-");
  try {
    writeFileSync(join(dir, "detail.ts"), "export const detail: number = 3;\n");
    writeFileSync(
      join(dir, "interloper.config.ts"),
      'import { defineConfig } from "@interloper/sdk";\nimport { detail } from "./detail.ts";\nexport default defineConfig({ options: { flow_detail: detail } });\n',
    );
    const { host, logs } = await hostWithLog();
    const run = async (file: string) => {
      const bundle = await bundleScript(file);
      return { exports: evaluateBundle(bundle.code, file, { "@interloper/sdk": sdk }), inputs: bundle.inputs };
    };
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir });
    assert.is(host.options.get("flowDetail"), 3);
    await files.watch();
    writeFileSync(join(dir, "detail.ts"), "export const detail: number = 4;\n");
    await waitFor(
      () => logs.some((e) => /interloper\.config\.ts: applied flow_detail$/.test(e.message)),
      "the import's change",
    );
    assert.is(host.options.get("flowDetail"), 4);
    await files.close();
    await host.stop();
  } finally {
    removeDir(dir);
  }
});

test("live: files saved after they were read but before the watch was ready are applied once it is", async () => {
  // The CLI starts the watch after the proxy listens; on a busy machine a save can land first.
  const dir = tempDir("interloper-config-");
  let closing: { close(): Promise<void> } | undefined;
  try {
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 2\n");
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { ssl_insecure: false } };\n");
    const { host, logs } = await hostWithLog();
    const run = (file: string) =>
      Promise.resolve({ exports: evaluateBundle(readFileSync(file, "utf8"), file, {}), inputs: [file] });
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir });
    closing = files;
    assert.is(host.options.get("flowDetail"), 2);
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 3\n");
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { ssl_insecure: true } };\n");
    await files.watch();
    await waitFor(() => host.options.get("flowDetail") === 3, "config.yaml's change");
    await waitFor(() => host.options.get("sslInsecure") === true, "the project file's change");
    assert.ok(logs.some((e) => /config\.yaml: applied flow_detail$/.test(e.message)));
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test("live: a project file saved while start-up loads it is read again once the watch is ready", async () => {
  const dir = tempDir("interloper-config-");
  let closing: { close(): Promise<void> } | undefined;
  try {
    const file = join(dir, "interloper.config.js");
    writeFileSync(file, "module.exports = { options: { ssl_insecure: false } };\n");
    const { host } = await hostWithLog();
    let loads = 0;
    const run = (path: string) => {
      const exports = evaluateBundle(readFileSync(path, "utf8"), path, {});
      // The first load's save lands after the file was read, as a save during a slow build would.
      if (loads++ === 0) writeFileSync(file, "module.exports = { options: { ssl_insecure: true } };\n");
      return Promise.resolve({ exports, inputs: [path] });
    };
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir });
    closing = files;
    assert.is(host.options.get("sslInsecure"), false, "start-up read the file as it was");
    await files.watch();
    await waitFor(() => host.options.get("sslInsecure") === true, "the save made during the load");
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test("project file: one that appears in the working directory while the proxy runs is never run", async () => {
  const dir = tempDir("interloper-config-");
  let closing: { close(): Promise<void> } | undefined;
  try {
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 2\n");
    const { host } = await hostWithLog();
    const ran: string[] = [];
    const run = (file: string) => {
      ran.push(file);
      return Promise.resolve({ exports: evaluateBundle(readFileSync(file, "utf8"), file, {}), inputs: [file] });
    };
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir });
    closing = files;
    await files.watch();
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { ssl_insecure: true } };\n");
    // Changes of config.yaml after it, over more than chokidar's one-second rescan of a folder:
    // once they are applied, a watcher that saw the new project file has acted on it.
    const began = Date.now();
    for (let detail = 3; detail < 6 || Date.now() - began < 1500; detail++) {
      writeFileSync(join(dir, "config.yaml"), `flow_detail: ${detail}\n`);
      await waitFor(() => host.options.get("flowDetail") === detail, `flow_detail ${detail} from config.yaml`);
      await files.settled();
    }
    assert.equal(ran, [], "the new file was not built");
    assert.is(host.options.get("sslInsecure"), false);
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test("project file: the working directory's file is run only if it is the user's own in a folder only the user writes", async () => {
  const dir = tempDir("interloper-config-");
  const file = join(dir, "interloper.config.js");
  const run = (f: string) => Promise.resolve({ exports: evaluateBundle(readFileSync(f, "utf8"), f, {}), inputs: [f] });
  const start = async () => {
    const { host, logs } = await hostWithLog();
    const result = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir }).then(
      () => undefined,
      (e: Error) => e,
    );
    await host.stop();
    return { result, host, logs };
  };
  try {
    writeFileSync(file, "module.exports = { options: { flow_detail: 2 } };\n");
    const ok = await start();
    assert.is(ok.result, undefined);
    assert.ok(
      ok.logs.some((e) => e.level === "info" && /^loaded project config .*interloper\.config\.js$/.test(e.message)),
    );
    assert.is(ok.host.options.get("flowDetail"), 2);

    chmodSync(file, 0o666);
    const writable = await start();
    assert.instance(writable.result, ConfigError);
    assert.match(
      writable.result!.message,
      /interloper\.config\.js: not loaded: other users can write to it \(give it with --config to run it anyway\)$/,
    );
    assert.is(writable.host.options.get("flowDetail"), 1, "not run");
    chmodSync(file, 0o644);

    chmodSync(dir, 0o777);
    assert.match((await start()).result!.message, /not loaded: other users can write to its folder/);
    chmodSync(dir, 0o1777);
    assert.match((await start()).result!.message, /not loaded: other users can write to its folder/, "/tmp's mode too");
    chmodSync(dir, 0o700);

    if (process.getuid?.() === 0) {
      chownSync(file, 4321, 4321);
      assert.match((await start()).result!.message, /not loaded: it belongs to user id 4321, not to you/);
      chownSync(file, 0, 0);
      chownSync(dir, 4321, 4321);
      assert.match((await start()).result!.message, /not loaded: its folder belongs to user id 4321/);
      chownSync(dir, 0, 0);
    }

    const { host } = await hostWithLog();
    chmodSync(file, 0o666);
    await applyConfigFiles(host, { confdir: dir }, { projectFile: file, run, cwd: dir });
    assert.is(host.options.get("flowDetail"), 2, "--config names it: run");
    await host.stop();
  } finally {
    chmodSync(dir, 0o700);
    removeDir(dir);
  }
});

test("watching: only the config files, the project file and its imports; no other file in their folders", async () => {
  const dir = tempDir("interloper-config-");
  const confdir = join(dir, "conf");
  mkdirSync(confdir);
  let closing: { close(): Promise<void> } | undefined;
  try {
    writeFileSync(join(confdir, "config.yaml"), "flow_detail: 2\n");
    writeFileSync(join(confdir, "mitmproxy-ca.pem"), "not a CA\n");
    writeFileSync(join(dir, "detail.js"), "module.exports = 3;\n");
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { flow_detail: 3 } };\n");
    writeFileSync(join(dir, "flows.out"), "");
    mkdirSync(join(dir, "sub"));
    const { host, logs } = await hostWithLog();
    const run = (file: string) =>
      Promise.resolve({
        exports: evaluateBundle(readFileSync(file, "utf8"), file, {}),
        inputs: [file, join(dir, "detail.js")],
      });
    const files = await applyConfigFiles(host, { confdir }, { projectFile: undefined, run, cwd: dir });
    closing = files;
    await files.watch();
    const watched = files.watching();
    for (const other of ["flows.out", "sub", "conf/mitmproxy-ca.pem"]) {
      assert.not.ok(watched.includes(join(dir, other)), `${other} is not watched: ${watched.join(", ")}`);
    }
    for (const own of ["conf/config.yaml", "interloper.config.js", "detail.js"]) {
      assert.ok(watched.includes(join(dir, own)), `${own} is watched: ${watched.join(", ")}`);
    }
    // Still live: a change of either file applies; a config.yml that appears in the confdir too.
    writeFileSync(join(dir, "interloper.config.js"), "module.exports = { options: { ssl_insecure: true } };\n");
    await waitFor(() => host.options.get("sslInsecure") === true, "the project file's change");
    writeFileSync(join(confdir, "config.yml"), "ignore_hosts: [x]\n");
    await waitFor(() => host.options.get<string[]>("ignoreHosts").length === 1, "the new config.yml");
    assert.is(host.options.get("flowDetail"), 2);
    assert.ok(logs.length > 0);
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test("watching: a reload that throws is logged, and later changes still apply", async () => {
  const dir = tempDir("interloper-config-");
  let closing: { close(): Promise<void> } | undefined;
  try {
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 2\n");
    const { host, logs } = await hostWithLog();
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run: noModules, cwd: dir });
    closing = files;
    // A fault the reload does not expect (a bug, a failing log sink): the first reload throws.
    const inner = files as unknown as { reload(kind: string): Promise<void> };
    const reload = inner.reload.bind(files);
    let thrown = false;
    inner.reload = (kind) => {
      if (thrown) return reload(kind);
      thrown = true;
      return Promise.reject(new Error("unexpected fault"));
    };
    await files.watch();
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 3\n");
    await waitFor(
      () => logs.some((e) => e.level === "error" && /again failed: unexpected fault/.test(e.message)),
      "the fault logged",
    );
    writeFileSync(join(dir, "config.yaml"), "flow_detail: 4\n");
    await waitFor(() => host.options.get("flowDetail") === 4, "the next change applied");
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test("watching: a refused project change leaves the old file state, and the imports it brought are not watched", async () => {
  const dir = tempDir("interloper-config-");
  let closing: { close(): Promise<void> } | undefined;
  try {
    const project = join(dir, "interloper.config.js");
    writeFileSync(join(dir, "a.js"), "");
    writeFileSync(join(dir, "b.js"), "");
    writeFileSync(project, "// uses a.js\nmodule.exports = { options: { flow_detail: 2 } };\n");
    const { host, logs } = await hostWithLog();
    // Its "imports": a.js or b.js, as the file's first line says.
    const run = (file: string) => {
      const text = readFileSync(file, "utf8");
      const imported = join(dir, text.includes("b.js") ? "b.js" : "a.js");
      return Promise.resolve({ exports: evaluateBundle(text, file, {}), inputs: [file, imported] });
    };
    const files = await applyConfigFiles(host, { confdir: dir }, { projectFile: undefined, run, cwd: dir });
    closing = files;
    await files.watch();
    writeFileSync(project, "// uses b.js\nmodule.exports = { options: { flow_detail: -1 } };\n");
    await waitFor(
      () => logs.some((e) => /flow_detail: negative; the options stay as they were/.test(e.message)),
      "the refusal",
    );
    await files.settled();
    assert.not.ok(files.watching().includes(join(dir, "b.js")), "the refused version's import is not watched");
    assert.ok(files.watching().includes(join(dir, "a.js")));
    // The old state is what the next change is compared to: a.js still reloads the project file.
    writeFileSync(project, "// uses a.js\nmodule.exports = { options: { flow_detail: 3 } };\n");
    await waitFor(() => host.options.get("flowDetail") === 3, "the next change");
    await host.stop();
  } finally {
    await closing?.close();
    removeDir(dir);
  }
});

test.run();
