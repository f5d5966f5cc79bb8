// The pure SOCKS5 parsing of core/socks5.ts (RFC 1928 greeting and request,
// RFC 1929 username/password), the reply bytes and the error → reply mapping.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  METHOD_USER_PASS,
  parseGreeting,
  parseRequest,
  parseUserPass,
  REPLY,
  reply,
  replyForError,
  type Parse,
} from "../../core/accept/socks5-protocol.ts";

const b = (...bytes: number[]) => Buffer.from(bytes);
const port = (p: number) => [p >> 8, p & 0xff];

function ok<T>(r: Parse<T>, what: string): { status: "ok"; length: number } & T {
  if (r.status !== "ok") assert.unreachable(`${what}: expected ok, got ${JSON.stringify(r)}`);
  return r as { status: "ok"; length: number } & T;
}

function err<T>(r: Parse<T>, what: string): { status: "error"; reason: string; reply?: number } {
  if (r.status !== "error") assert.unreachable(`${what}: expected error, got ${JSON.stringify(r)}`);
  return r as { status: "error"; reason: string; reply?: number };
}

/** Every strict prefix of `full` asks for more bytes. */
function assertMoreForEveryPrefix<T>(parse: (b: Buffer) => Parse<T>, full: Buffer, what: string): void {
  for (let i = 0; i < full.length; i++) {
    const r = parse(full.subarray(0, i));
    assert.equal(r, { status: "more" }, `${what}: prefix of ${i}/${full.length} bytes`);
  }
}

// ---------------------------------------------------------------- constants and replies

test("method constants are RFC 1928's", () => {
  assert.is(METHOD_NO_AUTH, 0x00);
  assert.is(METHOD_USER_PASS, 0x02);
  assert.is(METHOD_NONE_ACCEPTABLE, 0xff);
  assert.equal(REPLY, {
    succeeded: 0,
    generalFailure: 1,
    notAllowed: 2,
    networkUnreachable: 3,
    hostUnreachable: 4,
    connectionRefused: 5,
    ttlExpired: 6,
    commandNotSupported: 7,
    addressTypeNotSupported: 8,
  });
});

test("reply(): VER REP RSV, then an all-zero IPv4 bound address and port", () => {
  for (let code = 0; code <= 8; code++) {
    assert.equal([...reply(code)], [5, code, 0, 1, 0, 0, 0, 0, 0, 0], `code ${code}`);
  }
  // A fresh buffer each time (callers may write it to a socket that keeps it).
  assert.is.not(reply(0), reply(0));
});

test("replyForError(): connection errors map to RFC 1928 reply codes", () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  assert.is(replyForError(e("ECONNREFUSED")), REPLY.connectionRefused);
  assert.is(replyForError(e("EHOSTUNREACH")), REPLY.hostUnreachable);
  assert.is(replyForError(e("ENOTFOUND")), REPLY.hostUnreachable);
  assert.is(replyForError(e("EAI_AGAIN")), REPLY.hostUnreachable);
  assert.is(replyForError(e("EAI_NONAME")), REPLY.hostUnreachable);
  assert.is(replyForError(e("ENETUNREACH")), REPLY.networkUnreachable);
  assert.is(replyForError(e("ETIMEDOUT")), REPLY.ttlExpired);
  assert.is(replyForError(e("ECONNRESET")), REPLY.generalFailure);
  assert.is(replyForError(e("EPIPE")), REPLY.generalFailure);
  assert.is(replyForError(new Error("no code")), REPLY.generalFailure);
  // Whatever was thrown: never throws itself.
  for (const odd of [undefined, null, 0, "ECONNREFUSED", {}, { code: 5 }, []]) {
    assert.is(replyForError(odd), REPLY.generalFailure, `replyForError(${JSON.stringify(odd)})`);
  }
});

// ---------------------------------------------------------------- greeting

test("greeting: no-auth, user/pass, several methods; trailing bytes are not consumed", () => {
  const a = ok(parseGreeting(b(5, 1, 0)), "no-auth");
  assert.is(a.length, 3);
  assert.equal(a.methods, [METHOD_NO_AUTH]);
  const u = ok(parseGreeting(b(5, 1, 2)), "user/pass");
  assert.equal(u.methods, [METHOD_USER_PASS]);
  const both = ok(parseGreeting(b(5, 3, 0, 1, 2)), "three methods");
  assert.is(both.length, 5);
  assert.equal(both.methods, [0, 1, 2]);
  // A pipelining client: the request follows the greeting in the same packet.
  const piped = ok(parseGreeting(b(5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80)), "pipelined");
  assert.is(piped.length, 3);
  assert.equal(piped.methods, [0]);
  // 255 methods, the most a greeting can carry.
  const all = Buffer.concat([b(5, 255), Buffer.from(Array.from({ length: 255 }, (_, i) => i))]);
  const m = ok(parseGreeting(all), "255 methods");
  assert.is(m.length, 257);
  assert.is(m.methods.length, 255);
});

test("greeting: truncated at every byte asks for more", () => {
  assertMoreForEveryPrefix(parseGreeting, b(5, 1, 0), "no-auth");
  assertMoreForEveryPrefix(parseGreeting, b(5, 2, 0, 2), "two methods");
  assertMoreForEveryPrefix(parseGreeting, Buffer.concat([b(5, 255), Buffer.alloc(255, 0)]), "255 methods");
});

test("greeting: no method offered is an error", () => {
  const r = err(parseGreeting(b(5, 0)), "NMETHODS 0");
  assert.match(r.reason, /no authentication method/);
  assert.is(r.reply, undefined, "no SOCKS5 reply for a greeting error");
});

test("greeting: a SOCKS4 client (version 4) or any other version is refused at the first byte", () => {
  // SOCKS4 CONNECT 127.0.0.1:80, user id "".
  const socks4 = b(4, 1, 0, 80, 127, 0, 0, 1, 0);
  for (let i = 1; i <= socks4.length; i++) {
    const r = err(parseGreeting(socks4.subarray(0, i)), `SOCKS4 prefix ${i}`);
    assert.match(r.reason, "0x04");
    assert.match(r.reason, /not a SOCKS5 greeting/);
  }
  assert.match(err(parseGreeting(Buffer.from("GET / HTTP/1.1\r\n")), "HTTP").reason, "0x47");
  assert.match(err(parseGreeting(b(0x16, 3, 1)), "TLS").reason, "0x16");
  assert.match(err(parseGreeting(b(0)), "zero").reason, "0x00");
});

// ---------------------------------------------------------------- RFC 1929

function userPass(user: string | Buffer, pass: string | Buffer): Buffer {
  const u = Buffer.isBuffer(user) ? user : Buffer.from(user);
  const p = Buffer.isBuffer(pass) ? pass : Buffer.from(pass);
  return Buffer.concat([b(1, u.length), u, b(p.length), p]);
}

test("username/password: parsed; length covers exactly the sub-negotiation", () => {
  const msg = userPass("alice", "s3cret");
  const r = ok(parseUserPass(Buffer.concat([msg, b(5, 1, 0)])), "alice");
  assert.is(r.length, msg.length);
  assert.is(r.username, "alice");
  assert.is(r.password, "s3cret");
  const empty = ok(parseUserPass(userPass("", "")), "empty");
  assert.is(empty.length, 3);
  assert.is(empty.username, "");
  assert.is(empty.password, "");
  const utf8 = ok(parseUserPass(userPass("jörg", "pässwört:@")), "utf8");
  assert.is(utf8.username, "jörg");
  assert.is(utf8.password, "pässwört:@");
  const long = ok(parseUserPass(userPass("u".repeat(255), "p".repeat(255))), "255 each");
  assert.is(long.length, 3 + 255 + 255);
  assert.is(long.username.length, 255);
  assert.is(long.password.length, 255);
});

test("username/password: truncated at every byte asks for more", () => {
  assertMoreForEveryPrefix(parseUserPass, userPass("alice", "s3cret"), "alice");
  assertMoreForEveryPrefix(parseUserPass, userPass("", "x"), "empty user");
  assertMoreForEveryPrefix(parseUserPass, userPass("x", ""), "empty password");
  assertMoreForEveryPrefix(parseUserPass, userPass("u".repeat(255), "p".repeat(255)), "255 each");
});

test("username/password: a version other than 1 is an error", () => {
  for (const v of [0, 2, 5, 0xff]) {
    const r = err(parseUserPass(b(v, 1, 0x61, 1, 0x62)), `version ${v}`);
    assert.match(r.reason, /username\/password version/);
  }
});

// ---------------------------------------------------------------- requests

function request(command: number, atyp: number, addr: number[], p: number): Buffer {
  return Buffer.from([5, command, 0, atyp, ...addr, ...port(p)]);
}
const ipv4 = (host: string, p: number, command = 1) => request(command, 1, host.split(".").map(Number), p);
const domain = (host: string, p: number, command = 1) =>
  request(command, 3, [host.length, ...Buffer.from(host, "latin1")], p);
function ipv6(groups: number[], p: number, command = 1): Buffer {
  const addr: number[] = [];
  for (const g of groups) addr.push(g >> 8, g & 0xff);
  return request(command, 4, addr, p);
}

test("request: CONNECT to an IPv4 address", () => {
  const msg = ipv4("127.0.0.1", 8080);
  assert.is(msg.length, 10);
  const r = ok(parseRequest(Buffer.concat([msg, Buffer.from("GET / HTTP/1.1\r\n")])), "ipv4");
  assert.is(r.length, 10);
  assert.is(r.command, 1);
  assert.equal(r.target, { host: "127.0.0.1", port: 8080 });
  assert.equal(ok(parseRequest(ipv4("10.255.0.254", 65535)), "max port").target, { host: "10.255.0.254", port: 65535 });
  assert.equal(ok(parseRequest(ipv4("0.0.0.0", 1)), "port 1").target, { host: "0.0.0.0", port: 1 });
  // RSV is reserved; a non-zero value is tolerated.
  const rsv = Buffer.from(msg);
  rsv[2] = 0xff;
  assert.equal(ok(parseRequest(rsv), "rsv").target, { host: "127.0.0.1", port: 8080 });
});

test("request: CONNECT to a domain name, as sent (no resolution, case kept)", () => {
  const msg = domain("Example.COM", 443);
  const r = ok(parseRequest(msg), "domain");
  assert.is(r.length, 5 + 11 + 2);
  assert.equal(r.target, { host: "Example.COM", port: 443 });
  assert.equal(ok(parseRequest(domain("localhost", 1)), "localhost").target, { host: "localhost", port: 1 });
  // A 255-byte name, the longest a request can carry.
  const long = "a".repeat(255);
  const lr = ok(parseRequest(domain(long, 80)), "255-byte name");
  assert.is(lr.length, 5 + 255 + 2);
  assert.is(lr.target.host.length, 255);
  // An IP address sent as a name stays a name string.
  assert.equal(ok(parseRequest(domain("127.0.0.1", 80)), "ip as name").target, { host: "127.0.0.1", port: 80 });
});

test("request: CONNECT to an IPv6 address, in RFC 5952 short form", () => {
  const loop = ok(parseRequest(ipv6([0, 0, 0, 0, 0, 0, 0, 1], 8443)), "::1");
  assert.is(loop.length, 22);
  assert.equal(loop.target, { host: "::1", port: 8443 });
  assert.equal(ok(parseRequest(ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 443)), "doc").target, {
    host: "2001:db8::1",
    port: 443,
  });
  assert.equal(ok(parseRequest(ipv6([0, 0, 0, 0, 0, 0, 0, 0], 80)), "any").target, { host: "::", port: 80 });
  assert.equal(ok(parseRequest(ipv6([0x2001, 0xdb8, 1, 2, 3, 4, 5, 6], 80)), "full").target, {
    host: "2001:db8:1:2:3:4:5:6",
    port: 80,
  });
  assert.equal(ok(parseRequest(ipv6([0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0x10], 80)), "link").target, {
    host: "fe80::abcd:0:0:10",
    port: 80,
  });
  assert.equal(ok(parseRequest(ipv6([0xabcd, 0xef01, 0, 0, 0, 0, 0, 0], 80)), "lower case").target, {
    host: "abcd:ef01::",
    port: 80,
  });
});

test("request: truncated at every byte asks for more (IPv4, IPv6, domain)", () => {
  assertMoreForEveryPrefix(parseRequest, ipv4("127.0.0.1", 80), "ipv4");
  assertMoreForEveryPrefix(parseRequest, ipv6([0, 0, 0, 0, 0, 0, 0, 1], 80), "ipv6");
  assertMoreForEveryPrefix(parseRequest, domain("localhost", 80), "domain");
  assertMoreForEveryPrefix(parseRequest, domain("x", 80), "one-letter domain");
  assertMoreForEveryPrefix(parseRequest, domain("a".repeat(255), 80), "255-byte domain");
  // The command is checked once the whole request is there: a truncated BIND also asks for more.
  assertMoreForEveryPrefix(parseRequest, ipv4("127.0.0.1", 80, 2), "bind");
  assertMoreForEveryPrefix(parseRequest, domain("localhost", 80, 3), "udp associate");
});

test("request: BIND and UDP ASSOCIATE → command not supported (0x07), for every address type", () => {
  for (const [make, name] of [
    [(c: number) => ipv4("127.0.0.1", 80, c), "ipv4"],
    [(c: number) => ipv6([0, 0, 0, 0, 0, 0, 0, 1], 80, c), "ipv6"],
    [(c: number) => domain("localhost", 80, c), "domain"],
  ] as const) {
    const bind = err(parseRequest(make(2)), `BIND ${name}`);
    assert.is(bind.reply, REPLY.commandNotSupported);
    assert.match(bind.reason, "BIND");
    const udp = err(parseRequest(make(3)), `UDP ${name}`);
    assert.is(udp.reply, REPLY.commandNotSupported);
    assert.match(udp.reason, "UDP ASSOCIATE");
  }
  for (const c of [0, 4, 0x7f, 0xff]) {
    const r = err(parseRequest(ipv4("127.0.0.1", 80, c)), `command ${c}`);
    assert.is(r.reply, REPLY.commandNotSupported);
    assert.match(r.reason, `0x${c.toString(16)}`);
  }
});

test("request: an unknown address type → address type not supported (0x08), as soon as ATYP is known", () => {
  for (const atyp of [0, 2, 5, 0x10, 0xff]) {
    const r = err(parseRequest(b(5, 1, 0, atyp)), `atyp ${atyp}`);
    assert.is(r.reply, REPLY.addressTypeNotSupported);
    assert.match(r.reason, /address type/);
  }
});

test("request: a zero-length domain name is an error with a general-failure reply", () => {
  const r = err(parseRequest(b(5, 1, 0, 3, 0, 0, 80)), "empty name");
  assert.is(r.reply, REPLY.generalFailure);
  assert.match(r.reason, /empty/);
  // Known already after the length byte.
  assert.is(parseRequest(b(5, 1, 0, 3, 0)).status, "error");
});

test("request: a domain name with control characters, spaces or non-ASCII bytes is refused", () => {
  for (const bad of ["a b", "a\r\nb", "a\x00b", "\x7f", "ex\xe4mple"]) {
    const r = err(parseRequest(domain(bad, 80)), JSON.stringify(bad));
    assert.is(r.reply, REPLY.generalFailure);
  }
});

test("request: port 0 is refused (for every address type)", () => {
  for (const msg of [ipv4("127.0.0.1", 0), ipv6([0, 0, 0, 0, 0, 0, 0, 1], 0), domain("localhost", 0)]) {
    const r = err(parseRequest(msg), "port 0");
    assert.is(r.reply, REPLY.generalFailure);
    assert.match(r.reason, /port 0/);
  }
});

test("request: a wrong version byte is an error with a reply", () => {
  for (const v of [0, 4, 6, 0xff]) {
    const msg = ipv4("127.0.0.1", 80);
    msg[0] = v;
    const r = err(parseRequest(msg.subarray(0, 1)), `version ${v}`);
    assert.is(r.reply, REPLY.generalFailure);
    assert.match(r.reason, /version/);
  }
});

// ---------------------------------------------------------------- random input

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Byte strings that look like SOCKS messages often enough to reach every branch. */
function randomInput(next: () => number): Buffer {
  const len = Math.floor(next() * 40);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(next() * 256);
  const r = next();
  if (len > 0 && r < 0.7) out[0] = r < 0.35 ? 5 : 1;
  if (len > 1 && next() < 0.5) out[1] = Math.floor(next() * 5);
  if (len > 3 && next() < 0.6) out[3] = [1, 3, 4][Math.floor(next() * 3)]!;
  if (len > 4 && next() < 0.5) out[4] = Math.floor(next() * 20);
  return out;
}

const PARSERS: Array<[string, (b: Buffer) => Parse<object>]> = [
  ["parseGreeting", parseGreeting],
  ["parseUserPass", parseUserPass],
  ["parseRequest", parseRequest],
];
const REPLY_CODES = new Set<number>(Object.values(REPLY));

test("random byte strings (seeded): never throw; always more, ok or error; ok lengths fit; replies are RFC codes", () => {
  const next = rng(0x50c45);
  const seen: Record<string, Set<string>> = {};
  for (let n = 0; n < 4000; n++) {
    const input = randomInput(next);
    for (const [name, parse] of PARSERS) {
      let r: Parse<object>;
      try {
        r = parse(input);
      } catch (e) {
        assert.unreachable(`${name}(${input.toString("hex")}) threw ${(e as Error).stack}`);
        return;
      }
      (seen[name] ??= new Set()).add(r.status);
      const hex = input.toString("hex");
      assert.ok(["more", "ok", "error"].includes(r.status), `${name}(${hex}) → ${JSON.stringify(r)}`);
      if (r.status === "ok") {
        assert.ok(
          Number.isInteger(r.length) && r.length > 0 && r.length <= input.length,
          `${name}(${hex}) length ${r.length}`,
        );
        // The same message without what follows it parses the same.
        assert.equal(parse(input.subarray(0, r.length)), r, `${name}(${hex}) without trailing bytes`);
      }
      if (r.status === "error") {
        assert.type(r.reason, "string");
        assert.ok(r.reason.length > 0, `${name}(${hex}) has a reason`);
        if (r.reply !== undefined) assert.ok(REPLY_CODES.has(r.reply), `${name}(${hex}) reply ${r.reply}`);
      }
      if (r.status === "more") assert.equal(Object.keys(r), ["status"]);
    }
  }
  for (const [name] of PARSERS)
    assert.equal([...seen[name]!].sort(), ["error", "more", "ok"], `${name} reached every outcome`);
});

test("random byte strings (seeded): a decided result never changes when more bytes arrive", () => {
  const next = rng(1928);
  for (let n = 0; n < 1500; n++) {
    const input = randomInput(next);
    for (const [name, parse] of PARSERS) {
      const full = parse(input);
      for (let i = 0; i < input.length; i++) {
        const r = parse(input.subarray(0, i));
        if (r.status === "more") continue;
        // Once a prefix is decided, the longer input is decided the same way.
        assert.equal(
          full,
          r,
          `${name}: ${input.subarray(0, i).toString("hex")} | ${input.subarray(i).toString("hex")}`,
        );
      }
    }
  }
});

test.run();
