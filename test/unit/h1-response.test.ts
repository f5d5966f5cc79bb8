// The pure HTTP/1.x response parser of core/http/h1-response.ts: framing per
// RFC 9112 §6 (HEAD / 1xx / 204 / 304, chunked, Content-Length, until-close),
// interim responses, upgrades, trailers, limits, eof() in every state, and
// hostile input. Every well-formed case is fed whole, split at every byte
// boundary and one byte at a time, and must give the same events.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ResponseParseError, ResponseParser, type ResponseHead } from "../../core/http/h1-response.ts";

// ---------------------------------------------------------------- harness

type Ev =
  | { ev: "head"; head: ResponseHead; keepAliveAtHead: boolean }
  | { ev: "body"; data: string }
  | { ev: "end"; trailers: string[] | undefined; keepAlive: boolean | undefined }
  | { ev: "upgrade"; head: ResponseHead };

interface Outcome {
  events: Ev[];
  /** Bytes after the last response (upgrade rest, or what execute() handed back with nothing more expected). */
  after: string;
  error: string | undefined;
  idle: boolean;
}

type Method = string | [string, boolean];

/**
 * Feeds `chunks` to a fresh parser. `methods` are the requests, one expect()
 * per response: the next is expected as soon as the parser is idle and bytes
 * remain. `eof` calls eof() at the end. Any exception other than
 * ResponseParseError fails the test at once.
 */
function drive(chunks: Buffer[], methods: Method[], opts: { eof?: boolean; maxHeadSize?: number } = {}): Outcome {
  const events: Ev[] = [];
  let lastHead: ResponseHead | undefined;
  let upgraded = false;
  const after: Buffer[] = [];
  const parser = new ResponseParser(
    {
      head: (head) => {
        lastHead = head;
        events.push({ ev: "head", head, keepAliveAtHead: head.keepAlive });
      },
      body: (chunk) => {
        assert.ok(Buffer.isBuffer(chunk), "body chunks are Buffers");
        assert.ok(chunk.length > 0, "no empty body chunks");
        events.push({ ev: "body", data: chunk.toString("latin1") });
      },
      end: (trailers) => {
        events.push({ ev: "end", trailers, keepAlive: lastHead?.keepAlive });
        lastHead = undefined;
      },
      upgrade: (head, rest) => {
        events.push({ ev: "upgrade", head });
        upgraded = true;
        after.push(rest);
      },
    },
    opts.maxHeadSize,
  );
  let mi = 0;
  const expectNext = () => {
    const m = methods[mi++]!;
    if (typeof m === "string") parser.expect(m);
    else parser.expect(m[0], m[1]);
  };
  expectNext();
  let error: string | undefined;
  try {
    for (const c of chunks) {
      let buf: Buffer | undefined = c;
      while (buf && buf.length > 0) {
        if (parser.idle) {
          // after a hand-over the bytes are no longer HTTP: nothing more is expected
          if (mi < methods.length && !upgraded) expectNext();
          else {
            after.push(buf);
            break;
          }
        }
        buf = parser.execute(buf);
        if (buf && !parser.idle) assert.unreachable("execute() handed bytes back while not idle");
      }
    }
    if (opts.eof) parser.eof();
  } catch (err) {
    if (!(err instanceof ResponseParseError)) throw err;
    assert.ok(err.message.length > 0, "a ResponseParseError says why");
    error = err.message;
  }
  return { events: merge(events), after: Buffer.concat(after).toString("latin1"), error, idle: parser.idle };
}

/** Adjacent body events joined: how the body is cut into chunks depends on the reads. */
function merge(events: Ev[]): Ev[] {
  const out: Ev[] = [];
  for (const e of events) {
    const prev = out[out.length - 1];
    if (e.ev === "body" && prev?.ev === "body") prev.data += e.data;
    else out.push(e.ev === "body" ? { ...e } : e);
  }
  return out;
}

const bytes = (s: string) => Buffer.from(s, "latin1");

/** Same outcome whole, split in two at every boundary, split in three at a stride, and one byte at a time. */
function parseEverySplit(
  input: string,
  methods: Method[],
  opts: { eof?: boolean; maxHeadSize?: number } = {},
): Outcome {
  const full = bytes(input);
  const whole = drive([full], methods, opts);
  const label = (how: string) => `${JSON.stringify(input.slice(0, 60))}… ${how}`;
  for (let i = 0; i <= full.length; i++) {
    // Fresh copies: the parser may keep slices of what it was given.
    const split = drive([Buffer.from(full.subarray(0, i)), Buffer.from(full.subarray(i))], methods, opts);
    assert.equal(split, whole, label(`split at ${i}`));
  }
  for (let i = 1; i < full.length; i += 3) {
    const j = Math.min(full.length, i + 1 + (i % 7));
    const three = drive([full.subarray(0, i), full.subarray(i, j), full.subarray(j)], methods, opts);
    assert.equal(three, whole, label(`split at ${i} and ${j}`));
  }
  const single = drive(
    [...full].map((b) => Buffer.from([b])),
    methods,
    opts,
  );
  assert.equal(single, whole, label("one byte at a time"));
  return whole;
}

function heads(o: Outcome): ResponseHead[] {
  return o.events.flatMap((e) => (e.ev === "head" || e.ev === "upgrade" ? [e.head] : []));
}

function bodyOf(o: Outcome): string {
  return o.events.map((e) => (e.ev === "body" ? e.data : "")).join("");
}

function ends(o: Outcome): Array<Ev & { ev: "end" }> {
  return o.events.filter((e): e is Ev & { ev: "end" } => e.ev === "end");
}

function assertError(o: Outcome, re: RegExp, what: string): void {
  assert.ok(
    o.error !== undefined,
    `${what}: expected a ResponseParseError, got ${JSON.stringify(o.events).slice(0, 300)}`,
  );
  assert.match(o.error, re, what);
}

function assertNoError(o: Outcome, what: string): void {
  assert.is(o.error, undefined, `${what}: unexpected error`);
}

// ---------------------------------------------------------------- Content-Length

test("Content-Length body: head in wire order and spelling, body, end, keep-alive", () => {
  const o = parseEverySplit(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-MiXeD-CaSe:   spaced value  \r\ncontent-length: 11\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world",
    ["GET"],
  );
  assertNoError(o, "CL");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  const [h] = heads(o);
  assert.is(h!.httpVersion, "HTTP/1.1");
  assert.is(h!.status, 200);
  assert.is(h!.reason, "OK");
  assert.equal(h!.rawHeaders, [
    "Content-Type",
    "text/plain",
    "X-MiXeD-CaSe",
    "spaced value",
    "content-length",
    "11",
    "Set-Cookie",
    "a=1",
    "Set-Cookie",
    "b=2",
  ]);
  assert.is(h!.keepAlive, true);
  assert.is(bodyOf(o), "hello world");
  assert.equal(ends(o)[0]!.trailers, undefined);
  assert.is(o.after, "");
  assert.ok(o.idle);
});

test("Content-Length: 0 ends at the head; reasons with spaces, latin-1 and none at all", () => {
  let o = parseEverySplit("HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n", ["GET"]);
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "end"],
  );
  assert.is(heads(o)[0]!.reason, "Not Found Here");
  o = parseEverySplit("HTTP/1.1 200 D\xe9j\xe0 vu\r\nContent-Length: 0\r\n\r\n", ["GET"]);
  assert.is(heads(o)[0]!.reason, "D\xe9j\xe0 vu");
  o = parseEverySplit("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", ["GET"]);
  assertNoError(o, "no reason");
  assert.is(heads(o)[0]!.reason, "");
  assert.is(heads(o)[0]!.status, 200);
});

test("Content-Length lists and repeats of one value are accepted (RFC 9110 §8.6); leading zeros are a number", () => {
  for (const fields of [
    "Content-Length: 5, 5",
    "Content-Length: 5,5",
    "Content-Length: 5\r\nContent-Length: 5",
    "Content-Length: 5, 5\r\ncontent-length: 5",
    "Content-Length: 005",
  ]) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nabcde`, ["GET"]);
    assertNoError(o, fields);
    assert.is(bodyOf(o), "abcde", fields);
    assert.equal(
      o.events.map((e) => e.ev),
      ["head", "body", "end"],
      fields,
    );
  }
});

test("conflicting or invalid Content-Length is an error, never a guess", () => {
  const bad = [
    "Content-Length: 5, 6",
    "Content-Length: 5\r\nContent-Length: 6",
    "Content-Length: 6\r\nContent-Length: 5, 5",
    "Content-Length: -1",
    "Content-Length: +5",
    "Content-Length: 5.0",
    "Content-Length: 1e3",
    "Content-Length: 0x10",
    "Content-Length: abc",
    "Content-Length: ",
    "Content-Length: 5 5",
    "Content-Length: 5,",
    "Content-Length: 1234567890123456789012",
    "Content-Length: 5\r\nContent-Length: five",
  ];
  for (const fields of bad) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nabcdef`, ["GET"]);
    assertError(o, /Content-Length/i, fields);
    assert.is(bodyOf(o), "", `${fields}: no body delivered`);
  }
});

test("body bytes are slices of the input, not copies", () => {
  const input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  const chunks: Buffer[] = [];
  const p = new ResponseParser({ head() {}, body: (c) => chunks.push(c), end() {}, upgrade() {} });
  p.expect("GET");
  p.execute(input);
  assert.is(chunks.length, 1);
  assert.is(chunks[0]!.buffer, input.buffer, "same memory");
  assert.is(chunks[0]!.toString(), "hello");
});

// ---------------------------------------------------------------- chunked

test("chunked body: sizes in either case, extensions, trailers in wire order", () => {
  const o = parseEverySplit(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n" +
      "1;name=value\r\n \r\n" +
      'A; a="quoted;semi"\r\n0123456789\r\n' +
      "00000b\r\nabcdefghijk\r\n" +
      "0\r\nX-Checksum: abc\r\nserver-timing:  db;dur=53 \r\n\r\n",
    ["GET"],
  );
  assertNoError(o, "chunked");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  assert.is(bodyOf(o), "hello 0123456789abcdefghijk");
  assert.equal(ends(o)[0]!.trailers, ["X-Checksum", "abc", "server-timing", "db;dur=53"]);
  assert.is(heads(o)[0]!.keepAlive, true);
});

test("chunked body with no trailers ends with undefined; an empty chunked body has no body event", () => {
  let o = parseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", ["GET"]);
  assert.equal(ends(o)[0]!.trailers, undefined);
  assert.is(bodyOf(o), "abc");
  o = parseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ["GET"]);
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "end"],
  );
  o = parseEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0;ext=1\r\n\r\n", ["GET"]);
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "end"],
  );
});

test("Transfer-Encoding: the last coding decides (RFC 9112 §6.3)", () => {
  const chunkedBody = "3\r\nabc\r\n0\r\n\r\n";
  // chunked last, over one or several fields, any case: chunked framing
  for (const te of [
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
    "transfer-encoding: CHUNKED",
    "Transfer-Encoding: gzip ,  Chunked ",
  ]) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${te}\r\n\r\n${chunkedBody}`, ["GET"]);
    assertNoError(o, te);
    assert.is(bodyOf(o), "abc", te);
    assert.is(ends(o)[0]!.keepAlive, true, te);
  }
  // another coding last, known or not (RFC 9112 §6.3 rule 4): the body runs until the close and the connection is not reused
  for (const te of [
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: identity",
    "Transfer-Encoding: x-custom",
    "Transfer-Encoding: gzip\r\nTransfer-Encoding: deflate",
    "Transfer-Encoding: gzip;level=9",
    "Transfer-Encoding: ,gzip,",
  ]) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${te}\r\n\r\n${chunkedBody}`, ["GET"], { eof: true });
    assertNoError(o, te);
    assert.is(bodyOf(o), chunkedBody, `${te}: raw bytes until the close`);
    assert.equal(heads(o)[0]!.framing, { kind: "close" }, te);
    assert.is(ends(o)[0]!.keepAlive, false, te);
  }
});

test("a Transfer-Encoding that cannot be framed safely is an error: chunked twice or not last, empty, not a token list", () => {
  const bad: Array<[string, RegExp]> = [
    ["Transfer-Encoding: chunked, chunked", /chunked more than once/],
    ["Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", /chunked more than once/],
    ["Transfer-Encoding: gzip, chunked, chunked", /chunked more than once/],
    ["Transfer-Encoding: chunked, gzip", /chunked is not the final coding/],
    ["Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip", /chunked is not the final coding/],
    ["Transfer-Encoding: ", /invalid Transfer-Encoding/],
    ["Transfer-Encoding: , ,", /invalid Transfer-Encoding/],
    ["Transfer-Encoding: gzip chunked", /invalid Transfer-Encoding/],
    ['Transfer-Encoding: "chunked"', /invalid Transfer-Encoding/],
    ["Transfer-Encoding: ;chunked", /invalid Transfer-Encoding/],
    ["Transfer-Encoding: \xe7hunked", /invalid Transfer-Encoding/],
  ];
  for (const [te, re] of bad) {
    // With a Content-Length too: it must not be fallen back on.
    for (const extra of ["", "\r\nContent-Length: 3"]) {
      const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${te}${extra}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, ["GET"], {
        eof: true,
      });
      assertError(o, re, te + extra);
      assert.equal(o.events, [], `${te + extra}: nothing delivered`);
    }
  }
});

test("a response without a body is not judged by its framing fields (RFC 9112 §6.3 rule 1)", () => {
  for (const [status, method] of [
    ["200 OK", "HEAD"],
    ["304 Not Modified", "GET"],
    ["204 No Content", "GET"],
  ] as const) {
    for (const fields of [
      "Transfer-Encoding: chunked, chunked",
      "Content-Length: 5\r\nContent-Length: 6",
      "Content-Length: -1",
      "Transfer-Encoding: ",
    ]) {
      const o = parseEverySplit(`HTTP/1.1 ${status}\r\n${fields}\r\n\r\n`, [method]);
      assertNoError(o, `${method} ${status} ${fields}`);
      assert.equal(
        o.events.map((e) => e.ev),
        ["head", "end"],
      );
      assert.equal(heads(o)[0]!.framing, { kind: "none" });
    }
  }
});

test("the head reports its framing as facts: none, length (0 too), chunked, close", () => {
  const cases: Array<[string, string, unknown]> = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", { kind: "length", length: 5 }],
    ["HTTP/1.1 200 OK\r\nContent-Length: 005, 5\r\n\r\nhello", "GET", { kind: "length", length: 5 }],
    ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", { kind: "length", length: 0 }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "GET", { kind: "chunked" }],
    ["HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "GET", { kind: "chunked" }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", "GET", { kind: "close" }],
    ["HTTP/1.0 200 OK\r\n\r\nzz", "GET", { kind: "close" }],
    ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", { kind: "none" }],
    ["HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", { kind: "none" }],
    ["HTTP/1.1 204 No Content\r\n\r\n", "GET", { kind: "none" }],
  ];
  for (const [input, method, framing] of cases) {
    const o = parseEverySplit(input, [method], { eof: true });
    assertNoError(o, input);
    assert.equal(heads(o)[0]!.framing, framing, input);
  }
});

test("Transfer-Encoding overrides Content-Length, and such a connection is never reused", () => {
  for (const cl of ["Content-Length: 100", "Content-Length: 3", "Content-Length: nonsense"]) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\n${cl}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, [
      "GET",
    ]);
    assertNoError(o, cl);
    assert.is(bodyOf(o), "abc", cl);
    assert.is(ends(o)[0]!.keepAlive, false, `${cl}: keepAlive after TE + CL`);
  }
});

test("HTTP/1.0 response with Transfer-Encoding: framing is faulty, close after it (RFC 9112 §6.1)", () => {
  // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
  // Transfer-Encoding header field MUST treat the message as if the framing is faulty,
  // even if a Content-Length is present, and close the connection after processing the
  // message." So keepAlive must be false even with `Connection: keep-alive`.
  const o = parseEverySplit(
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ["GET"],
    { eof: true },
  );
  assertNoError(o, "1.0 + TE");
  assert.is(
    ends(o)[0]!.keepAlive,
    false,
    "an HTTP/1.0 response with Transfer-Encoding must not leave the connection reusable",
  );
});

// ---------------------------------------------------------------- until close

test("no framing: the body runs until the close, eof() completes it, no reuse", () => {
  const o = parseEverySplit(
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n",
    ["GET"],
    { eof: true },
  );
  assertNoError(o, "until close");
  assert.is(bodyOf(o), "<html>\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  assert.is(ends(o)[0]!.keepAlive, false);
  assert.ok(o.idle);
});

test("until-close is reported by the untilClose getter, and inBody while the body runs", () => {
  const p = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} });
  assert.is(p.idle, true);
  assert.is(p.inBody, false);
  p.expect("GET");
  assert.is(p.idle, false);
  p.execute(bytes("HTTP/1.1 200 OK\r\n"));
  assert.is(p.inBody, false);
  p.execute(bytes("\r\nsome"));
  assert.is(p.untilClose, true);
  assert.is(p.inBody, true);
  p.eof();
  assert.is(p.idle, true);
  assert.is(p.untilClose, false);
  assert.is(p.inBody, false);
});

// ---------------------------------------------------------------- no body

test("HEAD: no body whatever Content-Length or Transfer-Encoding say; what follows is the next response", () => {
  const o = parseEverySplit(
    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    ["HEAD", "HEAD", "GET"],
  );
  assertNoError(o, "HEAD");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "end", "head", "end", "head", "body", "end"],
  );
  assert.is(bodyOf(o), "hi");
  assert.is(heads(o)[0]!.keepAlive, true);
});

test("204 and 304 have no body even with Content-Length or chunked", () => {
  for (const status of ["204 No Content", "304 Not Modified"]) {
    for (const framing of ["Content-Length: 42", "Transfer-Encoding: chunked", "Content-Length: 0", ""]) {
      const o = parseEverySplit(
        `HTTP/1.1 ${status}\r\n${framing}${framing ? "\r\n" : ""}\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`,
        ["GET", "GET"],
      );
      assertNoError(o, `${status} ${framing}`);
      assert.equal(
        o.events.map((e) => e.ev),
        ["head", "end", "head", "body", "end"],
        `${status} ${framing}`,
      );
      assert.is(heads(o)[0]!.status, Number(status.slice(0, 3)));
      // A 204 may carry neither field (RFC 9110 §8.6, RFC 9112 §6.1): one that announces a body may send
      // it, to be read as the next response. A 304's are the 200's it stands for (RFC 9110 §8.6, §15.4.5).
      const suspect = status.startsWith("204") && (framing === "Content-Length: 42" || framing.startsWith("Transfer"));
      assert.is(ends(o)[0]!.keepAlive, !suspect, `${status} ${framing}`);
    }
  }
});

test("method names are case-sensitive (RFC 9110 §9.1): a `head` request is not HEAD", () => {
  // RFC 9110 §9.1: "The method token is case-sensitive". Only the method HEAD
  // suppresses the body (RFC 9112 §6.3 rule 1); a server answering an extension
  // method spelled `head` with Content-Length: 5 sends five body bytes.
  const o = drive([bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")], ["head"]);
  assertNoError(o, "head");
  assert.is(bodyOf(o), "hello", "the body of the response to `head` was taken as the start of the next response");
  assert.is(o.after, "");
});

// ---------------------------------------------------------------- interim and upgrade

test("interim 100 and 103 responses are skipped before the final one", () => {
  const o = parseEverySplit(
    "HTTP/1.1 100 Continue\r\n\r\n" +
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </script.js>; rel=preload\r\n\r\n" +
      "HTTP/1.1 102 Processing\r\nContent-Length: 10\r\n\r\n" +
      "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc",
    ["POST"],
  );
  assertNoError(o, "interim");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  assert.is(heads(o)[0]!.status, 201);
  assert.equal(heads(o)[0]!.rawHeaders, ["Content-Length", "3"]);
  assert.is(bodyOf(o), "abc");
});

test("101 to an upgrade request: upgrade() with the head and the bytes after it; no head()/end()", () => {
  const o = parseEverySplit(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\x81\x05hello\x00\xff",
    [["GET", true]],
  );
  assertNoError(o, "101");
  assert.equal(
    o.events.map((e) => e.ev),
    ["upgrade"],
  );
  const h = heads(o)[0]!;
  assert.is(h.status, 101);
  assert.equal(h.rawHeaders, ["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "x"]);
  assert.is(o.after, "\x81\x05hello\x00\xff");
  assert.ok(o.idle, "the parser is done after the hand-over");
});

test("101 with an interim response before it, and with nothing after the head", () => {
  const o = parseEverySplit("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", [
    ["GET", true],
  ]);
  assert.equal(
    o.events.map((e) => e.ev),
    ["upgrade"],
  );
  assert.is(o.after, "");
});

test("101 to a request that asked for no upgrade is an error", () => {
  const o = parseEverySplit("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nraw", ["GET"]);
  assertError(o, /101|upgrade/i, "unrequested 101");
  assert.equal(o.events, []);
});

test("an upgrade request answered normally is a normal response", () => {
  const o = parseEverySplit("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nnope", [["GET", true]]);
  assertNoError(o, "426");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  assert.is(bodyOf(o), "nope");
});

// ---------------------------------------------------------------- sequences

test("several responses in sequence with expect() between: every split gives the same events", () => {
  const seq =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" +
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\nT: 1\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" +
    "HTTP/1.1 204 No Content\r\n\r\n" +
    'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n' +
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" +
    "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 5\r\n\r\nfive!";
  const o = parseEverySplit(seq, ["GET", "POST", "HEAD", "DELETE", "GET", "GET", "GET"]);
  assertNoError(o, "sequence");
  assert.equal(
    heads(o).map((h) => h.status),
    [200, 200, 200, 204, 304, 200, 500],
  );
  assert.equal(
    ends(o).map((e) => e.trailers),
    [undefined, ["T", "1"], undefined, undefined, undefined, undefined, undefined],
  );
  assert.equal(
    ends(o).map((e) => e.keepAlive),
    [true, true, true, true, true, true, false],
  );
  assert.is(bodyOf(o), "onetwofive!");
  assert.is(o.after, "");
});

test("execute() returns the bytes after a response; before expect() it returns them all", () => {
  const p = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} });
  const stray = bytes("HTTP/1.1 200 OK\r\n\r\n");
  assert.is(p.execute(stray)?.toString(), stray.toString(), "nothing expected yet");
  p.expect("GET");
  const rest = p.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"));
  assert.is(rest?.toString(), "EXTRA");
  assert.is(p.execute(bytes("more"))?.toString(), "more", "done: everything comes back");
  p.expect("GET");
  assert.is(p.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), undefined, "nothing after");
});

test("expect() while a response is under way throws", () => {
  const p = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} });
  p.expect("GET");
  assert.throws(() => p.expect("GET"));
  p.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"));
  assert.throws(() => p.expect("GET"));
  p.execute(bytes("cde"));
  p.expect("GET"); // done: fine
});

// ---------------------------------------------------------------- line endings and fields

test("bare LF line endings give the same result as CRLF", () => {
  const crlf =
    "HTTP/1.1 200 OK\r\nA: 1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nT: x\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const lf = crlf.replace(/\r\n/g, "\n");
  const mixed = crlf.replace(/\r\n/g, (_m, i: number) => (i % 2 ? "\n" : "\r\n"));
  const a = parseEverySplit(crlf, ["GET", "GET"]);
  assertNoError(a, "crlf");
  assert.equal(parseEverySplit(lf, ["GET", "GET"]), a);
  assert.equal(parseEverySplit(mixed, ["GET", "GET"]), a);
});

test("obsolete line folding is joined into one value with a space (RFC 9112 §5.2)", () => {
  const o = parseEverySplit(
    "HTTP/1.1 200 OK\r\nX-Folded: first\r\n   second\r\n\tthird\r\nNext: n\r\nContent-Length: 0\r\n\r\n",
    ["GET"],
  );
  assertNoError(o, "fold");
  assert.equal(heads(o)[0]!.rawHeaders, ["X-Folded", "first second third", "Next", "n", "Content-Length", "0"]);
});

test("folding: an empty first line or a blank continuation leaves no stray spaces at the value's ends", () => {
  // RFC 9112 §5.2 / RFC 9110 §5.5: the field value excludes leading and trailing whitespace,
  // and an obs-fold is replaced with SP *before* the value is interpreted.
  const o = parseEverySplit("HTTP/1.1 200 OK\r\nX-A:\r\n value\r\nX-B: v\r\n \r\nContent-Length: 0\r\n\r\n", ["GET"]);
  assertNoError(o, "fold edge");
  assert.equal(heads(o)[0]!.rawHeaders, ["X-A", "value", "X-B", "v", "Content-Length", "0"]);
});

test("a folded line before any field is an error", () => {
  const o = parseEverySplit("HTTP/1.1 200 OK\r\n Sneaky: yes\r\nContent-Length: 0\r\n\r\n", ["GET"]);
  assertError(o, /fold|header/i, "fold first");
});

test("keepAlive from the version and Connection", () => {
  const cases: Array<[string, boolean]> = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 0", true],
    ["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0", false],
    ["HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0", false],
    ["HTTP/1.1 200 OK\r\nConnection: upgrade\r\nconnection: close\r\nContent-Length: 0", false],
    ["HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0", true],
    ["HTTP/1.0 200 OK\r\nContent-Length: 0", false],
    ["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0", true],
    ["HTTP/1.0 200 OK\r\nConnection: Foo,  Keep-Alive \r\nContent-Length: 0", true],
    ["HTTP/1.1 200 OK\r\nConnection: keep-alive", false], // until close
  ];
  for (const [head, keepAlive] of cases) {
    const o = parseEverySplit(`${head}\r\n\r\n`, ["GET"], { eof: true });
    assertNoError(o, head);
    assert.is(ends(o)[0]!.keepAlive, keepAlive, head);
    assert.is(heads(o)[0]!.httpVersion, head.slice(0, 8));
  }
});

test("invalid status lines are errors", () => {
  const bad = [
    "HTTP/1.1 20 OK",
    "HTTP/1.1 2000 OK",
    "HTTP/1.1 abc OK",
    "HTTP/1.1  200 OK",
    "HTTP/1.1 200OK",
    "http/1.1 200 OK",
    "HTTP/2.0 200 OK",
    "HTTP/0.9 200 OK",
    "HTTP/1 200 OK",
    "HTTP/11.1 200 OK",
    "ICY 200 OK",
    " HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK\rX-Injected: 1",
    "<html>",
    "",
  ];
  for (const line of bad) {
    const o = parseEverySplit(`${line}\r\nContent-Length: 0\r\n\r\n`, ["GET"]);
    assertError(o, /status line|version|header/i, JSON.stringify(line));
    assert.equal(o.events, [], JSON.stringify(line));
  }
});

test("status codes below 100 and control characters in the reason phrase are errors (no client could be sent them)", () => {
  const bad = [
    "HTTP/1.1 099 Odd",
    "HTTP/1.1 000 Zero",
    "HTTP/1.1 200 O\u0001K",
    "HTTP/1.1 200 OK\u0000",
    "HTTP/1.1 200 O\u007fK",
  ];
  for (const line of bad) {
    const o = parseEverySplit(`${line}\r\nContent-Length: 0\r\n\r\n`, ["GET"]);
    assertError(o, /status code|reason phrase/i, JSON.stringify(line));
    assert.equal(o.events, [], JSON.stringify(line));
  }
  for (const line of ["HTTP/1.1 100 Continue", "HTTP/1.1 999 Custom", "HTTP/1.1 200 O\tK \u00e9"]) {
    const o = parseEverySplit(
      `${line}\r\nContent-Length: 0\r\n\r\n${line.includes(" 100 ") ? "HTTP/1.1 204 No Content\r\n\r\n" : ""}`,
      ["GET"],
    );
    assert.is(o.error, undefined, `${JSON.stringify(line)}: ${o.error}`);
  }
});

test("header names with spaces or non-token characters, and lines without a colon, are errors", () => {
  const bad = [
    "Bad Name: x",
    "Name : x",
    "Name\t: x",
    ": x",
    "no-colon-here",
    "X\x00: y",
    "X(y): z",
    "X\xe9: y",
    "[x]: y",
  ];
  for (const field of bad) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\nA: b\r\n${field}\r\nContent-Length: 0\r\n\r\n`, ["GET"]);
    assertError(o, /header/i, JSON.stringify(field));
  }
});

test("field values with NUL or a bare CR are refused or the character replaced with SP (RFC 9110 §5.5, RFC 9112 §2.2)", () => {
  // RFC 9110 §5.5: "a recipient of CR, LF, or NUL within a field value MUST either reject
  // the message or replace each of those characters with SP before further processing or
  // forwarding of that message." RFC 9112 §2.2 says the same of a bare CR. The proxy
  // forwards these values to its client; keeping the byte is not one of the options.
  const kept: string[] = [];
  for (const [value, label] of [
    ["a\x00b", "NUL"],
    ["a\rb", "bare CR"],
    ["a\rSet-Cookie: evil=1", "bare CR before a fake field"],
  ] as const) {
    for (const where of ["head", "trailer"]) {
      const input =
        where === "head"
          ? `HTTP/1.1 200 OK\r\nX-V: ${value}\r\nContent-Length: 0\r\n\r\n`
          : `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-V: ${value}\r\n\r\n`;
      const o = drive([bytes(input)], ["GET"]);
      if (o.error !== undefined) continue; // rejected: fine
      const fields = where === "head" ? heads(o)[0]!.rawHeaders : ends(o)[0]!.trailers!;
      const v = fields[fields.indexOf("X-V") + 1]!;
      if (/[\r\n\x00]/.test(v)) kept.push(`${label} in a ${where} field value was kept: ${JSON.stringify(v)}`);
    }
  }
  assert.equal(kept, [], kept.join("; "));
});

// ---------------------------------------------------------------- chunk framing errors

test("bad chunk sizes are errors: non-hex, empty, signs, prefixes, too many digits", () => {
  const bad = [
    "zz",
    "",
    "-5",
    "+5",
    "0x5",
    "5 5",
    "g",
    "ffffffffffffffff",
    "10000000000000000",
    "1".repeat(40),
    ";ext",
  ];
  for (const size of bad) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`, [
      "GET",
    ]);
    assertError(o, /chunk size/i, JSON.stringify(size));
    assert.is(bodyOf(o), "", JSON.stringify(size));
  }
});

test("a chunk size beyond what a Number counts exactly is refused (RFC 9112 §7.1)", () => {
  // RFC 9112 §7.1: "Recipients MUST anticipate potentially large hexadecimal numerals and
  // prevent parsing errors due to integer conversion overflows or precision loss due to
  // integer representation." 15 hex digits go up to 2^60, above Number.MAX_SAFE_INTEGER
  // (2^53 - 1): "20000000000001" (2^53 + 1) parses to 2^53, and subtracting small reads
  // from 2^60 leaves it unchanged, so the parser would count a different length than
  // the server meant.
  for (const size of ["20000000000001", "fffffffffffffff"]) {
    assert.ok(parseInt(size, 16) > Number.MAX_SAFE_INTEGER);
    const o = drive([bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nabc`)], ["GET"]);
    assertError(o, /chunk/i, `chunk size ${size} (${parseInt(size, 16)}) was accepted`);
  }
});

test("a chunk-size line that never ends is refused once it is too long, not buffered forever", () => {
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  // all on one line: an extension 10 KB long
  let o = drive([bytes(`${head}5;${"x".repeat(10_000)}\r\nhello\r\n0\r\n\r\n`)], ["GET"]);
  assertError(o, /chunk size line/i, "long extension, whole");
  // trickled: refused before the LF ever comes
  const p = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} });
  p.expect("GET");
  p.execute(bytes(`${head}5;`));
  let threw: unknown;
  for (let i = 0; i < 20_000 && !threw; i++) {
    try {
      p.execute(bytes("x"));
    } catch (err) {
      threw = err;
    }
  }
  assert.instance(threw, ResponseParseError);
  // and the same outcome at every split of a shorter over-long line
  o = parseEverySplit(`${head}5;${"y".repeat(4200)}\r\nhello\r\n0\r\n\r\n`.slice(0, head.length + 4210), ["GET"]);
  assertError(o, /chunk size line/i, "every split");
});

test("missing CRLF after chunk data is an error", () => {
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const tail of [
    "5\r\nhelloX\r\n0\r\n\r\n",
    "5\r\nhello\rX0\r\n\r\n",
    "5\r\nhello0\r\n\r\n",
    "3\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello \r\n0\r\n\r\n",
  ]) {
    const o = parseEverySplit(head + tail, ["GET"]);
    assertError(o, /CRLF|chunk size/i, JSON.stringify(tail));
  }
});

// ---------------------------------------------------------------- limits

test("a head larger than the limit is refused, whole, split, and trickled without an end", () => {
  const big =
    `HTTP/1.1 200 OK\r\n${"X-Pad: " + "p".repeat(90) + "\r\n"}`.repeat(1) +
    `X-Big: ${"b".repeat(2000)}\r\nContent-Length: 0\r\n\r\n`;
  const o = parseEverySplit(big, ["GET"], { maxHeadSize: 1024 });
  assertError(o, /larger than 1024/, "big head");
  // a head that never ends: refused once past the limit, never buffered without bound
  const p = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} }, 1024);
  p.expect("GET");
  p.execute(bytes("HTTP/1.1 200 OK\r\n"));
  let fed = 0;
  let threw: unknown;
  while (fed < 100_000 && !threw) {
    try {
      p.execute(bytes("X-A: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n"));
      fed += 31;
    } catch (err) {
      threw = err;
    }
  }
  assert.instance(threw, ResponseParseError);
  assert.ok(fed <= 1024, `refused after ${fed} bytes`);
  // the default limit is 64 KiB
  const def = drive([bytes(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70_000)}\r\nContent-Length: 0\r\n\r\n`)], ["GET"]);
  assertError(def, /larger than 65536/, "default limit");
});

test("a head right at the size limit gets the same verdict however it is split", () => {
  // The verdict on a head must not depend on how TCP cut it. A head whose field
  // section ends exactly at the limit is accepted when it comes in one read; when
  // it is trickled, the parser counts the not-yet-complete CRLFCRLF too and refuses.
  const limit = 1024;
  for (let size = limit - 6; size <= limit + 6; size++) {
    const prefix = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
    const input = `${prefix}${"p".repeat(size - prefix.length)}\r\n\r\n`;
    const whole = drive([bytes(input)], ["GET"], { maxHeadSize: limit });
    const trickled = drive(
      [...bytes(input)].map((b) => Buffer.from([b])),
      ["GET"],
      { maxHeadSize: limit },
    );
    assert.equal(
      trickled,
      whole,
      `head of ${input.length} bytes (limit ${limit}): whole ${whole.error ?? "accepted"}, trickled ${trickled.error ?? "accepted"}`,
    );
  }
});

test("trailer section: a single oversize trailer line is refused however it is split", () => {
  // execute() checks a trailer line against maxHeadSize only while it waits for
  // its LF: a line that arrives whole in one read is accepted at any length.
  const input = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${"t".repeat(5000)}\r\n\r\n`;
  const whole = drive([bytes(input)], ["GET"], { maxHeadSize: 1024 });
  const trickled = drive(
    [...bytes(input)].map((b) => Buffer.from([b])),
    ["GET"],
    { maxHeadSize: 1024 },
  );
  assertError(trickled, /trailer/i, "trickled");
  assert.equal(whole, trickled, `whole: ${whole.error ?? "accepted"}; trickled: ${trickled.error}`);
});

test("trailer section: many small trailer fields are bounded by the size limit", () => {
  // "trailer section larger than N bytes" is the error the parser has; today it is
  // only applied per line, so 1000 fields of up to maxHeadSize each (64 MiB at the
  // default) are all buffered. The section as a whole must stay within the limit,
  // as the head does.
  const fields = Array.from({ length: 40 }, (_, i) => `X-T${i}: ${"v".repeat(100)}\r\n`).join("");
  const o = drive([bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${fields}\r\n`)], ["GET"], {
    maxHeadSize: 1024,
  });
  assertError(o, /trailer/i, `a ${fields.length}-byte trailer section with maxHeadSize 1024`);
});

test("too many trailer fields are refused", () => {
  const fields = Array.from({ length: 1500 }, (_, i) => `T${i}: v\r\n`).join("");
  const o = drive([bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${fields}\r\n`)], ["GET"]);
  assertError(o, /trailer/i, "1500 trailer fields");
});

test("an invalid trailer line is an error", () => {
  for (const line of ["no colon", "Bad Name: x", " folded: x"]) {
    const o = parseEverySplit(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n${line}\r\n\r\n`, [
      "GET",
    ]);
    assertError(o, /header|trailer/i, JSON.stringify(line));
  }
});

// ---------------------------------------------------------------- eof()

test("eof() in each state", () => {
  const cut = (input: string, method: Method = "GET") => drive([bytes(input)], [method], { eof: true });
  // before expect() and after a complete response: nothing to say
  const idle = new ResponseParser({ head() {}, body() {}, end() {}, upgrade() {} });
  idle.eof();
  let o = cut("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  assertNoError(o, "after a complete response");
  // no byte at all
  o = cut("");
  assertError(o, /without a response/, "nothing");
  // after an interim response only
  o = cut("HTTP/1.1 100 Continue\r\n\r\n");
  assertError(o, /without a response|closed/, "after 100 only");
  // mid-head
  for (const partial of ["H", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n\r"]) {
    o = cut(partial);
    assertError(o, /middle of the response head/, JSON.stringify(partial));
  }
  // mid-body in every framing state
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const partial of [
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    chunked,
    `${chunked}5`,
    `${chunked}5\r\nab`,
    `${chunked}5\r\nabcde`,
    `${chunked}5\r\nabcde\r`,
    `${chunked}5\r\nabcde\r\n`,
    `${chunked}0\r\n`,
    `${chunked}0\r\nT: 1\r\n`,
    `${chunked}0\r\nT: 1`,
  ]) {
    o = cut(partial);
    assertError(o, /before the body was complete/, JSON.stringify(partial));
  }
  // until-close: the close is the end
  o = cut("HTTP/1.1 200 OK\r\n\r\nall of it");
  assertNoError(o, "until close");
  assert.is(bodyOf(o), "all of it");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "body", "end"],
  );
  o = cut("HTTP/1.0 200 OK\r\n\r\n");
  assert.equal(
    o.events.map((e) => e.ev),
    ["head", "end"],
    "empty until-close body",
  );
  // after an upgrade: the parser is done
  o = cut("HTTP/1.1 101 Switching Protocols\r\n\r\n", ["GET", true]);
  assertNoError(o, "after upgrade");
});

// ---------------------------------------------------------------- hostile input

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

const SEEDS = [
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\na\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00",
  "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest",
  "HTTP/1.1 200 OK\nX: a\n  folded\nContent-Length: 1, 1\n\nz",
];
const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  ":",
  " ",
  "\t",
  ";",
  ",",
  "0",
  "f",
  "-",
  "HTTP/1.1 ",
  "Content-Length: ",
  "Transfer-Encoding: chunked",
  "\r\n\r\n",
  "\x00",
  "\xff",
];

function mutate(input: Buffer, rand: () => number): Buffer {
  const int = (n: number) => Math.floor(rand() * n);
  let b = Buffer.from(input);
  for (let rounds = 1 + int(3); rounds > 0; rounds--) {
    const at = int(b.length + 1);
    switch (int(6)) {
      case 0:
        if (b.length) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1:
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + int(6) }, () => int(256))),
          b.subarray(at),
        ]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(6))]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), bytes(TOKENS[int(TOKENS.length)]!), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(30)), b.subarray(at)]);
        break;
      case 5:
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

function randomSplit(input: Buffer, rand: () => number): Buffer[] {
  const cuts = [0];
  for (let k = Math.floor(rand() * 4); k > 0; k--) cuts.push(Math.floor(rand() * (input.length + 1)));
  cuts.push(input.length);
  cuts.sort((a, b) => a - b);
  return cuts.slice(1).map((c, i) => input.subarray(cuts[i], c));
}

function wellFormed(o: Outcome, label: string): void {
  // head (body* end) | upgrade, repeated; nothing else, in that order
  let inResponse = false;
  for (const e of o.events) {
    if (e.ev === "head" || e.ev === "upgrade") {
      assert.not.ok(inResponse, `${label}: a head inside a response`);
      inResponse = e.ev === "head";
    } else {
      assert.ok(inResponse, `${label}: ${e.ev} outside a response`);
      if (e.ev === "end") inResponse = false;
    }
  }
}

test("4000 seeded mutations of valid responses: parse or ResponseParseError, the same for any split", () => {
  const methods: Method[] = [["GET", true], "GET", "HEAD", "POST"];
  const seen = { ok: 0, error: 0 };
  for (let seed = 1; seed <= 4000; seed++) {
    const rand = prng(seed);
    const input = mutate(bytes(SEEDS[seed % SEEDS.length]!), rand);
    const label = `seed ${seed} ${JSON.stringify(input.toString("latin1"))}`;
    let whole: Outcome;
    let split: Outcome;
    try {
      whole = drive([input], methods, { eof: seed % 2 === 0, maxHeadSize: 256 });
      split = drive(randomSplit(input, rand), methods, { eof: seed % 2 === 0, maxHeadSize: 256 });
    } catch (err) {
      assert.unreachable(`${label} threw something other than ResponseParseError: ${(err as Error).stack}`);
      return;
    }
    wellFormed(whole, label);
    assert.equal(split, whole, label);
    seen[whole.error === undefined ? "ok" : "error"]++;
  }
  assert.ok(seen.ok > 300 && seen.error > 300, JSON.stringify(seen));
});

test("2000 random byte strings, some after a status line: only ResponseParseError, never a hang", () => {
  const rand = prng(777);
  for (let i = 0; i < 2000; i++) {
    const noise = Buffer.from(Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256)));
    const prefix =
      i % 3 === 0 ? "" : i % 3 === 1 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const input = Buffer.concat([bytes(prefix), noise]);
    let o: Outcome;
    try {
      o = drive(randomSplit(input, rand), ["GET", "GET", "GET"], { eof: true, maxHeadSize: 512 });
    } catch (err) {
      assert.unreachable(`input ${i} threw: ${(err as Error).stack}`);
      return;
    }
    wellFormed(o, `input ${i}`);
  }
});

test.run();
