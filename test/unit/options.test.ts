// The typed option registry of sdk/src/options.ts: types, defaults, the
// all-or-nothing `update`, `--set` parsing and the read-only view addons get.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OptionError, Options, canonicalOptionName, snakeOptionName } from "../../sdk/src/options.ts";

/** A registry with one option of every type. */
function sample(): Options {
  const o = new Options();
  o.add({ name: "sslInsecure", type: "bool", default: false, help: "" });
  o.add({ name: "listenHost", type: "string", default: "", help: "" });
  o.add({ name: "streamLargeBodies", type: "optional-string", default: undefined, help: "" });
  o.add({ name: "listenPort", type: "number", default: 8080, help: "" });
  o.add({ name: "ignoreHosts", type: "strings", default: [], help: "" });
  o.add({ name: "connectionStrategy", type: "string", default: "eager", choices: ["eager", "lazy"], help: "" });
  return o;
}

/** Calls `fn` and returns what it threw (fails when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.unreachable("expected an exception");
  throw new Error("unreachable");
}

// ---------------------------------------------------------------- names

test("canonicalOptionName: snake_case, kebab-case and camelCase all name the camelCase option", () => {
  assert.is(canonicalOptionName("ignore_hosts"), "ignoreHosts");
  assert.is(canonicalOptionName("ignore-hosts"), "ignoreHosts");
  assert.is(canonicalOptionName("ignoreHosts"), "ignoreHosts");
  assert.is(canonicalOptionName("ssl_verify_upstream_trusted_ca"), "sslVerifyUpstreamTrustedCa");
  assert.is(canonicalOptionName("  listen_port "), "listenPort");
  assert.is(canonicalOptionName("mode"), "mode");
});

test("snakeOptionName: camelCase → snake_case, the spelling mitmproxy users know", () => {
  assert.is(snakeOptionName("ignoreHosts"), "ignore_hosts");
  assert.is(snakeOptionName("sslVerifyUpstreamTrustedCa"), "ssl_verify_upstream_trusted_ca");
  assert.is(snakeOptionName("mode"), "mode");
  // The two functions are inverse on canonical names.
  for (const n of ["flowDetail", "termlogVerbosity", "listenHost", "bodySizeLimit"]) {
    assert.is(canonicalOptionName(snakeOptionName(n)), n);
  }
});

// ---------------------------------------------------------------- add / defaults

test("add: every type gets its default; get accepts any spelling", () => {
  const o = sample();
  assert.is(o.get("sslInsecure"), false);
  assert.is(o.get("listen_host"), "");
  assert.is(o.get("stream-large-bodies"), undefined);
  assert.is(o.get("listen_port"), 8080);
  assert.equal(o.get("ignore_hosts"), []);
  assert.is(o.get("connectionStrategy"), "eager");
  assert.ok(o.has("ignore_hosts"));
  assert.ok(o.has("ignore-hosts"));
  assert.not.ok(o.has("nope"));
  assert.equal(o.names().sort(), [
    "connectionStrategy",
    "ignoreHosts",
    "listenHost",
    "listenPort",
    "sslInsecure",
    "streamLargeBodies",
  ]);
  assert.is(o.spec("listen_port")?.type, "number");
  assert.is(o.specsList().length, 6);
});

test("get of an unknown option is an OptionError naming it", () => {
  const err = thrown(() => sample().get("no_such"));
  assert.instance(err, OptionError);
  assert.match(err.message, "no_such");
});

test("add: the default list is copied, so changing it later does not change the value", () => {
  const o = new Options();
  const def = ["a"];
  o.add({ name: "hostsList", type: "strings", default: def, help: "" });
  def.push("b");
  assert.equal(o.get("hostsList"), ["a"]);
});

test("add: a bad default, a non-camelCase name or a type clash are refused", () => {
  const o = sample();
  assert.throws(() => o.add({ name: "badDefault", type: "number", default: "x", help: "" }), /bad_default/);
  assert.not.ok(o.has("badDefault"));
  assert.throws(() => o.add({ name: "snake_name", type: "bool", default: false, help: "" }), /camelCase/);
  assert.throws(() => o.add({ name: "Capital", type: "bool", default: false, help: "" }), /camelCase/);
  assert.throws(() => o.add({ name: "listenPort", type: "string", default: "", help: "" }), /already defined/);
  assert.throws(
    () => o.add({ name: "strategy", type: "string", default: "fast", choices: ["eager", "lazy"], help: "" }),
    /expected one of eager, lazy/,
  );
  assert.not.ok(o.has("strategy"));
});

test("add: the same option again (a reloaded addon) keeps the current value", () => {
  const o = sample();
  o.update({ listenPort: 9090 });
  o.add({ name: "listenPort", type: "number", default: 8080, help: "new help" });
  assert.is(o.get("listenPort"), 9090);
  assert.is(o.spec("listenPort")?.help, "new help");
});

test("remove drops the option", () => {
  const o = sample();
  o.remove("listenPort");
  assert.not.ok(o.has("listenPort"));
  assert.instance(
    thrown(() => o.get("listenPort")),
    OptionError,
  );
});

// ---------------------------------------------------------------- update

test("update: sets typed values by any spelling and returns the names that changed", () => {
  const o = sample();
  const changed = o.update({
    ssl_insecure: true,
    "listen-port": 8080,
    ignoreHosts: ["a", "b"],
    stream_large_bodies: "1m",
  });
  assert.equal([...changed].sort(), ["ignoreHosts", "sslInsecure", "streamLargeBodies"]);
  assert.is(o.get("sslInsecure"), true);
  assert.equal(o.get("ignoreHosts"), ["a", "b"]);
  assert.is(o.get("streamLargeBodies"), "1m");
  // Setting the same values again changes nothing.
  assert.is(o.update({ ignoreHosts: ["a", "b"], sslInsecure: true }).size, 0);
  // An optional string goes back to nothing.
  assert.equal([...o.update({ streamLargeBodies: undefined })], ["streamLargeBodies"]);
  assert.is(o.get("streamLargeBodies"), undefined);
});

test("update: a stored list is a copy of the one given", () => {
  const o = sample();
  const list = ["a"];
  o.update({ ignoreHosts: list });
  list.push("b");
  assert.equal(o.get("ignoreHosts"), ["a"]);
});

test("update: type checks per type, messages name the option in snake_case", () => {
  const o = sample();
  const cases: Array<[string, unknown, string]> = [
    ["sslInsecure", "true", "true or false"],
    ["sslInsecure", 1, "true or false"],
    ["listenHost", 5, "a string"],
    ["listenHost", undefined, "a string"],
    ["streamLargeBodies", 5, "a string or nothing"],
    ["listenPort", "8080", "a number"],
    ["listenPort", Number.NaN, "a number"],
    ["listenPort", Infinity, "a number"],
    ["ignoreHosts", "a", "a list of strings"],
    ["ignoreHosts", ["a", 1], "a list of strings"],
  ];
  for (const [name, value, expected] of cases) {
    const err = thrown(() => o.update({ [name]: value }));
    assert.instance(err, OptionError, `${name}=${String(value)}`);
    assert.ok(err.message.includes(snakeOptionName(name)), err.message);
    assert.ok(err.message.includes(`(expected ${expected})`), err.message);
  }
});

test("update: choices are enforced", () => {
  const o = sample();
  o.update({ connectionStrategy: "lazy" });
  assert.is(o.get("connectionStrategy"), "lazy");
  const err = thrown(() => o.update({ connection_strategy: "fast" }));
  assert.instance(err, OptionError);
  assert.is(err.message, "invalid value for connection_strategy: 'fast' (expected one of eager, lazy)");
  assert.is(o.get("connectionStrategy"), "lazy");
});

test("update: all or nothing — one bad value leaves every option unchanged", () => {
  const o = sample();
  const before = o.snapshot();
  assert.instance(
    thrown(() => o.update({ sslInsecure: true, listenHost: "127.0.0.1", listenPort: "nope", ignoreHosts: ["x"] })),
    OptionError,
  );
  assert.is(o.get("sslInsecure"), false);
  assert.is(o.get("listenHost"), "");
  assert.is(o.get("listenPort"), 8080);
  assert.equal(o.get("ignoreHosts"), []);
  assert.equal(o.snapshot(), before);
  // An unknown name anywhere also leaves everything alone.
  const err = thrown(() => o.update({ sslInsecure: true, noSuchOption: 1 }));
  assert.instance(err, OptionError);
  assert.match(err.message, "noSuchOption");
  assert.is(o.get("sslInsecure"), false);
});

test("snapshot / restore put chosen values back", () => {
  const o = sample();
  const snap = o.snapshot();
  o.update({ listenPort: 1, ignoreHosts: ["a"], listenHost: "h" });
  o.restore(snap, ["listenPort", "ignoreHosts"]);
  assert.is(o.get("listenPort"), 8080);
  assert.equal(o.get("ignoreHosts"), []);
  assert.is(o.get("listenHost"), "h");
});

// ---------------------------------------------------------------- --set parsing

test("parseSetArgs: snake_case, kebab-case and camelCase names", () => {
  const o = sample();
  assert.equal(o.parseSetArgs(["listen_host=127.0.0.1"]), { listenHost: "127.0.0.1" });
  assert.equal(o.parseSetArgs(["listen-host=::1"]), { listenHost: "::1" });
  assert.equal(o.parseSetArgs(["listenHost=localhost"]), { listenHost: "localhost" });
});

test("parseSetArgs: the value is everything after the first '='", () => {
  const o = sample();
  assert.equal(o.parseSetArgs(["ignore_hosts=^a=b$"]), { ignoreHosts: ["^a=b$"] });
  assert.equal(o.parseSetArgs(["listen_host="]), { listenHost: "" });
});

test("parseSetArgs: a list option takes each repetition as one more item, across spellings", () => {
  const o = sample();
  const changes = o.parseSetArgs(["ignore_hosts=a", "listen_port=1", "ignore-hosts=b", "ignoreHosts=c"]);
  assert.equal(changes, { ignoreHosts: ["a", "b", "c"], listenPort: 1 });
  // An empty item is no item: `--set ignore_hosts=` clears the list.
  assert.equal(o.parseSetArgs(["ignore_hosts="]), { ignoreHosts: [] });
});

test("parseSetArgs: the last repetition of a single-valued option wins", () => {
  const o = sample();
  assert.equal(o.parseSetArgs(["listen_port=1", "listen_port=2"]), { listenPort: 2 });
});

test("parseSetArgs: bools take true|false (and the usual spellings)", () => {
  const o = sample();
  for (const v of ["true", "TRUE", "True", "1", "yes", "on", ""]) {
    assert.equal(o.parseSetArgs([`ssl_insecure=${v}`]), { sslInsecure: true }, v);
  }
  for (const v of ["false", "False", "0", "no", "off"]) {
    assert.equal(o.parseSetArgs([`ssl_insecure=${v}`]), { sslInsecure: false }, v);
  }
});

test("parseSetArgs: a bad bool is an OptionError naming the option in snake_case", () => {
  const err = thrown(() => sample().parseSetArgs(["sslInsecure=maybe"]));
  assert.instance(err, OptionError);
  assert.is(err.message, "invalid value for ssl_insecure: 'maybe' (expected true or false)");
});

test("parseSetArgs: numbers; a bad number is an OptionError naming the option in snake_case", () => {
  const o = sample();
  assert.equal(o.parseSetArgs(["listen-port=8081"]), { listenPort: 8081 });
  for (const bad of ["abc", "", " ", "12x", "Infinity"]) {
    const err = thrown(() => o.parseSetArgs([`listenPort=${bad}`]));
    assert.instance(err, OptionError, bad);
    assert.is(err.message, `invalid value for listen_port: '${bad}' (expected a number)`);
  }
});

test("parseSetArgs: optional strings — empty means nothing", () => {
  const o = sample();
  assert.equal(o.parseSetArgs(["stream_large_bodies=1m"]), { streamLargeBodies: "1m" });
  const c = o.parseSetArgs(["stream_large_bodies="]);
  assert.ok("streamLargeBodies" in c);
  assert.is(c.streamLargeBodies, undefined);
});

test("parseSetArgs: an argument without name= is refused", () => {
  const o = sample();
  for (const bad of ["novalue", "=x", ""]) {
    const err = thrown(() => o.parseSetArgs([bad]));
    assert.instance(err, OptionError, bad);
    assert.match(err.message, "expected name=value");
  }
});

test("parseSetArgs does not change values by itself; update applies the result", () => {
  const o = sample();
  const changes = o.parseSetArgs(["listen_port=1234", "ignore_hosts=x"]);
  assert.is(o.get("listenPort"), 8080);
  o.update(changes);
  assert.is(o.get("listenPort"), 1234);
  assert.equal(o.get("ignoreHosts"), ["x"]);
});

test("parseSetArgs: parsed choices still go through update's check", () => {
  const o = sample();
  const changes = o.parseSetArgs(["connection_strategy=fast"]);
  assert.throws(() => o.update(changes), /expected one of eager, lazy/);
});

// ---------------------------------------------------------------- deferred names

test("unknown names are deferred until an option of that name exists, then takeDeferred parses them", () => {
  const o = sample();
  const changes = o.parseSetArgs(["listen_port=1", "block_list=a", "blockList=b", "addon_flag=false"]);
  assert.equal(changes, { listenPort: 1 });
  assert.equal(o.unknownDeferred().sort(), ["addonFlag", "blockList"]);
  // Nothing is taken while the options do not exist.
  assert.equal(o.takeDeferred(), {});
  o.add({ name: "blockList", type: "strings", default: [], help: "" });
  assert.equal(o.takeDeferred(), { blockList: ["a", "b"] });
  assert.equal(o.unknownDeferred(), ["addonFlag"]);
  // Taken once only.
  assert.equal(o.takeDeferred(), {});
  o.add({ name: "addonFlag", type: "bool", default: true, help: "" });
  assert.equal(o.takeDeferred(), { addonFlag: false });
  assert.equal(o.unknownDeferred(), []);
});

test("deferred values from several --set calls add up", () => {
  const o = new Options();
  o.parseSetArgs(["later_list=a"]);
  o.parseSetArgs(["later_list=b"]);
  o.add({ name: "laterList", type: "strings", default: [], help: "" });
  assert.equal(o.takeDeferred(), { laterList: ["a", "b"] });
});

test("a deferred value that does not parse is an OptionError when taken", () => {
  const o = new Options();
  o.parseSetArgs(["later_port=abc"]);
  o.add({ name: "laterPort", type: "number", default: 0, help: "" });
  const err = thrown(() => o.takeDeferred());
  assert.instance(err, OptionError);
  assert.is(err.message, "invalid value for later_port: 'abc' (expected a number)");
});

// ---------------------------------------------------------------- the view

test("view: reads live values by property, get() and has(), and enumerates the options", () => {
  const o = sample();
  const v = o.view;
  assert.is(v.listenPort, 8080);
  assert.is(v.get("listen_port"), 8080);
  assert.ok(v.has("ignore_hosts"));
  assert.not.ok(v.has("nope"));
  assert.ok("listenPort" in v);
  assert.not.ok("nope" in v);
  o.update({ listenPort: 1 });
  assert.is(v.listenPort, 1, "the view is live");
  assert.equal(Object.keys(v).sort(), o.names().sort());
  assert.is(v.nope, undefined);
});

test("view: read-only — assignment throws and changes nothing", () => {
  const o = sample();
  const v = o.view as Record<string, unknown>;
  assert.throws(() => {
    v.listenPort = 1;
  }, /read-only/);
  assert.is(o.get("listenPort"), 8080);
});

test("snapshot is a copy: changing a list in it does not change the option", () => {
  const o = sample();
  o.update({ ignoreHosts: ["a"] });
  const snap = o.snapshot();
  (snap.get("ignoreHosts") as string[]).push("zzz");
  assert.equal(o.get("ignoreHosts"), ["a"]);
});

test("view: a list read through it cannot change the option (read-only all the way down)", () => {
  const o = sample();
  o.update({ ignoreHosts: ["a"] });
  const list = o.view.ignoreHosts as string[];
  try {
    list.push("sneaked-in");
  } catch {
    // A frozen list is as good as a copy.
  }
  assert.equal(
    o.get("ignoreHosts"),
    ["a"],
    "changing the list the view returned changed the option behind configure's back",
  );
});

test.run();
