// The web UI's content views (addons/web/ui/lib/views): choosing a view from the Content-Type
// and the bytes; JSON re-indented without losing a digit; HTML/XML, CSS and JavaScript laid
// out; form and multipart fields; hex dumps; images by type and by magic bytes. Hostile input
// (broken markup, unterminated strings, bad escapes, cut multipart bodies, huge inputs) gives
// what can be read and never throws.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatCode } from "../../addons/web/ui/lib/views/code.ts";
import { multipartBoundary, parseMultipart, parseUrlEncoded } from "../../addons/web/ui/lib/views/form.ts";
import { hexDump, looksBinary } from "../../addons/web/ui/lib/views/hex.ts";
import { charsetOf, chooseView, decodeText, renderView, sniffImage } from "../../addons/web/ui/lib/views/index.ts";
import { prettyJson } from "../../addons/web/ui/lib/views/json.ts";
import { formatMarkup } from "../../addons/web/ui/lib/views/markup.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

test("prettyJson: nested objects and arrays, empty ones on one line", () => {
  assert.is(
    prettyJson('{"a":1,"b":[1,2,{}],"c":{"d":[]}}'),
    '{\n  "a": 1,\n  "b": [\n    1,\n    2,\n    {}\n  ],\n  "c": {\n    "d": []\n  }\n}',
  );
  assert.is(prettyJson("[]"), "[]");
  assert.is(prettyJson("  42 "), "42");
  assert.is(prettyJson('"s"'), '"s"');
});

test("prettyJson: big numbers, duplicate keys, escapes and brackets inside strings survive exactly", () => {
  assert.is(
    prettyJson('{"id":12345678901234567890123,"id":1.0e+400}'),
    '{\n  "id": 12345678901234567890123,\n  "id": 1.0e+400\n}',
  );
  assert.is(prettyJson('{"s":"a,b:{c}[d] \\"q\\" \\\\"}'), '{\n  "s": "a,b:{c}[d] \\"q\\" \\\\"\n}');
  assert.is(prettyJson('{"u":"\\u00e9 é 🦊"}'), '{\n  "u": "\\u00e9 é 🦊"\n}');
});

test("prettyJson: not JSON is null (broken, cut, JavaScript-isms, empty)", () => {
  for (const bad of ["", "{", '{"a":}', "{a:1}", "[1,]", "'x'", "NaN", '{"a":1}x', "\u0000"]) {
    assert.is(prettyJson(bad), null, JSON.stringify(bad));
  }
});

test("prettyJson: deep nesting and a large document stay linear", () => {
  const deep = "[".repeat(5000) + "]".repeat(5000);
  assert.ok(prettyJson(deep)!.split("\n").length > 5000);
  const big = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i}` })));
  assert.is(prettyJson(big)!.split("\n").length, 20_000 * 4 + 2);
});

test("formatMarkup: HTML indented by nesting, short text inline, void elements close nothing", () => {
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>Home</title></head><body><div class="a"><p>Hi <b>there</b></p><br><img src="x.png"></div></body></html>';
  assert.is(
    formatMarkup(html, true),
    [
      "<!doctype html>",
      "<html>",
      "  <head>",
      '    <meta charset="utf-8">',
      "    <title>Home</title>",
      "  </head>",
      "  <body>",
      '    <div class="a">',
      "      <p>",
      "        Hi",
      "        <b>there</b>",
      "      </p>",
      "      <br>",
      '      <img src="x.png">',
      "    </div>",
      "  </body>",
      "</html>",
    ].join("\n"),
  );
});

test("formatMarkup: script and style content kept whole, '>' inside attribute values, comments", () => {
  const html = '<div data-x="a>b"><script>if (a < b && c > d) { x("</div>"); }</script><!-- a <b> comment --></div>';
  const out = formatMarkup(html, true);
  assert.ok(out.includes('<div data-x="a>b">'));
  assert.ok(out.includes('if (a < b && c > d) { x("</div>"); }'));
  assert.ok(out.includes("<!-- a <b> comment -->"));
});

test("formatMarkup: XML keeps case, self-closing tags, CDATA and processing instructions", () => {
  const xml = '<?xml version="1.0"?><Root><Item id="1"/><Item><![CDATA[a < b]]></Item><Name>x</Name></Root>';
  assert.is(
    formatMarkup(xml, false),
    [
      '<?xml version="1.0"?>',
      "<Root>",
      '  <Item id="1"/>',
      "  <Item>",
      "    <![CDATA[a < b]]>",
      "  </Item>",
      "  <Name>x</Name>",
      "</Root>",
    ].join("\n"),
  );
});

test("formatMarkup: broken markup is laid out as far as it goes, never throws", () => {
  for (const bad of [
    "<",
    "<<<>>>",
    "</a></b></c>",
    "<a href='x>",
    "<!--",
    "<![CDATA[",
    "a < b > c",
    "<p><p><p>",
    "<script>",
  ]) {
    assert.type(formatMarkup(bad, true), "string", bad);
    assert.type(formatMarkup(bad, false), "string", bad);
  }
  assert.is(formatMarkup("</a></b>", true), "</a>\n</b>", "closing more than opened never indents negatively");
});

test("formatCode: minified CSS gets a declaration a line; strings and comments untouched", () => {
  const css = 'a{color:red;background:url("x;{}.png")}/* a{b} */@media (max-width:1px){b{margin:0}}';
  assert.is(
    formatCode(css, "css"),
    [
      "a {",
      "  color:red;",
      '  background:url("x;{}.png")',
      "}",
      "/* a{b} */@media (max-width:1px) {",
      "  b {",
      "    margin:0",
      "  }",
      "}",
    ].join("\n"),
  );
});

test("formatCode: minified JavaScript is broken into statements; readable code is left alone", () => {
  const min = `function f(a){for(var i=0;i<a.length;i++){if(a[i]==="}")return/[{;]/.test(a)}return"{;}"}`.repeat(4);
  const out = formatCode(min, "javascript");
  assert.ok(out.split("\n").length > 10);
  assert.ok(out.includes("for(var i=0;i<a.length;i++) {"), out);
  assert.ok(out.includes('"{;}"'));
  assert.ok(out.includes("/[{;]/"));
  const readable = "function f() {\n  return 1;\n}\n";
  assert.is(formatCode(readable, "javascript"), readable);
});

test("formatCode: unterminated strings, comments and regexes do not throw", () => {
  for (const bad of ['"abc', "/* open", "`tmpl", "x = /[abc", "}}}}", "{{{{", "'\\"]) {
    assert.type(formatCode(bad.padEnd(300, " "), "javascript"), "string", bad);
    assert.type(formatCode(bad, "css"), "string", bad);
  }
});

test("parseUrlEncoded: order, repeats, + as space, bad escapes kept as written", () => {
  assert.equal(parseUrlEncoded("a=1&b=two+words&a=3&empty=&flag&=v&&"), [
    { name: "a", value: "1" },
    { name: "b", value: "two words" },
    { name: "a", value: "3" },
    { name: "empty", value: "" },
    { name: "flag", value: "" },
    { name: "", value: "v" },
  ]);
  assert.equal(parseUrlEncoded("x=%E2%82%AC&y=%zz%41&z=%E2%82"), [
    { name: "x", value: "€" },
    { name: "y", value: "%zzA" },
    { name: "z", value: "%E2%82" },
  ]);
  assert.equal(parseUrlEncoded(""), []);
});

test("multipart: boundary from the Content-Type; fields and files with their types", () => {
  assert.is(multipartBoundary('multipart/form-data; boundary="abc def"'), "abc def");
  assert.is(multipartBoundary("multipart/form-data;boundary=----x123"), "----x123");
  assert.is(multipartBoundary("multipart/form-data"), null);
  assert.is(multipartBoundary("text/plain; boundary=x"), null);
  assert.is(multipartBoundary(null), null);
  const body = enc(
    '--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nHello\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a b.png"\r\nContent-Type: image/png\r\n\r\n' +
      "\x01\x02--Xy\r\n--XyZ--\r\nepilogue",
  );
  const parts = parseMultipart(body, "XyZ");
  assert.is(parts.length, 2);
  assert.is(parts[0]!.name, "title");
  assert.is(new TextDecoder().decode(parts[0]!.body), "Hello");
  assert.is(parts[1]!.filename, "a b.png");
  assert.is(parts[1]!.contentType, "image/png");
  assert.equal([...parts[1]!.body], [1, 2, 0x2d, 0x2d, 0x58, 0x79]);
});

test("multipart: a cut body, no closing boundary, garbage and UTF-8 file names", () => {
  const cut = parseMultipart(enc('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nval'), "b");
  assert.is(cut.length, 1);
  assert.is(new TextDecoder().decode(cut[0]!.body), "val");
  assert.equal(parseMultipart(enc("no boundary here"), "b"), []);
  assert.equal(parseMultipart(new Uint8Array(0), "b"), []);
  const utf8 = new TextEncoder().encode(
    '--b\r\nContent-Disposition: form-data; name="f"; filename="é.txt"\r\n\r\nx\r\n--b--',
  );
  // Header bytes arrive as bytes; the name is read as the UTF-8 it was written in.
  assert.is(parseMultipart(utf8, "b")[0]!.filename, "é.txt");
  const headless = parseMultipart(enc("--b\r\nno head at all\r\n--b--"), "b");
  assert.is(headless.length, 1);
  assert.is(headless[0]!.name, undefined);
});

test("hexDump: offset, two groups of eight, ASCII column; the last line padded; a line limit", () => {
  const lines = hexDump(enc("Hello, World!\n\x00\xffABCDEFGH"));
  assert.is(lines.length, 2);
  assert.is(lines[0], "00000000  48 65 6c 6c 6f 2c 20 57  6f 72 6c 64 21 0a 00 c3  |Hello, World!...|");
  assert.ok(lines[1]!.startsWith("00000010  bf 41 42 43 44 45 46 47  48 "));
  assert.ok(lines[1]!.endsWith("|.ABCDEFGH|"));
  assert.is(lines[0]!.indexOf("|"), lines[1]!.indexOf("|"), "the hex column is padded: ASCII starts at one place");
  assert.equal(hexDump(new Uint8Array(0)), []);
  assert.is(hexDump(new Uint8Array(1000), 3).length, 3);
  assert.is(hexDump(new Uint8Array(10), -1).length, 0);
});

test("looksBinary: NUL, many control bytes or invalid UTF-8 are binary; text with a cut character at 4 KiB is not", () => {
  assert.ok(looksBinary(Uint8Array.from([0x41, 0x00])));
  assert.ok(looksBinary(Uint8Array.from([0xff, 0xfe, 0xfd])));
  assert.ok(looksBinary(Uint8Array.from({ length: 100 }, (_, i) => (i % 2 ? 1 : 65))));
  assert.not.ok(looksBinary(enc("plain text\r\n\ttabbed")));
  assert.not.ok(looksBinary(new Uint8Array(0)));
  const euros = enc("€".repeat(3000)); // 3 bytes each: the 4096-byte sample cuts one
  assert.not.ok(looksBinary(euros));
});

test("chooseView: by Content-Type first, then by the bytes", () => {
  const t = enc("x");
  const cases: Array<[string | null, Uint8Array, string]> = [
    ["application/json; charset=utf-8", t, "json"],
    ["application/problem+json", t, "json"],
    ["text/html", t, "html"],
    ["application/xhtml+xml", t, "html"],
    ["application/atom+xml", t, "xml"],
    ["TEXT/XML", t, "xml"],
    ["text/css", t, "css"],
    ["application/javascript", t, "javascript"],
    ["text/ecmascript", t, "javascript"],
    ["application/x-www-form-urlencoded", t, "form"],
    ["multipart/form-data; boundary=x", t, "multipart"],
    ["multipart/form-data", t, "text"],
    ["image/png", t, "image"],
    ["image/svg+xml", t, "image"],
    [null, PNG, "image"],
    ["application/octet-stream", PNG, "hex"],
    [null, enc(' {"a": 1}'), "json"],
    [null, enc("{not json"), "text"],
    ["text/plain", Uint8Array.from([0, 1, 2]), "hex"],
    ["", enc("hello"), "text"],
  ];
  for (const [type, bytes, view] of cases) assert.is(chooseView(type, bytes), view, `${type}`);
});

test("renderView: each kind, and views that do not fit fall back with a note", () => {
  const json = renderView("json", enc('{"a":[1]}'), "application/json");
  assert.equal(json, { kind: "text", view: "json", text: '{\n  "a": [\n    1\n  ]\n}' });
  const notJson = renderView("json", enc("nope"), "application/json");
  assert.is(notJson.kind, "text");
  assert.is((notJson as { note?: string }).note, "not valid JSON: shown as text");
  const binaryAsJson = renderView("json", Uint8Array.from([0, 0xff]), "application/json");
  assert.is(binaryAsJson.kind, "hex");
  assert.equal(renderView("form", enc("a=1"), null), {
    kind: "fields",
    view: "form",
    fields: [{ name: "a", value: "1" }],
  });
  assert.is(renderView("multipart", enc("x"), "multipart/form-data").kind, "text");
  assert.equal(renderView("image", PNG, null), { kind: "image", view: "image", mimeType: "image/png" });
  assert.equal(renderView("image", PNG, "image/webp"), { kind: "image", view: "image", mimeType: "image/webp" });
  const hex = renderView("hex", new Uint8Array(16 * 5000), null);
  assert.is(hex.kind, "hex");
  assert.is((hex as { more: number }).more, 5000 - 4096);
  assert.equal(renderView("text", enc("é"), "text/plain; charset=latin1"), { kind: "text", view: "text", text: "Ã©" });
});

test("charsetOf and decodeText: named charsets, unknown ones fall back to UTF-8", () => {
  assert.is(charsetOf('text/html; charset="ISO-8859-1"'), "iso-8859-1");
  assert.is(charsetOf("text/html"), undefined);
  assert.is(charsetOf(null), undefined);
  assert.is(decodeText(Uint8Array.from([0xe9]), "iso-8859-1"), "é");
  assert.is(decodeText(enc("é"), "no-such-charset"), "é");
  assert.is(decodeText(Uint8Array.from([0xff])), "\ufffd");
});

test("sniffImage: PNG, JPEG, GIF, WebP by magic bytes; others and short inputs are null", () => {
  assert.is(sniffImage(PNG), "image/png");
  assert.is(sniffImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
  assert.is(sniffImage(enc("GIF89a")), "image/gif");
  assert.is(sniffImage(enc("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
  assert.is(sniffImage(enc("RIFF\0\0\0\0WAVE")), null);
  assert.is(sniffImage(new Uint8Array(0)), null);
  assert.is(sniffImage(enc("<svg")), null);
});

test.run();
