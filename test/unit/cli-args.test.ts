// The command line (core/cli-args.ts) and `--mode` specs (core/modes.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseCli, UsageError, type CliRequest } from "../../core/cli/args.ts";
import { parseModes } from "../../core/engine/modes.ts";
import { OptionError } from "../../sdk/src/options.ts";

const VERSION = "1.2.3-test";
const parse = (...argv: string[]): Promise<CliRequest> => parseCli(argv, VERSION);

async function usageError(...argv: string[]): Promise<UsageError> {
  try {
    const r = await parse(...argv);
    assert.unreachable(`expected a UsageError for ${JSON.stringify(argv)}, got ${JSON.stringify(r)}`);
  } catch (err) {
    if (err instanceof assert.Assertion) throw err;
    assert.instance(err, UsageError, `${JSON.stringify(argv)}: ${String(err)}`);
    const message = (err as Error).message;
    assert.ok(message.length > 0, "a message");
    assert.not.ok(message.includes("\n"), `one line: ${JSON.stringify(message)}`);
    return err as UsageError;
  }
  throw new Error("unreachable");
}

// ================================================================ flags → option changes

test("no arguments: no changes, no --set, no exit text", async () => {
  assert.equal(await parse(), { changes: {}, sets: [] });
});

test("--mode / -m is repeatable and keeps its order", async () => {
  assert.equal((await parse("--mode", "regular")).changes, { mode: ["regular"] });
  assert.equal((await parse("--mode", "regular@8081", "-m", "regular@[::1]:8082")).changes, {
    mode: ["regular@8081", "regular@[::1]:8082"],
  });
  assert.equal((await parse("--mode=regular@127.0.0.1:9000")).changes, { mode: ["regular@127.0.0.1:9000"] });
});

test("-p / --listen-port and --listen-host", async () => {
  assert.equal((await parse("-p", "8081")).changes, { listenPort: 8081 });
  assert.equal((await parse("--listen-port", "0")).changes, { listenPort: 0 });
  assert.equal((await parse("--listen-port=65535")).changes, { listenPort: 65535 });
  assert.equal((await parse("--listen-host", "127.0.0.1", "-p", "9090")).changes, {
    listenHost: "127.0.0.1",
    listenPort: 9090,
  });
  assert.equal((await parse("--listen-host", "::1")).changes, { listenHost: "::1" });
  // Given twice, the last one counts.
  assert.equal((await parse("-p", "1000", "-p", "2000")).changes, { listenPort: 2000 });
});

test("--set is repeatable; the strings are passed on as given, after the flags", async () => {
  const r = await parse("--set", "ignore_hosts=a", "--set", "ignoreHosts=b", "--set", "connection_strategy=lazy", "-k");
  assert.equal(r.sets, ["ignore_hosts=a", "ignoreHosts=b", "connection_strategy=lazy"]);
  assert.equal(r.changes, { sslInsecure: true });
  assert.equal((await parse("--set=flow_detail=3")).sets, ["flow_detail=3"]);
});

test("-k / --ssl-insecure", async () => {
  assert.equal((await parse("-k")).changes, { sslInsecure: true });
  assert.equal((await parse("--ssl-insecure")).changes, { sslInsecure: true });
});

test("-q: errors only and no flow lines; -v: debug", async () => {
  assert.equal((await parse("-q")).changes, { termlogVerbosity: "error", flowDetail: 0 });
  assert.equal((await parse("--quiet")).changes, { termlogVerbosity: "error", flowDetail: 0 });
  assert.equal((await parse("-v")).changes, { termlogVerbosity: "debug" });
  assert.equal((await parse("--verbose")).changes, { termlogVerbosity: "debug" });
  // An explicit --flow-detail wins over -q's 0.
  assert.equal((await parse("-q", "--flow-detail", "2")).changes, { termlogVerbosity: "error", flowDetail: 2 });
});

test("--flow-detail 0..4", async () => {
  for (const d of [0, 1, 2, 3, 4]) assert.equal((await parse("--flow-detail", String(d))).changes, { flowDetail: d });
});

test("host-ignoring flags: --ignore-hosts / --allow-hosts / --tcp-hosts / --ignore-domain / --allow-domain", async () => {
  assert.equal((await parse("--ignore-hosts", "^example\\.com:443$", "--ignore-hosts", "apple")).changes, {
    ignoreHosts: ["^example\\.com:443$", "apple"],
  });
  assert.equal((await parse("--allow-hosts", "^api\\.")).changes, { allowHosts: ["^api\\."] });
  assert.equal((await parse("--allow-hosts", "a", "--allow-hosts", "b")).changes, { allowHosts: ["a", "b"] });
  assert.equal((await parse("--tcp-hosts", "^db\\.")).changes, { tcpHosts: ["^db\\."] });
  assert.equal((await parse("--ignore-domain", "example.com", "--ignore-domain", "apple.com")).changes, {
    ignoreDomains: ["example.com", "apple.com"],
  });
  assert.equal((await parse("--allow-domain", "example.org")).changes, { allowDomains: ["example.org"] });
});

test("--confdir", async () => {
  assert.equal((await parse("--confdir", "/tmp/interloper-conf")).changes, { confdir: "/tmp/interloper-conf" });
});

test("many flags together", async () => {
  const r = await parse(
    "--mode",
    "regular@8081",
    "-p",
    "8090",
    "--listen-host",
    "127.0.0.1",
    "-k",
    "-v",
    "--ignore-hosts",
    "x",
    "--set",
    "a=b",
  );
  assert.equal(r.changes, {
    mode: ["regular@8081"],
    listenPort: 8090,
    listenHost: "127.0.0.1",
    sslInsecure: true,
    termlogVerbosity: "debug",
    ignoreHosts: ["x"],
  });
  assert.equal(r.sets, ["a=b"]);
  assert.is(r.exitText, undefined);
});

// ================================================================ errors

test("an unknown flag is a one-line UsageError naming it", async () => {
  assert.match((await usageError("--bogus")).message, "bogus");
  assert.match((await usageError("-x")).message, "x");
  // mitmproxy spells its options with dashes; the snake_case form is only for --set.
  assert.match((await usageError("--ignore_hosts", "a")).message, "ignore_hosts");
});

test("positional words are mitmdump's filter: joined, for the view and the saved flows", async () => {
  const r = await parseCli(["-p", "9000", "~d", "example.com", "&", "!~a"], "1.0.0");
  assert.is(r.changes.viewFilter, "~d example.com & !~a");
  assert.is(r.changes.saveStreamFilter, "~d example.com & !~a");
  assert.is(r.changes.listenPort, 9000);
});

test("repeatable flags take one value each (a filter after them stays the filter)", async () => {
  const r = await parseCli(["--set", "a=1", "~m POST", "--set", "b=2", "--ignore-hosts", "x", "~q"], "1.0.0");
  assert.equal(r.sets, ["a=1", "b=2"]);
  assert.equal(r.changes.ignoreHosts, ["x"]);
  assert.is(r.changes.viewFilter, "~m POST ~q");
});

test("flow-file flags: -w, -r, -n, -S and -C (repeatable) as mitmproxy's options", async () => {
  const r = await parseCli(
    ["-w", "+out.flow", "-r", "in.flow", "-n", "-S", "a.flow", "-S", "b.har", "-C", "c.flow"],
    "1.0.0",
  );
  assert.equal(r.changes, {
    saveStreamFile: "+out.flow",
    rfile: "in.flow",
    server: false,
    serverReplay: ["a.flow", "b.har"],
    clientReplay: ["c.flow"],
  });
});

test("a bad port is a one-line UsageError naming the flag and what was typed", async () => {
  for (const bad of ["70000", "-1", "8080.5", "65536"]) {
    const err = await usageError("-p", bad);
    assert.match(err.message, "--listen-port");
    assert.match(err.message, `'${bad}'`);
  }
  const err = await usageError("--listen-port", "abc");
  assert.match(err.message, "'abc'", `shows what the user typed: ${err.message}`);
});

test("an empty port is not port 0", async () => {
  await usageError("-p", "");
});

test("a flag that needs a value, given none, is a UsageError (not silently ignored)", async () => {
  const accepted: string[] = [];
  for (const flag of [
    "-p",
    "--listen-port",
    "--flow-detail",
    "--listen-host",
    "--confdir",
    "--mode",
    "--set",
    "--ignore-hosts",
  ]) {
    try {
      const r = await parse(flag);
      accepted.push(`${flag} → ${JSON.stringify(r)}`);
    } catch (err) {
      assert.instance(err, UsageError, flag);
    }
  }
  assert.equal(accepted, [], `accepted without a value:\n${accepted.join("\n")}`);
});

test("-q together with -v is a UsageError", async () => {
  const err = await usageError("-q", "-v");
  assert.match(err.message, "quiet");
  assert.match(err.message, "verbose");
  await usageError("--verbose", "--quiet");
});

test("a bad --flow-detail is a UsageError naming it", async () => {
  for (const bad of ["5", "-1", "1.5"]) {
    const err = await usageError("--flow-detail", bad);
    assert.match(err.message, "--flow-detail");
    assert.match(err.message, `'${bad}'`);
  }
  const err = await usageError("--flow-detail", "lots");
  assert.match(err.message, "'lots'", `shows what the user typed: ${err.message}`);
});

// ================================================================ --help / --version

test("--help / -h give the usage text as exitText, listing mitmproxy's flags", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await parse(flag);
    assert.type(r.exitText, "string");
    assert.equal(r.changes, {});
    assert.equal(r.sets, []);
    const text = r.exitText!;
    assert.match(text, "Usage: interloper");
    for (const f of [
      "--mode",
      "--listen-host",
      "--listen-port",
      "--set",
      "--ignore-hosts",
      "--allow-hosts",
      "--ssl-insecure",
      "--quiet",
      "--verbose",
      "--flow-detail",
    ]) {
      assert.ok(text.includes(f), `help mentions ${f}`);
    }
  }
});

test("--version / -V give the version as exitText", async () => {
  assert.equal(await parse("--version"), { changes: {}, sets: [], exitText: VERSION });
  assert.is((await parse("-V")).exitText, VERSION);
});

// ================================================================ parseModes

test("parseModes: no spec means one regular listener on listen_host / listen_port", () => {
  assert.equal(parseModes([], "", 8080), [{ name: "regular", spec: "regular", listenHost: "", listenPort: 8080 }]);
});

test("parseModes: regular, regular@port, regular@host:port, regular@[v6]:port", () => {
  assert.equal(parseModes(["regular"], "127.0.0.1", 9000), [
    { name: "regular", spec: "regular", listenHost: "127.0.0.1", listenPort: 9000 },
  ]);
  assert.equal(parseModes(["regular@8081"], "127.0.0.1", 8080), [
    { name: "regular", spec: "regular@8081", listenHost: "127.0.0.1", listenPort: 8081 },
  ]);
  assert.equal(parseModes(["regular@127.0.0.1:8081"], "", 8080), [
    { name: "regular", spec: "regular@127.0.0.1:8081", listenHost: "127.0.0.1", listenPort: 8081 },
  ]);
  assert.equal(parseModes(["regular@[::1]:8081"], "", 8080), [
    { name: "regular", spec: "regular@[::1]:8081", listenHost: "::1", listenPort: 8081 },
  ]);
  assert.equal(parseModes(["regular@localhost:0"], "", 8080), [
    { name: "regular", spec: "regular@localhost:0", listenHost: "localhost", listenPort: 0 },
  ]);
});

test("parseModes: the other modes of mitmproxy's syntax (socks5 on 1080, reverse:URL, upstream:URL)", () => {
  const [socks] = parseModes(["socks5"], "", 8080);
  assert.is(socks!.name, "socks5");
  assert.is(socks!.listenPort, 1080, "socks5 listens on 1080 unless told otherwise");
  const [rev] = parseModes(["reverse:https://example.com@8443"], "", 8080);
  assert.is(rev!.name, "reverse");
  assert.is(rev!.listenPort, 8443);
  assert.equal(rev!.target, { scheme: "https", host: "example.com", port: 443 });
  const [up] = parseModes(["upstream:http://proxy.local:3128"], "", 8080);
  assert.equal(up!.target, { scheme: "http", host: "proxy.local", port: 3128 });
  assert.is(up!.listenPort, 8080);
  assert.match(optionError(() => parseModes(["reverse"], "", 8080)).message, "invalid --mode 'reverse'");
  assert.match(optionError(() => parseModes(["regular:data"], "", 8080)).message, "invalid --mode 'regular:data'");
});

test("parseModes: several listeners keep their order", () => {
  const m = parseModes(["regular@8081", "regular@127.0.0.1:8082", "regular"], "", 8080);
  assert.equal(
    m.map((x) => `${x.listenHost}|${x.listenPort}`),
    ["|8081", "127.0.0.1|8082", "|8080"],
  );
});

function optionError(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, OptionError, String(err));
    return err as OptionError;
  }
  assert.unreachable("expected an OptionError");
  throw new Error("unreachable");
}

test("parseModes: an unknown mode is an OptionError naming the spec and the mode", () => {
  const err = optionError(() => parseModes(["regular", "sock5@1080"], "", 8080));
  assert.ok(err.message.startsWith("invalid --mode 'sock5@1080': unknown mode 'sock5'"), err.message);
  assert.match(err.message, "regular", "the known modes are listed");
  assert.match(optionError(() => parseModes([""], "", 8080)).message, "unknown mode");
});

test("parseModes: a bad port or address is an OptionError naming the spec", () => {
  for (const spec of [
    "regular@99999",
    "regular@65536",
    "regular@abc",
    "regular@",
    "regular@host:",
    "regular@::1:8080",
    "regular@[::1]",
    "regular@1234567",
  ]) {
    const err = optionError(() => parseModes([spec], "", 8080));
    assert.ok(err.message.startsWith(`invalid --mode '${spec}'`), err.message);
  }
  assert.match(optionError(() => parseModes(["regular@70000"], "", 8080)).message, "out of range");
  // listen_port itself is checked too.
  assert.match(optionError(() => parseModes([], "", 70000)).message, "listen_port");
});

test("parseModes: two modes on the same address is an OptionError naming the second spec", () => {
  const err = optionError(() => parseModes(["regular", "regular"], "", 8080));
  assert.is(err.message, "invalid --mode 'regular': *:8080 is already used by another mode");
  const err2 = optionError(() => parseModes(["regular@127.0.0.1:8081", "regular@8081"], "127.0.0.1", 8080));
  assert.is(err2.message, "invalid --mode 'regular@8081': 127.0.0.1:8081 is already used by another mode");
  const err3 = optionError(() => parseModes(["regular@[::1]:9000", "regular@[::1]:9000"], "", 8080));
  assert.match(err3.message, "'regular@[::1]:9000'");
  // Port 0 (any free port) twice is fine; so are different hosts or ports.
  assert.is(parseModes(["regular@0", "regular@0"], "", 8080).length, 2);
  assert.is(parseModes(["regular@127.0.0.1:8081", "regular@[::1]:8081", "regular@8082"], "", 8080).length, 3);
});

test.run();
