// Protocol detection on a connection's first bytes (core/detect.ts): a TLS
// ClientHello, an HTTP/1 request head (and its Host header), or neither.
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { detect, httpHost } from "../../core/layers/detect.ts";

const b = (s: string) => Buffer.from(s, "latin1");
const fixture = (name: string) => readFileSync(new URL(`../fixtures/clienthello/${name}.bin`, import.meta.url));

// ================================================================ httpHost: Host header present / absent / incomplete

test("a complete head with a Host header gives its value", () => {
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")), "example.com");
  assert.is(
    httpHost(b("GET /x HTTP/1.1\r\nUser-Agent: curl\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n")),
    "example.com:8080",
  );
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")), "[::1]:8080");
  assert.is(httpHost(b("GET http://abs.example/ HTTP/1.0\r\nHost: abs.example\r\n\r\n")), "abs.example");
});

test("a body after the head does not matter, and a 'Host:' inside it is not the Host header", () => {
  assert.is(httpHost(b("POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\nhello")), "h.test");
  assert.is(httpHost(b("POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\nHost: evil.test\n")), null);
});

test("a complete head without a Host header gives null", () => {
  assert.is(httpHost(b("GET / HTTP/1.1\r\n\r\n")), null);
  assert.is(httpHost(b("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n")), null);
  // Names that merely contain "host" are other headers.
  assert.is(httpHost(b("GET / HTTP/1.1\r\nX-Forwarded-Host: a\r\nHostname: b\r\nGhost: c\r\n\r\n")), null);
});

test("a head still arriving gives 'incomplete'", () => {
  for (const partial of [
    "G",
    "GE",
    "GET",
    "GET ",
    "GET /",
    "GET / HTTP/1.1",
    "GET / HTTP/1.1\r",
    "GET / HTTP/1.1\r\n",
    "GET / HTTP/1.1\r\nHo",
    "GET / HTTP/1.1\r\nHost: exa",
    "GET / HTTP/1.1\r\nHost: example.com\r\n",
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r",
    "CONNECT example.com:443 HTTP/1.1\r\n",
  ]) {
    assert.is(httpHost(b(partial)), "incomplete", JSON.stringify(partial));
  }
});

test("a 1-byte 'G' is incomplete; through detect too", () => {
  assert.is(httpHost(b("G")), "incomplete");
  assert.equal(detect(b("G")), { clientHello: undefined, helloLength: 0, hostHeader: "incomplete" });
});

test("methods: standard, extension and CONNECT", () => {
  for (const m of ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "MKCOL"]) {
    assert.is(httpHost(b(`${m} /r HTTP/1.1\r\nHost: m.test\r\n\r\n`)), "m.test", m);
  }
  assert.is(httpHost(b("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")), "example.com:443");
  assert.is(httpHost(b("OPTIONS * HTTP/1.1\r\nHost: star.test\r\n\r\n")), "star.test");
});

test("odd casing and spacing of the Host field", () => {
  assert.is(httpHost(b("GET / HTTP/1.1\r\nhost: lower.test\r\n\r\n")), "lower.test");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHOST: upper.test\r\n\r\n")), "upper.test");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nhOsT: Mixed.Test\r\n\r\n")), "Mixed.Test", "the value keeps its case");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost:nospace.test\r\n\r\n")), "nospace.test");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost:   padded.test   \r\n\r\n")), "padded.test");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost:\ttab.test\t\r\n\r\n")), "tab.test");
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost: \r\n\r\n")), "", "an empty Host header is present but empty");
});

test("LF-only line ends", () => {
  assert.is(httpHost(b("GET / HTTP/1.1\nHost: lf.test\n\n")), "lf.test");
  assert.is(httpHost(b("GET / HTTP/1.1\nAccept: */*\n\n")), null);
  assert.is(httpHost(b("GET / HTTP/1.1\n\n")), null);
  assert.is(httpHost(b("GET / HTTP/1.1\nHost: lf.test\n")), "incomplete");
  assert.is(httpHost(b("GET / HTTP/1.1\n")), "incomplete");
  // Mixed: CRLF request line, LF-only fields.
  assert.is(httpHost(b("GET / HTTP/1.1\r\nHost: mixed.test\n\n")), "mixed.test");
});

test("LF-only head: a CRLF CRLF later in the body does not pull the body into the head", () => {
  const data = b("POST / HTTP/1.1\nContent-Length: 24\n\nHost: evil.test\r\n\r\nxxxx");
  assert.is(httpHost(data), null, "the head ends at the first blank line, whatever its line ends");
});

// ================================================================ not HTTP/1

test("binary garbage is not HTTP", () => {
  assert.is(httpHost(Buffer.from([0x00, 0x01, 0x02, 0x03])), undefined);
  assert.is(httpHost(Buffer.from([0xff, 0xfe, 0x47, 0x45, 0x54])), undefined);
  assert.is(httpHost(Buffer.from("GET\x00/ HTTP/1.1\r\n\r\n", "latin1")), undefined);
  assert.equal(detect(Buffer.from([0x00, 0xff, 0x10, 0x20])), {
    clientHello: undefined,
    helloLength: 0,
    hostHeader: undefined,
  });
  // Deterministic pseudo-random bytes: never a crash, never a Host.
  let seed = 12345;
  for (let n = 0; n < 200; n++) {
    const buf = Buffer.alloc(1 + (n % 97));
    for (let i = 0; i < buf.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      buf[i] = seed & 0xff;
    }
    const r = detect(buf);
    assert.ok(
      r.hostHeader === undefined ||
        r.hostHeader === "incomplete" ||
        r.hostHeader === null ||
        typeof r.hostHeader === "string",
    );
  }
});

test("lower-case or other text protocols are not HTTP/1 requests", () => {
  assert.is(httpHost(b("get / http/1.1\r\nhost: x\r\n\r\n")), undefined);
  assert.is(httpHost(b("hello world\r\n")), undefined);
  assert.is(httpHost(b("SSH-2.0-OpenSSH_9.2\r\n")), undefined);
  assert.is(httpHost(b("EHLO mail.test\r\n")), undefined);
  assert.is(httpHost(b("GET /\r\n")), undefined, "HTTP/0.9 is not supported");
  assert.is(httpHost(b("GET / FTP/1.1\r\nHost: x\r\n\r\n")), undefined);
  assert.is(httpHost(b("GE / HTTP/1.1\r\nHost: x\r\n\r\n")), undefined, "a two-letter method");
  assert.is(httpHost(b("GET/ HTTP/1.1\r\n\r\n")), undefined, "no space after the method");
});

test("an empty buffer tells nothing", () => {
  assert.is(httpHost(Buffer.alloc(0)), undefined);
  assert.equal(detect(Buffer.alloc(0)), { clientHello: undefined, helloLength: 0, hostHeader: undefined });
});

// ================================================================ oversized heads

test("oversized: a request line that never ends is given up on, not waited for", () => {
  assert.is(httpHost(b(`GET /${"a".repeat(1000)}`)), "incomplete");
  assert.is(httpHost(b(`GET /${"a".repeat(70 * 1024)}`)), undefined);
});

test("oversized: a head whose end never comes is decided as having no Host", () => {
  const fields = "X-Pad: " + "p".repeat(100) + "\r\n";
  assert.is(httpHost(b(`GET / HTTP/1.1\r\n${fields.repeat(100)}`)), "incomplete");
  assert.is(httpHost(b(`GET / HTTP/1.1\r\n${fields.repeat(700)}`)), null);
});

test("oversized: a method longer than any real one is not HTTP", () => {
  assert.is(httpHost(b("A".repeat(24))), "incomplete");
  assert.is(httpHost(b("A".repeat(25))), undefined);
  assert.is(httpHost(b(`${"A".repeat(40)} / HTTP/1.1\r\n\r\n`)), undefined);
});

// ================================================================ detect: TLS

test("detect: a complete ClientHello is parsed; its length is reported; no Host", () => {
  const hello = fixture("curl-sni-h2");
  const r = detect(hello);
  assert.type(r.clientHello, "object");
  assert.is((r.clientHello as { sni?: string }).sni, "sni.test");
  assert.is(r.helloLength, hello.length);
  assert.is(r.hostHeader, undefined);
  // Bytes after the hello (early data, the next record) are not part of it.
  const more = Buffer.concat([hello, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])]);
  const r2 = detect(more);
  assert.is(r2.helloLength, hello.length);
  assert.is((r2.clientHello as { sni?: string }).sni, "sni.test");
});

test("detect: a hello split over records is complete only with all of them", () => {
  const hello = fixture("openssl-fragmented");
  assert.is((detect(hello).clientHello as { sni?: string }).sni, "frag.test");
  assert.is(detect(hello.subarray(0, 600)).clientHello, "incomplete");
});

test("detect: every prefix of a ClientHello is incomplete", () => {
  const hello = fixture("node-sni-alpn");
  for (const n of [1, 2, 3, 4, 5, 6, 9, 43, 100, hello.length - 1]) {
    assert.equal(
      detect(hello.subarray(0, n)),
      { clientHello: "incomplete", helloLength: 0, hostHeader: undefined },
      `${n} bytes`,
    );
  }
});

test("detect: a TLS-looking prefix that turns out malformed is neither TLS nor HTTP", () => {
  // Handshake record, TLS 1.0, but the handshake is a ServerHello (type 2).
  const notHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]);
  assert.equal(detect(notHello), { clientHello: undefined, helloLength: 0, hostHeader: undefined });
  // 0x16 followed by a wrong version byte is no TLS start at all.
  assert.equal(detect(Buffer.from([0x16, 0x05, 0x00])), {
    clientHello: undefined,
    helloLength: 0,
    hostHeader: undefined,
  });
});

test("detect: an HTTP head reports its Host and no ClientHello", () => {
  assert.equal(detect(b("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")), {
    clientHello: undefined,
    helloLength: 0,
    hostHeader: "example.com",
  });
  assert.equal(detect(b("GET / HTTP/1.1\r\n\r\n")), { clientHello: undefined, helloLength: 0, hostHeader: null });
  assert.equal(detect(b("GET / HT")), { clientHello: undefined, helloLength: 0, hostHeader: "incomplete" });
});

test.run();
