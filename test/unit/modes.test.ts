// `--mode` specs (core/modes.ts) beyond what test/unit/cli-args.test.ts covers:
// reverse and upstream URLs, socks5's default port, and '@' inside URLs.
import { OptionError } from "@interloper/sdk";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseModes, type ModeSpec } from "../../core/engine/modes.ts";

function one(spec: string, listenHost = "", listenPort = 8080): ModeSpec {
  const all = parseModes([spec], listenHost, listenPort);
  assert.is(all.length, 1);
  return all[0]!;
}

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

function bad(spec: string, why: RegExp | string): void {
  const err = optionError(() => parseModes([spec], "", 8080));
  assert.ok(err.message.startsWith(`invalid --mode '${spec}': `), err.message);
  assert.match(err.message, why);
  assert.not.match(err.message, "\n", "one line");
}

// ---------------------------------------------------------------- reverse

test("reverse: scheme, host and port from the URL; default ports 80 / 443", () => {
  assert.equal(one("reverse:http://localhost:5000"), {
    name: "reverse",
    spec: "reverse:http://localhost:5000",
    listenHost: "",
    listenPort: 8080,
    target: { scheme: "http", host: "localhost", port: 5000 },
  });
  assert.equal(one("reverse:https://example.com").target, { scheme: "https", host: "example.com", port: 443 });
  assert.equal(one("reverse:http://example.com").target, { scheme: "http", host: "example.com", port: 80 });
  assert.equal(one("reverse:https://example.com:8443").target, { scheme: "https", host: "example.com", port: 8443 });
  assert.equal(one("reverse:HTTPS://Example.com").target!.scheme, "https");
  // A trailing slash is not a path.
  assert.equal(one("reverse:https://example.com/").target, { scheme: "https", host: "example.com", port: 443 });
});

test("reverse: without a scheme the target is https (mitmproxy's default for reverse)", () => {
  assert.equal(one("reverse:example.com").target, { scheme: "https", host: "example.com", port: 443 });
  assert.equal(one("reverse:example.com:8443").target, { scheme: "https", host: "example.com", port: 8443 });
});

test("reverse: tcp:// and tls:// targets; tcp needs a port", () => {
  assert.equal(one("reverse:tcp://127.0.0.1:5432").target, { scheme: "tcp", host: "127.0.0.1", port: 5432 });
  assert.equal(one("reverse:tls://mail.example:993").target, { scheme: "tls", host: "mail.example", port: 993 });
  bad("reverse:tcp://127.0.0.1", /tcp needs a port/);
});

test("reverse: IPv6 targets lose their brackets", () => {
  assert.equal(one("reverse:http://[::1]:8000").target, { scheme: "http", host: "::1", port: 8000 });
  assert.equal(one("reverse:https://[2001:db8::1]").target, { scheme: "https", host: "2001:db8::1", port: 443 });
});

test("reverse: '@' after the URL is the listen address (port, host:port, [v6]:port)", () => {
  const a = one("reverse:http://localhost:5000@0");
  assert.equal(a.target, { scheme: "http", host: "localhost", port: 5000 });
  assert.is(a.listenPort, 0);
  assert.is(a.listenHost, "");
  const b = one("reverse:https://example.com@8443", "127.0.0.1");
  assert.equal(b.target, { scheme: "https", host: "example.com", port: 443 });
  assert.is(b.listenHost, "127.0.0.1");
  assert.is(b.listenPort, 8443);
  const c = one("reverse:https://example.com:443@127.0.0.1:8443");
  assert.equal([c.listenHost, c.listenPort], ["127.0.0.1", 8443]);
  assert.equal(c.target, { scheme: "https", host: "example.com", port: 443 });
  const d = one("reverse:http://[::1]:5000@[::1]:9000");
  assert.equal(d.target, { scheme: "http", host: "::1", port: 5000 });
  assert.equal([d.listenHost, d.listenPort], ["::1", 9000]);
  const e = one("reverse:http://[::1]@0");
  assert.equal(e.target, { scheme: "http", host: "::1", port: 80 });
  assert.is(e.listenPort, 0);
  // The spec is kept as written (it is the client's `mode`).
  assert.is(d.spec, "reverse:http://[::1]:5000@[::1]:9000");
});

test("reverse: a missing URL, an unsupported scheme, a path or no host are one-line errors naming the spec", () => {
  bad("reverse", /reverse mode needs a URL/);
  bad("reverse:", /reverse mode needs a URL/);
  bad("reverse@8080", /reverse mode needs a URL/);
  bad("reverse:ftp://x", /scheme 'ftp' is not supported/);
  bad("reverse:socks5://x:1080", /scheme 'socks5' is not supported/);
  bad("reverse:https://example.com/api", /must not have a path/);
  bad("reverse:http://", /not a URL|no host/);
  bad("reverse:http://exa mple.com", /not a URL/);
});

// ---------------------------------------------------------------- upstream

test("upstream: http and https proxies, default ports, listen address after '@'", () => {
  assert.equal(one("upstream:http://127.0.0.1:3128"), {
    name: "upstream",
    spec: "upstream:http://127.0.0.1:3128",
    listenHost: "",
    listenPort: 8080,
    target: { scheme: "http", host: "127.0.0.1", port: 3128 },
  });
  assert.equal(one("upstream:https://proxy.local:3129").target, { scheme: "https", host: "proxy.local", port: 3129 });
  assert.equal(one("upstream:http://proxy.local").target, { scheme: "http", host: "proxy.local", port: 80 });
  assert.equal(one("upstream:https://proxy.local").target, { scheme: "https", host: "proxy.local", port: 443 });
  const at = one("upstream:http://127.0.0.1:3128@0");
  assert.equal(at.target, { scheme: "http", host: "127.0.0.1", port: 3128 });
  assert.is(at.listenPort, 0);
  const v6 = one("upstream:http://[::1]:3128@[::1]:8081");
  assert.equal(v6.target, { scheme: "http", host: "::1", port: 3128 });
  assert.equal([v6.listenHost, v6.listenPort], ["::1", 8081]);
});

test("upstream: without a scheme the upstream proxy is spoken to in clear text (mitmproxy's default_scheme='http')", () => {
  // mitmproxy: UpstreamMode parses its data with server_spec.parse(data, default_scheme="http").
  assert.equal(one("upstream:proxy.local:3128").target, { scheme: "http", host: "proxy.local", port: 3128 });
  assert.equal(one("upstream:127.0.0.1:3128@0").target, { scheme: "http", host: "127.0.0.1", port: 3128 });
});

test("upstream: only http and https proxies; a URL is required", () => {
  bad("upstream", /upstream mode needs a URL/);
  bad("upstream:", /upstream mode needs a URL/);
  bad("upstream:socks5://127.0.0.1:1080", /scheme 'socks5' is not supported here \(use http, https\)/);
  bad("upstream:tcp://127.0.0.1:1", /scheme 'tcp' is not supported/);
  bad("upstream:http://proxy.local:3128/path", /must not have a path/);
});

test("'@' that is not followed by a port belongs to the URL, not to the listen address", () => {
  // `user@proxy`: '@' followed by a host name — not MODE@LISTEN.
  const r = parseModes(["upstream:http://user@proxy.local"], "", 8080)[0]!;
  assert.is(r.listenPort, 8080, "the listen port stays the default");
  assert.is(r.listenHost, "");
  assert.is(r.target!.host, "proxy.local");
  assert.is(r.target!.scheme, "http");
});

// ---------------------------------------------------------------- socks5 and the rest

test("socks5: listens on 1080 by default, on listen_port once that was changed, or where '@' says", () => {
  assert.equal(one("socks5"), { name: "socks5", spec: "socks5", listenHost: "", listenPort: 1080 });
  assert.is(one("socks5", "127.0.0.1").listenPort, 1080);
  assert.is(one("socks5", "127.0.0.1").listenHost, "127.0.0.1");
  assert.is(parseModes(["socks5"], "", 9000, true)[0]!.listenPort, 9000, "an explicit listen_port wins over 1080");
  assert.is(parseModes(["socks5"], "", 0, true)[0]!.listenPort, 0, "-p 0 (any free port) too");
  assert.is(parseModes(["socks5"], "", 8080, true)[0]!.listenPort, 8080, "an explicit -p 8080 too");
  assert.is(one("socks5@0").listenPort, 0);
  assert.equal([one("socks5@127.0.0.1:1081").listenHost, one("socks5@127.0.0.1:1081").listenPort], ["127.0.0.1", 1081]);
  assert.is(one("socks5@[::1]:1081").listenHost, "::1");
  // Only socks5 moves to 1080; the others stay on listen_port.
  const all = parseModes(["socks5", "regular", "reverse:http://a:1@9001"], "", 8080);
  assert.equal(
    all.map((m) => [m.name, m.listenPort]),
    [
      ["socks5", 1080],
      ["regular", 8080],
      ["reverse", 9001],
    ],
  );
});

test("modes without data refuse ':DATA'", () => {
  bad("socks5:x", /socks5 mode takes no data/);
  bad("socks5:@1080", /socks5 mode takes no data/);
  bad("transparent:eth0", /transparent mode takes no data/);
  bad("bogus", /unknown mode 'bogus'/);
  bad("bogus:http://x", /unknown mode 'bogus'/);
});

test("listen clashes between different modes name the later spec; socks5's default port counts", () => {
  const a = optionError(() => parseModes(["regular@8123", "socks5@8123"], "127.0.0.1", 8080));
  assert.is(a.message, "invalid --mode 'socks5@8123': 127.0.0.1:8123 is already used by another mode");
  const b = optionError(() => parseModes(["socks5", "regular@1080"], "", 8080));
  assert.is(b.message, "invalid --mode 'regular@1080': *:1080 is already used by another mode");
  const c = optionError(() =>
    parseModes(["reverse:http://localhost:5000@9000", "upstream:http://127.0.0.1:3128@9000"], "", 8080),
  );
  assert.match(c.message, "invalid --mode 'upstream:http://127.0.0.1:3128@9000'");
  // The target's port is not a listen port.
  assert.is(parseModes(["reverse:http://localhost:8080@9000", "regular"], "", 8080).length, 2);
  // Several modes on ephemeral ports.
  assert.equal(
    parseModes(
      ["regular@0", "socks5@0", "reverse:http://localhost:5000@0", "upstream:http://127.0.0.1:3128@0"],
      "127.0.0.1",
      8080,
    ).map((m) => [m.name, m.listenPort]),
    [
      ["regular", 0],
      ["socks5", 0],
      ["reverse", 0],
      ["upstream", 0],
    ],
  );
});

test.run();
