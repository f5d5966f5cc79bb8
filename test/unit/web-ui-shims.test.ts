// The browser stand-ins the web UI's bundle uses for the two Node pieces the sdk's filter compiler
// touches (addons/web/ui/shims): isIP answers as node:net's does, for addresses and for junk; the
// Buffer shim's UTF-8 to latin1 round and byte lengths match Node's Buffer; what it cannot do throws.
import { isIP as nodeIsIP } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Buffer as ShimBuffer } from "../../addons/web/ui/shims/buffer.ts";
import { isIP } from "../../addons/web/ui/shims/node-net.ts";

const ADDRESSES = [
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "256.1.1.1",
  "1.2.3",
  "1.2.3.4.5",
  "01.2.3.4",
  "1.2.3.04",
  " 1.2.3.4",
  "1.2.3.4 ",
  "::1",
  "::",
  "2001:db8::1",
  "2001:DB8:0:0:8:800:200C:417A",
  "::ffff:192.168.1.1",
  "1::2::3",
  "2001:db8:::1",
  "12345::1",
  "g::1",
  "[::1]",
  "::1%eth0",
  "fe80::1%1",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::",
  ":1:2",
  "example.com",
  "localhost",
  "",
  "\u0000",
  "1.2.3.4\n",
  "١٢٣.1.1.1",
  "::ffff:1.2.3",
];

test("isIP answers as node:net's for addresses, near-misses and junk", () => {
  for (const a of ADDRESSES) {
    // Zone ids (fe80::1%eth0): Node accepts them; Host headers never carry one, the shim says 0.
    if (a.includes("%")) {
      assert.is(isIP(a), 0, a);
      continue;
    }
    assert.is(isIP(a), nodeIsIP(a), JSON.stringify(a));
  }
});

test("Buffer shim: UTF-8 text read back as latin1 and byte lengths, as Node's Buffer", () => {
  for (const text of ["", "abc", "é", "€uro", "🦊 fox", "\u0000\u007f\u0080", "a\ud800b"]) {
    assert.is(ShimBuffer.from(text, "utf8").toString("latin1"), Buffer.from(text, "utf8").toString("latin1"), text);
    assert.is(ShimBuffer.byteLength(text), Buffer.byteLength(text), text);
    assert.is(ShimBuffer.from(text).toString(), Buffer.from(text).toString(), text);
  }
});

test("Buffer shim: what it was not made for throws instead of answering wrongly", () => {
  assert.throws(() => ShimBuffer.from("aGk=", "base64"), /only makes buffers from UTF-8/);
  assert.throws(() => ShimBuffer.from([1, 2] as unknown as string), /only makes buffers from UTF-8/);
});

test.run();
