// mitmproxy's tnetstring dialect (sdk/src/flowfile/tnetstring.ts): every type
// both ways, the byte strings mitmproxy itself writes, and hostile input that
// must end in an error naming the offset, never a crash, a hang or a huge allocation.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  decodeTNet,
  decodeTNetPrefix,
  encodeTNet,
  TNetFloat,
  TNetstringError,
  type TNetValue,
} from "../../sdk/src/flowfile/tnetstring.ts";

const b = (s: string) => Buffer.from(s, "latin1");

function fails(input: Buffer | string, offset: number, reason: RegExp, base = 0): void {
  try {
    decodeTNet(typeof input === "string" ? b(input) : input, { base });
  } catch (err) {
    assert.instance(err, TNetstringError, String(err));
    const e = err as TNetstringError;
    assert.is(e.offset, offset, `offset of ${e.message}`);
    assert.match(e.reason, reason);
    assert.is(e.message, `damaged at byte ${offset}: ${e.reason}`);
    return;
  }
  assert.unreachable(`expected ${JSON.stringify(String(input))} to fail`);
}

test("every type, as mitmproxy spells it", () => {
  const cases: Array<[TNetValue, string]> = [
    [null, "0:~"],
    [true, "4:true!"],
    [false, "5:false!"],
    [12345, "5:12345#"],
    [-7, "2:-7#"],
    [new TNetFloat(1.5), "3:1.5^"],
    [new TNetFloat(2), "3:2.0^"],
    [new TNetFloat(-0), "4:-0.0^"],
    [new TNetFloat(Infinity), "3:inf^"],
    ["hello world", "11:hello world;"],
    ["\u00e9", "2:\u00c3\u00a9;"],
    [Buffer.from([0, 0xff]), "2:\u0000\u00ff,"],
    [[12345, true, 0], "19:5:12345#4:true!1:0#]"],
    [{ a: [], b: {} }, "14:1:a;0:]1:b;0:}}"],
    [2n ** 64n, "20:18446744073709551616#"],
  ];
  for (const [value, wire] of cases) {
    const encoded = encodeTNet(value);
    assert.is(encoded.toString("latin1"), wire, wire);
    assert.equal(decodeTNet(encoded), value, wire);
  }
  assert.ok(Number.isNaN((decodeTNet(encodeTNet(new TNetFloat(NaN))) as TNetFloat).value));
});

test("what Python's tnetstring writes and reads (ints and floats in any of its spellings) decodes", () => {
  assert.is(decodeTNet(b("3:007#")), 7);
  assert.is(decodeTNet(b("2:+5#")), 5);
  assert.equal(decodeTNet(b("5:1e+21^")), new TNetFloat(1e21));
  assert.equal(decodeTNet(b("3:nan^")), new TNetFloat(NaN));
  assert.equal(decodeTNet(b("4:-inf^")), new TNetFloat(-Infinity));
  assert.equal(decodeTNet(b("2:.5^")), new TNetFloat(0.5));
  // Whole JS numbers are ints; fractional ones floats; integers beyond 2^53 stay exact as bigints.
  assert.is(encodeTNet(1e21).toString(), "22:1000000000000000000000#");
  assert.is(encodeTNet(0.25).toString(), "4:0.25^");
  assert.is(decodeTNet(b("16:9007199254740993#")), 9007199254740993n);
  assert.is(decodeTNet(b("16:9007199254740991#")), 9007199254740991);
  // Keys may be bytes (older writers); "__proto__" is a key like any other.
  const d = decodeTNet(b("23:1:k,1:v;9:__proto__;0:~}")) as Record<string, TNetValue>;
  assert.equal(Object.keys(d), ["k", "__proto__"]);
  assert.is(d.k, "v");
  assert.is(Object.getPrototypeOf(d), Object.prototype);
  assert.is(encodeTNet(d).toString("latin1"), "23:1:k;1:v;9:__proto__;0:~}");
});

test("decodeTNetPrefix: one value and where it ended", () => {
  const buf = b("1:a,rest");
  assert.equal(decodeTNetPrefix(buf), { value: Buffer.from("a"), end: 4 });
});

test("malformed framing: each error names the byte", () => {
  fails("", 0, /expected a tnetstring length \(a digit\), found the end of its container/);
  fails("x:", 0, /found 'x'/);
  fails("5", 1, /expected ':' after a tnetstring length/);
  fails("5;abcde,", 1, /expected ':'/);
  fails("5:abc", 0, /a tnetstring of 5 bytes does not fit in the 2 bytes left/);
  fails("3:abc", 0, /does not fit in the 2 bytes left/);
  fails("3:abcX", 5, /unknown tnetstring type tag 'X'/);
  fails("3:abc,junk", 6, /4 bytes follow the value/);
  fails("1:x#", 2, /an int \(#\) that is not an integer: "x"/);
  fails("3:1.x^", 2, /a float \(\^\) that is not a number/);
  fails("3:yes!", 2, /neither true nor false/);
  fails("1:x~", 2, /a null must be empty/);
  fails("2:\u00c3(;", 2, /not valid UTF-8/);
  fails("4:ab\u00ffc;", 4, /not valid UTF-8/);
  fails("5:1:0#1]", 7, /expected ':' after a tnetstring length/);
  fails("8:1:a;1:b}", 0, /does not fit/);
  fails("4:1:a;}", 6, /a dict key without a value/);
  fails("8:1:1#1:a;}", 2, /a dict key must be a str or bytes, not int/);
  // Offsets count from where the buffer sits in the file.
  fails("1:x#", 1002, /not an integer/, 1000);
});

test("hostile lengths: a 12-digit length fails at once, a 13-digit one is refused", () => {
  fails("999999999999:a,", 0, /a tnetstring of 999999999999 bytes does not fit in the 1 bytes left/);
  fails("9999999999999:", 0, /a tnetstring length of more than 12 digits/);
  // A length that swallows the next value makes its container come out wrong, and says where.
  fails("10:5:abcde,]", 0, /does not fit/);
  fails("10:2:ab,99:c,]", 8, /a tnetstring of 99 bytes does not fit/);
});

test("deep nesting ends in an error at the limit, not a stack overflow", () => {
  let s = "0:]";
  // Built inside out: 301 nested lists, each length right.
  for (let i = 0; i < 300; i++) s = `${s.length}:${s}]`;
  // The 201st list is one too deep: the error names where its data starts (after its own "N:").
  let at = 0;
  for (let level = 0; level < 201; level++) at = s.indexOf(":", at) + 1;
  fails(s, at, /values nested deeper than 200 levels/);
});

test("encoding refuses what tnetstrings cannot hold", () => {
  assert.throws(() => encodeTNet(undefined as unknown as TNetValue), /cannot encode undefined/);
  assert.throws(() => encodeTNet(new Map() as unknown as TNetValue), /cannot encode Map/);
  const deep: TNetValue[] = [];
  let at = deep;
  for (let i = 0; i < 300; i++) {
    const next: TNetValue[] = [];
    at.push(next);
    at = next;
  }
  assert.throws(() => encodeTNet(deep), /nested deeper than 200/);
});

test("seeded random values survive a round trip", () => {
  let seed = 20261202;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const value = (depth: number): TNetValue => {
    const k = Math.floor(rand() * (depth > 3 ? 7 : 9));
    switch (k) {
      case 0:
        return null;
      case 1:
        return rand() < 0.5;
      case 2:
        return Math.floor((rand() - 0.5) * 1e12);
      case 3:
        return new TNetFloat((rand() - 0.5) * 1e6);
      case 4:
        return String.fromCharCode(
          ...Array.from({ length: Math.floor(rand() * 8) }, () => 32 + Math.floor(rand() * 1000)),
        );
      case 5:
      case 6:
        return Buffer.from(Array.from({ length: Math.floor(rand() * 16) }, () => Math.floor(rand() * 256)));
      case 7:
        return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      default: {
        const d: Record<string, TNetValue> = {};
        for (let i = 0; i < rand() * 4; i++) d[`k${i}`] = value(depth + 1);
        return d;
      }
    }
  };
  for (let i = 0; i < 300; i++) {
    const v = value(0);
    assert.equal(decodeTNet(encodeTNet(v)), v);
  }
});

test("values larger than the encoder's 256 KiB scratch buffer: the same bytes as when small", () => {
  const small = {
    s: "h\u00e9llo \u{1f600}",
    b: Buffer.from("xyz"),
    n: 1234567,
    f: new TNetFloat(0.25),
    l: [null, true],
  };
  const smallWire = encodeTNet(small).toString("latin1");
  for (const size of [256 * 1024 - 200, 256 * 1024, 300 * 1024, 2 * 1024 * 1024]) {
    const big = Buffer.alloc(size, 0x61);
    const wire = encodeTNet([small, big, small]);
    const bigWire = `${size}:${"a".repeat(size)},`;
    const payload = `${smallWire}${bigWire}${smallWire}`;
    assert.is(wire.toString("latin1"), `${payload.length}:${payload}]`, `size ${size}`);
    assert.equal(decodeTNet(wire), [small, big, small]);
  }
  // Many small strings past the scratch buffer: every length prefix still right.
  const many = Array.from({ length: 40_000 }, (_, i) => `value-${i}-\u00fc`);
  assert.equal(decodeTNet(encodeTNet(many)), many);
});

test("text is UTF-8 whatever its length; a lone surrogate is written as U+FFFD", () => {
  for (const text of [
    "",
    "a",
    "\u00ff",
    "\u07ff\u0800",
    "\u{10ffff}",
    "x".repeat(63) + "\u00e9",
    "\u00e9".repeat(100),
  ]) {
    const encoded = encodeTNet(text);
    const bytes = Buffer.from(text, "utf8");
    assert.equal(
      encoded,
      Buffer.concat([Buffer.from(`${bytes.length}:`), bytes, Buffer.from(";")]),
      JSON.stringify(text),
    );
  }
  assert.is(decodeTNet(encodeTNet("a\ud800b")), "a\ufffdb");
  assert.is(decodeTNet(encodeTNet("\udc00")), "\ufffd");
});

test("a dict entry whose value is undefined is left out, at any size", () => {
  const withHole = { a: 1, gone: undefined, b: "x" } as unknown as TNetValue;
  assert.is(encodeTNet(withHole).toString("latin1"), encodeTNet({ a: 1, b: "x" }).toString("latin1"));
  const big = { gone: undefined, body: Buffer.alloc(300 * 1024, 0x61), also: undefined } as unknown as TNetValue;
  assert.equal(decodeTNet(encodeTNet(big)), { body: Buffer.alloc(300 * 1024, 0x61) });
  assert.throws(() => encodeTNet([undefined] as unknown as TNetValue), /cannot encode undefined/);
});

test.run();
