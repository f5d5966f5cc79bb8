// The ClientHello parser against real hellos (fixtures captured from curl,
// Node and openssl, see test/fixtures/clienthello/README.md), against OpenSSL's
// own reading of the same bytes, split and re-framed, and against hostile input.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import forge from "node-forge";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ClientHello } from "../../sdk/src/addon.ts";
import { looksLikeTlsStart, parseClientHello, type ClientHelloParse } from "../../core/tls/clienthello.ts";

const FIXTURES = new URL("../fixtures/clienthello/", import.meta.url);
const TLS13_DOWN_TO_10 = [0x0304, 0x0303, 0x0302, 0x0301];
const LONG_ALPN = Array.from({ length: 40 }, (_, i) => `proto-${String(i).padStart(3, "0")}-padding-padding`);

interface Fixture {
  name: string;
  sni: string | undefined;
  alpn: string[];
  versions: number[];
  records: number;
}

const fixtures: Fixture[] = [
  { name: "curl-sni-h2", sni: "sni.test", alpn: ["h2", "http/1.1"], versions: TLS13_DOWN_TO_10, records: 1 },
  { name: "curl-sni-http11", sni: "sni.test", alpn: ["http/1.1"], versions: TLS13_DOWN_TO_10, records: 1 },
  { name: "curl-ip-nosni", sni: undefined, alpn: ["h2", "http/1.1"], versions: TLS13_DOWN_TO_10, records: 1 },
  { name: "node-sni-alpn", sni: "node.test", alpn: ["h2", "http/1.1"], versions: [0x0304, 0x0303], records: 1 },
  { name: "node-nosni", sni: undefined, alpn: [], versions: [0x0304, 0x0303], records: 1 },
  { name: "openssl-sni-alpn", sni: "x.test", alpn: ["h2", "http/1.1"], versions: TLS13_DOWN_TO_10, records: 1 },
  { name: "openssl-nosni", sni: undefined, alpn: [], versions: TLS13_DOWN_TO_10, records: 1 },
  { name: "openssl-tls12", sni: "tls12.test", alpn: [], versions: [], records: 1 },
  { name: "openssl-fragmented", sni: "frag.test", alpn: LONG_ALPN, versions: TLS13_DOWN_TO_10, records: 3 },
];

const bytes = new Map(fixtures.map((f) => [f.name, readFileSync(new URL(`${f.name}.bin`, FIXTURES))]));
const fixture = (name: string): Buffer => bytes.get(name)!;

// ---- helpers: an independent TLS framing, to build and re-frame hellos ----

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function ext(type: number, data: Buffer | number[]): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([u16(type), u16(d.length), d]);
}
function sniExt(...names: Array<string | [number, Buffer]>): Buffer {
  const entries = names.map((n) => {
    const [type, name] = typeof n === "string" ? [0, Buffer.from(n, "latin1")] : n;
    return Buffer.concat([u8(type), u16(name.length), name]);
  });
  const list = Buffer.concat(entries);
  return ext(0, Buffer.concat([u16(list.length), list]));
}
function alpnExt(...protocols: string[]): Buffer {
  const list = Buffer.concat(protocols.map((p) => Buffer.concat([u8(p.length), Buffer.from(p, "latin1")])));
  return ext(16, Buffer.concat([u16(list.length), list]));
}
function versionsExt(...versions: number[]): Buffer {
  return ext(43, Buffer.concat([u8(versions.length * 2), ...versions.map(u16)]));
}

interface BodyParts {
  version?: number;
  sessionId?: Buffer;
  suites?: number[];
  compression?: number[];
  /** null: no extensions block at all */
  extensions?: Buffer[] | null;
  /** appended after the extensions block, inside the body */
  tail?: Buffer;
}
function body(parts: BodyParts = {}): Buffer {
  const sid = parts.sessionId ?? Buffer.alloc(32, 0xaa);
  const suites = parts.suites ?? [0x1301, 0x1302, 0xc02f];
  const comp = parts.compression ?? [0];
  const out = [
    u16(parts.version ?? 0x0303),
    Buffer.alloc(32, 0x5a),
    u8(sid.length),
    sid,
    u16(suites.length * 2),
    ...suites.map(u16),
    u8(comp.length),
    Buffer.from(comp),
  ];
  const exts =
    parts.extensions === undefined ? [sniExt("a.test"), alpnExt("h2"), versionsExt(0x0304)] : parts.extensions;
  if (exts !== null) {
    const block = Buffer.concat(exts);
    out.push(u16(block.length), block);
  }
  if (parts.tail) out.push(parts.tail);
  return Buffer.concat(out);
}
function handshake(b: Buffer, type = 1): Buffer {
  return Buffer.concat([u8(type), u24(b.length), b]);
}
/** Frames handshake bytes into records of the given sizes (the last size repeats). */
function records(hs: Buffer, sizes: number[] = [16384], version = 0x0301): Buffer {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < hs.length; i++) {
    const size = Math.min(sizes[Math.min(i, sizes.length - 1)]!, hs.length - off);
    out.push(Buffer.from([0x16]), u16(version), u16(size), hs.subarray(off, off + size));
    off += size;
  }
  return Buffer.concat(out);
}
function hello(parts: BodyParts = {}): Buffer {
  return records(handshake(body(parts)));
}
/** The handshake message carried by well-formed records, laid end to end. */
function unframe(data: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < data.length; p += 5 + data.readUInt16BE(p + 3)) {
    out.push(data.subarray(p + 5, p + 5 + data.readUInt16BE(p + 3)));
  }
  return Buffer.concat(out);
}

function complete(r: ClientHelloParse): { hello: ClientHello; length: number } {
  if (r.status !== "complete") assert.unreachable(`expected complete, got ${JSON.stringify(r)}`);
  return r as { hello: ClientHello; length: number };
}
function isInvalid(r: ClientHelloParse, pattern?: RegExp): void {
  if (r.status !== "invalid") assert.unreachable(`expected invalid, got ${r.status}`);
  const reason = (r as { reason: string }).reason;
  assert.type(reason, "string");
  assert.ok(reason.length > 0);
  if (pattern) assert.match(reason, pattern);
}

// ---- real hellos ----

for (const f of fixtures) {
  test(`fixture ${f.name}: SNI, ALPN, versions, suites, length`, () => {
    const data = fixture(f.name);
    const { hello, length } = complete(parseClientHello(data));
    assert.is(length, data.length);
    assert.is(hello.sni, f.sni);
    assert.equal(hello.alpnProtocols, f.alpn);
    assert.equal(hello.supportedVersions, f.versions);
    assert.is(hello.legacyVersion, 0x0303);
    assert.ok(hello.cipherSuites.length > 0);

    // raw is the handshake message, reassembled across however many records
    const hs = unframe(data);
    let recordCount = 0;
    for (let p = 0; p < data.length; p += 5 + data.readUInt16BE(p + 3)) recordCount++;
    assert.is(recordCount, f.records);
    assert.ok(hello.raw.equals(hs));
    assert.is(hello.raw.length, 4 + hs.readUIntBE(1, 3));
    assert.ok(hello.random.equals(hs.subarray(6, 38)));
    assert.ok(hello.sessionId.equals(hs.subarray(39, 39 + hs[38]!)));
    assert.is(hello.cipherSuites.length, hs.readUInt16BE(39 + hs[38]!) / 2);
    assert.is(hello.cipherSuites[0], hs.readUInt16BE(41 + hs[38]!));

    // the extensions tile the extensions block exactly, in order
    const extTotal = hello.extensions.reduce((n, e) => n + 4 + e.data.length, 0);
    assert.is(hs.readUInt16BE(hs.length - extTotal - 2), extTotal);
    let p = hs.length - extTotal;
    for (const e of hello.extensions) {
      assert.is(hs.readUInt16BE(p), e.type);
      assert.ok(e.data.equals(hs.subarray(p + 4, p + 4 + e.data.length)));
      p += 4 + e.data.length;
    }
    assert.is(
      hello.extensions.some((e) => e.type === 0),
      f.sni !== undefined,
    );
  });
}

test("the hello owns its bytes: changing the input afterwards changes nothing", () => {
  const data = Buffer.from(fixture("openssl-sni-alpn"));
  const { hello } = complete(parseClientHello(data));
  const before = Buffer.from(hello.raw);
  data.fill(0);
  assert.ok(hello.raw.equals(before));
  assert.is(hello.sni, "x.test");
});

test("takes a plain Uint8Array view at an offset, not only a Buffer", () => {
  const data = fixture("node-sni-alpn");
  const backing = new Uint8Array(data.length + 10);
  backing.set(data, 7);
  const view = new Uint8Array(backing.buffer, 7, data.length);
  const { hello, length } = complete(parseClientHello(view));
  assert.is(length, data.length);
  assert.is(hello.sni, "node.test");
  assert.ok(Buffer.isBuffer(hello.raw) && Buffer.isBuffer(hello.random) && Buffer.isBuffer(hello.extensions[0]!.data));
});

// OpenSSL reads the same bytes: replay each fixture into a real Node TLS server
// and compare the server name and ALPN list it saw with ours.
let serverCredentials: { key: string; cert: string } | undefined;
function credentials(): { key: string; cert: string } {
  if (serverCredentials) return serverCredentials;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const name = [{ name: "commonName", value: "clienthello.test" }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  serverCredentials = { key: privateKey, cert: forge.pki.certificateToPem(cert) };
  return serverCredentials;
}

interface ServerView {
  sni: string | undefined;
  alpn: string[] | undefined;
  /** content type of the server's first record: 0x16 when it took the hello and answered */
  answer: number | undefined;
}
function replay(data: Buffer): Promise<ServerView> {
  return new Promise((resolve, reject) => {
    const view: ServerView = { sni: undefined, alpn: undefined, answer: undefined };
    const server = tls.createServer({
      ...credentials(),
      SNICallback(name, cb) {
        view.sni = name;
        cb(null, undefined);
      },
      ALPNCallback({ servername, protocols }) {
        view.alpn = protocols;
        if (servername) view.sni = servername;
        return protocols[0];
      },
    });
    server.on("tlsClientError", () => {});
    const timer = setTimeout(() => reject(new Error("the TLS server did not answer")), 5000);
    server.listen(0, "127.0.0.1", () => {
      const socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1", () => socket.write(data));
      socket.once("data", (chunk) => {
        view.answer = chunk[0];
        socket.destroy();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        server.close();
        resolve(view);
      });
    });
  });
}

test("fixtures: a real TLS server (Node/OpenSSL) sees the same SNI and ALPN", async () => {
  for (const f of fixtures) {
    const view = await replay(fixture(f.name));
    const { hello } = complete(parseClientHello(fixture(f.name)));
    assert.is(view.answer, 0x16, `${f.name}: server answered with a handshake`);
    assert.is(view.sni, hello.sni, `${f.name}: SNI`);
    assert.equal(view.alpn ?? [], hello.alpnProtocols, `${f.name}: ALPN`);
  }
});

// ---- split input ----

test("every prefix of every fixture is incomplete", () => {
  for (const f of fixtures) {
    const data = fixture(f.name);
    for (let n = 0; n < data.length; n++) {
      const r = parseClientHello(data.subarray(0, n));
      if (r.status !== "incomplete") assert.unreachable(`${f.name}[0..${n}]: ${JSON.stringify(r)}`);
    }
  }
});

test("a hello re-framed into records of 1, 7, 100 and mixed sizes parses identically", () => {
  for (const f of fixtures) {
    const data = fixture(f.name);
    const expected = complete(parseClientHello(data)).hello;
    const hs = unframe(data);
    for (const sizes of [[1], [7], [100], [2, 9], [3, 5], [3, 1, 200, 2, 5000], [hs.length]]) {
      for (const version of [0x0301, 0x0303]) {
        const framed = records(hs, sizes, version);
        const { hello, length } = complete(parseClientHello(framed));
        assert.is(length, framed.length, `${f.name} in records of ${sizes}`);
        assert.equal(hello, expected, `${f.name} in records of ${sizes}`);
      }
    }
  }
});

test("every prefix of a hello in 7-byte records is incomplete", () => {
  const framed = records(unframe(fixture("openssl-sni-alpn")), [7]);
  for (let n = 0; n < framed.length; n++) assert.is(parseClientHello(framed.subarray(0, n)).status, "incomplete");
  assert.is(parseClientHello(framed).status, "complete");
});

test("bytes after the hello are not counted in length and change nothing", () => {
  const ccs = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
  for (const f of fixtures) {
    const data = fixture(f.name);
    const expected = complete(parseClientHello(data)).hello;
    for (const extra of [
      Buffer.from([0]),
      ccs,
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      data,
      Buffer.alloc(70_000, 0xff),
    ]) {
      const { hello, length } = complete(parseClientHello(Buffer.concat([data, extra])));
      assert.is(length, data.length);
      assert.equal(hello, expected);
    }
  }
});

// ---- built hellos: the rules ----

test("a minimal built hello, and one with no extensions block at all", () => {
  const full = complete(parseClientHello(hello()));
  assert.is(full.hello.sni, "a.test");
  assert.equal(full.hello.alpnProtocols, ["h2"]);
  assert.equal(full.hello.supportedVersions, [0x0304]);
  assert.equal(full.hello.cipherSuites, [0x1301, 0x1302, 0xc02f]);
  assert.equal(
    full.hello.extensions.map((e) => e.type),
    [0, 16, 43],
  );

  const bare = complete(
    parseClientHello(hello({ version: 0x0300, sessionId: Buffer.alloc(0), suites: [0x000a], extensions: null })),
  );
  assert.is(bare.hello.sni, undefined);
  assert.equal(bare.hello.alpnProtocols, []);
  assert.equal(bare.hello.supportedVersions, []);
  assert.equal(bare.hello.extensions, []);
  assert.is(bare.hello.legacyVersion, 0x0300);
  assert.is(bare.hello.sessionId.length, 0);
  assert.ok(!("sni" in bare.hello));
});

test("zero-length extensions: fine for most types, invalid for SNI, ALPN, supported_versions", () => {
  const r = complete(
    parseClientHello(hello({ extensions: [ext(23, []), ext(0xff01, [0]), ext(0x0a0a, []), sniExt("z.test")] })),
  );
  assert.equal(
    r.hello.extensions.map((e) => [e.type, e.data.length]),
    [
      [23, 0],
      [0xff01, 1],
      [0x0a0a, 0],
      [0, 11],
    ],
  );
  assert.is(r.hello.sni, "z.test");
  for (const type of [0, 16, 43]) isInvalid(parseClientHello(hello({ extensions: [ext(type, [])] })));
  complete(parseClientHello(hello({ extensions: [] }))); // an empty extensions block
});

test("duplicated extensions are invalid (RFC 8446 4.2), SNI included", () => {
  isInvalid(parseClientHello(hello({ extensions: [sniExt("a.test"), sniExt("b.test")] })), /twice/);
  isInvalid(parseClientHello(hello({ extensions: [sniExt("a.test"), alpnExt("h2"), sniExt("a.test")] })), /twice/);
  isInvalid(parseClientHello(hello({ extensions: [ext(23, []), ext(23, [])] })), /twice/);
  // two host names inside one server_name extension
  isInvalid(parseClientHello(hello({ extensions: [sniExt("a.test", "b.test")] })), /two host names/);
  // the same types in separate hellos do not leak between calls
  complete(parseClientHello(hello({ extensions: [sniExt("a.test")] })));
  complete(parseClientHello(hello({ extensions: [sniExt("a.test")] })));
});

test("server_name: odd names leave sni unset, broken structure is invalid", () => {
  const sniOf = (...names: Array<string | [number, Buffer]>) =>
    complete(parseClientHello(hello({ extensions: [sniExt(...names)] }))).hello.sni;
  assert.is(sniOf("Example.COM"), "Example.COM"); // kept as sent
  assert.is(sniOf("_srv.my-host.example"), "_srv.my-host.example");
  assert.is(sniOf("127.0.0.1"), "127.0.0.1");
  assert.is(sniOf(`${"a".repeat(63)}.test`), `${"a".repeat(63)}.test`);
  assert.is(sniOf(`${"a".repeat(64)}.test`), undefined);
  assert.is(sniOf(Array(64).fill("abc").join(".").slice(0, 253)), Array(64).fill("abc").join(".").slice(0, 253));
  const label63 = "a".repeat(63);
  assert.is(
    sniOf(`${label63}.${label63}.${label63}.${"b".repeat(61)}`),
    `${label63}.${label63}.${label63}.${"b".repeat(61)}`,
  ); // 253
  assert.is(sniOf(`${label63}.${label63}.${label63}.${"b".repeat(62)}`), undefined); // 254 characters
  for (const odd of [
    "a.test.",
    ".a.test",
    "a..test",
    "a\0.test",
    "a.test\r\nX: y",
    "a test",
    "a\x7f",
    "caf\xe9.test",
    "*.test",
    "a/b",
    ".",
  ]) {
    assert.is(sniOf(odd), undefined, JSON.stringify(odd));
  }
  // an unknown name type is skipped; a host_name beside it still counts
  assert.is(sniOf([7, Buffer.from("x")]), undefined);
  assert.is(sniOf([7, Buffer.from("x")], "b.test"), "b.test");
  isInvalid(parseClientHello(hello({ extensions: [sniExt([0, Buffer.alloc(0)])] })), /empty host name/);
  isInvalid(parseClientHello(hello({ extensions: [ext(0, [0, 0])] }))); // empty list
  isInvalid(parseClientHello(hello({ extensions: [ext(0, [0, 6, 0, 0, 2, 0x61, 0x62])] }))); // list length too long
  isInvalid(parseClientHello(hello({ extensions: [ext(0, [0, 4, 0, 0, 9, 0x61])] }))); // name runs past
  isInvalid(parseClientHello(hello({ extensions: [ext(0, [0, 2, 0, 0])] }))); // entry header cut short
});

test("ALPN and supported_versions: structure is checked", () => {
  const r = complete(parseClientHello(hello({ extensions: [alpnExt("h2", "\xff\x01", "http/1.1")] })));
  assert.equal(r.hello.alpnProtocols, ["h2", "\xff\x01", "http/1.1"]); // opaque bytes, latin1
  isInvalid(parseClientHello(hello({ extensions: [alpnExt("h2", "")] })), /empty ALPN/);
  isInvalid(parseClientHello(hello({ extensions: [ext(16, [0, 0])] })));
  isInvalid(parseClientHello(hello({ extensions: [ext(16, [0, 4, 2, 0x68, 0x32])] }))); // list length off by one
  isInvalid(parseClientHello(hello({ extensions: [ext(16, [0, 3, 5, 0x68, 0x32])] }))); // name runs past
  isInvalid(parseClientHello(hello({ extensions: [ext(43, [3, 3, 4, 3])] }))); // odd length
  isInvalid(parseClientHello(hello({ extensions: [ext(43, [4, 3, 4])] }))); // runs past
  isInvalid(parseClientHello(hello({ extensions: [ext(43, [0])] })));
  assert.equal(
    complete(parseClientHello(hello({ extensions: [versionsExt(0x0a0a, 0x0304)] }))).hello.supportedVersions,
    [0x0a0a, 0x0304],
  );
});

test("malformed bodies are invalid", () => {
  isInvalid(parseClientHello(hello({ version: 0x0203 })), /legacy_version/);
  isInvalid(parseClientHello(hello({ sessionId: Buffer.alloc(33) })), /session_id/);
  isInvalid(parseClientHello(hello({ suites: [] })), /cipher_suites/);
  isInvalid(parseClientHello(hello({ compression: [] })), /compression/);
  isInvalid(parseClientHello(hello({ tail: Buffer.from([0]) })), /extensions length/);
  isInvalid(parseClientHello(hello({ extensions: null, tail: Buffer.from([0]) })));
  // odd cipher_suites length
  const oddSuites = body();
  oddSuites.writeUInt16BE(5, 2 + 32 + 1 + 32);
  isInvalid(parseClientHello(records(handshake(oddSuites))), /cipher_suites/);
  // an extension whose length points past the extensions block
  const b = body({ extensions: [ext(23, [1, 2, 3])] });
  b.writeUInt16BE(200, b.length - 5);
  isInvalid(parseClientHello(records(handshake(b))), /runs past/);
  // the body ends inside the extensions length field ("truncated length field")
  const cut = body({ extensions: null, tail: Buffer.from([0]) });
  isInvalid(parseClientHello(records(handshake(cut))));
  // the session_id length points past the end of the body
  const sid = body({ extensions: null });
  sid[34] = 32;
  isInvalid(parseClientHello(records(handshake(sid.subarray(0, 40)))));
});

test("record and handshake framing: the rules", () => {
  const hs = handshake(body());
  isInvalid(parseClientHello(records(hs, [hs.length], 0x0305)), /record version/);
  isInvalid(parseClientHello(records(hs, [hs.length], 0x0200)), /record version/);
  for (const v of [0x0300, 0x0301, 0x0302, 0x0303, 0x0304]) complete(parseClientHello(records(hs, [hs.length], v)));
  isInvalid(parseClientHello(records(handshake(body(), 2))), /type 2/);
  isInvalid(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 2])), /type 2/); // known from the first byte
  // an empty record and an oversize one
  isInvalid(parseClientHello(Buffer.concat([Buffer.from([0x16, 3, 1, 0, 0]), records(hs)])), /empty/);
  isInvalid(parseClientHello(Buffer.from([0x16, 3, 1, 0x48, 0x01])), /longer/);
  isInvalid(parseClientHello(Buffer.from([0x16, 3, 1, 0x49])), /longer/);
  const biggest = handshake(body({ extensions: [ext(21, Buffer.alloc(18428 - body({ extensions: [] }).length - 4))] }));
  assert.is(biggest.length, 18432);
  assert.is(complete(parseClientHello(records(biggest, [18432]))).length, 18437);
  // the last record carries more than the hello
  const extra = Buffer.concat([hs, Buffer.from([1, 0, 0])]);
  isInvalid(parseClientHello(records(extra)), /after it/);
  isInvalid(parseClientHello(records(extra).subarray(0, 10)), /after it/); // known from the headers alone
  // a non-handshake record before the hello is complete
  const split = records(hs, [20]);
  const firstRecord = split.subarray(0, 25);
  for (const type of [0x14, 0x15, 0x17, 0x18, 0x00]) {
    isInvalid(parseClientHello(Buffer.concat([firstRecord, Buffer.from([type, 3, 3, 0, 1, 1])])), /content type/);
  }
});

test("an oversize handshake length is invalid at once, not incomplete forever", () => {
  const header = (len: number) =>
    Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
  isInvalid(parseClientHello(header(0xffffff)), /limit/);
  isInvalid(parseClientHello(header(65537)), /limit/);
  isInvalid(parseClientHello(header(0x020000).subarray(0, 7)), /limit/); // the first length byte says enough
  assert.is(parseClientHello(header(65536)).status, "incomplete");
  isInvalid(parseClientHello(header(10)), /too short/);
  // the largest allowed hello, in 1-byte records: complete, and quickly
  const small = body({ extensions: [] });
  const max = body({ extensions: [ext(21, Buffer.alloc(65536 - small.length - 4))] });
  assert.is(max.length, 65536);
  const framed = records(handshake(max), [1]);
  const started = performance.now();
  const { hello: h, length } = complete(parseClientHello(framed));
  assert.is(length, framed.length);
  assert.is(h.raw.length, 65540);
  assert.ok(performance.now() - started < 1000);
  const tooBig = body({ extensions: [ext(21, Buffer.alloc(65537 - small.length - 4))] });
  isInvalid(parseClientHello(records(handshake(tooBig))), /limit/);
});

test("other protocols and garbage are invalid; empty input is incomplete", () => {
  assert.is(parseClientHello(new Uint8Array(0)).status, "incomplete");
  assert.is(parseClientHello(Buffer.from([0x16])).status, "incomplete");
  assert.is(parseClientHello(Buffer.from([0x16, 3, 1, 0, 0x30, 1, 0])).status, "incomplete");
  for (const text of [
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\n\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "SSH-2.0-OpenSSH_9.2\r\n",
    "G",
  ]) {
    isInvalid(parseClientHello(Buffer.from(text)), /not a TLS handshake record/);
  }
  // SSLv2-compatible hello (as old clients sent): two-byte header with the top bit set
  isInvalid(parseClientHello(Buffer.from("802e0103010015000000100100800700c0030080060040040080020080", "hex")));
  isInvalid(parseClientHello(Buffer.from([0x05, 0x01, 0x00]))); // SOCKS5 greeting
  isInvalid(parseClientHello(Buffer.from([0x16, 0x02])));
  isInvalid(parseClientHello(Buffer.from([0x16, 0x03, 0x05])));
  isInvalid(parseClientHello(Buffer.alloc(100, 0)));
});

test("worst cases stay fast: 16k empty extensions, a 64 KiB hello in 1-byte records", () => {
  const exts = Array.from({ length: 16000 }, (_, i) => ext(i + 100, []));
  const many = hello({ extensions: exts });
  let started = performance.now();
  assert.is(complete(parseClientHello(many)).hello.extensions.length, 16000);
  // the same with a duplicate at the very end
  isInvalid(
    parseClientHello(records(handshake(body({ extensions: [...exts.slice(0, 15000), ext(100, [])] })))),
    /twice/,
  );
  assert.ok(performance.now() - started < 1000);
  const framed = records(handshake(body({ extensions: exts })), [1]);
  started = performance.now();
  for (const n of [framed.length - 1, framed.length >> 1, framed.length]) parseClientHello(framed.subarray(0, n));
  assert.ok(performance.now() - started < 1000);
});

// ---- mutations ----

/** mulberry32: small, seeded, so that a failure names the case that reproduces it. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, rand: () => number): Buffer {
  const int = (n: number) => Math.floor(rand() * n);
  let b = Buffer.from(input);
  for (let rounds = 1 + int(3); rounds > 0 && b.length > 0; rounds--) {
    const at = int(b.length);
    switch (int(7)) {
      case 0: // bit flips
        for (let k = 1 + int(4); k > 0; k--) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // insert bytes
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))),
          b.subarray(at),
        ]);
        break;
      case 2: // delete bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(8))]);
        break;
      case 3: // a 16-bit field set to an edge value (most fields here are lengths)
        if (at + 1 < b.length)
          b.writeUInt16BE([0, 1, 0xffff, 0x8000, b.readUInt16BE(at) + 1, b.readUInt16BE(at) - 1][int(6)]! & 0xffff, at);
        break;
      case 4: // the record or handshake length
        if (b.length >= 9) {
          if (rand() < 0.5) b.writeUInt16BE(int(0x10000), 3);
          else
            b.writeUIntBE(
              [0, 1, 40, 0xffffff, b.readUIntBE(6, 3) + 1, b.readUIntBE(6, 3) - 1][int(6)]! & 0xffffff,
              6,
              3,
            );
        }
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: // duplicate a slice (often an extension)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(40)), b.subarray(at)]);
        break;
    }
  }
  return b;
}

const STATUSES = ["complete", "incomplete", "invalid"];
function checkResult(r: ClientHelloParse, input: Uint8Array, label: string): void {
  assert.ok(STATUSES.includes(r.status), label);
  if (r.status === "invalid") assert.ok(typeof r.reason === "string" && r.reason.length > 0, label);
  if (r.status === "complete") {
    assert.ok(r.length > 0 && r.length <= input.length, label);
    assert.is(r.hello.raw.length, 4 + r.hello.raw.readUIntBE(1, 3), label);
    assert.ok(r.hello.cipherSuites.length > 0, label);
  }
}

test("3000 seeded mutations of the fixtures: never throws, one of three answers, bounded time", () => {
  const names = fixtures.map((f) => f.name);
  let slowest = 0;
  const seen = { complete: 0, incomplete: 0, invalid: 0 };
  for (let seed = 1; seed <= 3000; seed++) {
    const rand = prng(seed);
    const input = mutate(fixture(names[seed % names.length]!), rand);
    const label = `seed ${seed} (${names[seed % names.length]})`;
    const started = performance.now();
    let r: ClientHelloParse;
    try {
      r = parseClientHello(input);
    } catch (err) {
      assert.unreachable(`${label} threw: ${(err as Error).stack}`);
      return;
    }
    slowest = Math.max(slowest, performance.now() - started);
    checkResult(r, input, label);
    seen[r.status]++;
    // a complete answer stands on its own bytes
    if (r.status === "complete") {
      const again = parseClientHello(input.subarray(0, r.length));
      assert.is(again.status, "complete", label);
      assert.equal(again, r, label);
    }
  }
  assert.ok(slowest < 250, `slowest parse took ${slowest.toFixed(1)} ms`);
  // the mutations reach all three answers, so the test exercises each path
  assert.ok(seen.complete > 50 && seen.incomplete > 50 && seen.invalid > 500, JSON.stringify(seen));
});

test("mutated prefixes: incomplete until a verdict, and the verdict never changes", () => {
  const names = fixtures.map((f) => f.name);
  for (let seed = 10_001; seed <= 10_300; seed++) {
    const input = mutate(fixture(names[seed % names.length]!), prng(seed));
    let verdict: ClientHelloParse | undefined;
    for (let n = 0; n <= input.length; n++) {
      const r = parseClientHello(input.subarray(0, n));
      checkResult(r, input.subarray(0, n), `seed ${seed} prefix ${n}`);
      if (verdict === undefined) {
        if (r.status !== "incomplete") verdict = r;
      } else if (verdict.status === "complete") {
        assert.is(r.status, "complete", `seed ${seed} prefix ${n}`);
        assert.equal(r, verdict, `seed ${seed} prefix ${n}`);
      } else {
        assert.is(r.status, "invalid", `seed ${seed} prefix ${n}: was invalid before`);
      }
    }
  }
});

test("random garbage after a 0x16 0x03 start: never throws", () => {
  const rand = prng(424242);
  for (let i = 0; i < 2000; i++) {
    const input = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    if (input.length > 3) input.set([0x16, 0x03, Math.floor(rand() * 5)], 0);
    checkResult(parseClientHello(input), input, `garbage ${i}`);
  }
});

// ---- looksLikeTlsStart ----

test("looksLikeTlsStart", () => {
  const yes = [
    [0x16],
    [0x16, 0x03],
    [0x16, 0x03, 0x00],
    [0x16, 0x03, 0x01],
    [0x16, 0x03, 0x04],
    [0x16, 0x03, 0x01, 0xff, 0xff],
  ];
  const no = [
    [],
    [0x17],
    [0x47],
    [0x80],
    [0x16, 0x02],
    [0x16, 0x04],
    [0x16, 0x03, 0x05],
    [0x16, 0x03, 0xff],
    [0x15, 0x03, 0x01],
  ];
  for (const b of yes) assert.ok(looksLikeTlsStart(Uint8Array.from(b)), JSON.stringify(b));
  for (const b of no) assert.not.ok(looksLikeTlsStart(Uint8Array.from(b)), JSON.stringify(b));
  for (const f of fixtures) assert.ok(looksLikeTlsStart(fixture(f.name)));
  assert.not.ok(looksLikeTlsStart(Buffer.from("GET / HTTP/1.1\r\n")));
  // it agrees with the parser on the first three bytes
  for (let b0 = 0; b0 < 256; b0++) {
    for (const rest of [[], [3], [3, 1], [3, 9], [4]]) {
      const input = Uint8Array.from([b0, ...rest]);
      assert.is(looksLikeTlsStart(input), parseClientHello(input).status === "incomplete", JSON.stringify([...input]));
    }
  }
});

test.run();
