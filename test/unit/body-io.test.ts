// Reading a body into one buffer of its declared size, and writing a large
// body in slices with back-pressure: the two halves of "a buffered body costs
// about its own size" (issue 17).
import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { PassThrough, Readable, Writable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SLICE_BYTES, hasNoBody, readBody, writeSliced } from "../../core/http/body.ts";

const chunksOf = (total: number, size: number) => {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < total; at += size, i++) out.push(Buffer.alloc(Math.min(size, total - at), i % 251));
  return out;
};

test("declared length: the chunks land in one buffer of that size, byte-exact", async () => {
  const parts = chunksOf(100_000, 7_000);
  const read = await readBody(Readable.from(parts), Infinity, 0, { expected: 100_000 });
  assert.ok(read.complete);
  if (!read.complete) return;
  assert.equal(read.body, Buffer.concat(parts));
  assert.is(read.body.buffer.byteLength >= 100_000, true);
});

test("a body shorter than declared: an exact copy (no unfilled byte reachable)", async () => {
  const read = await readBody(Readable.from([Buffer.from("abc")]), Infinity, 0, { expected: 1000 });
  assert.ok(read.complete);
  if (!read.complete) return;
  assert.is(read.body.toString(), "abc");
  assert.is(read.body.length, 3);
  assert.ok(read.body.buffer.byteLength < 1000 || read.body.byteOffset + 3 <= read.body.buffer.byteLength);
});

test("a body longer than declared: nothing lost, the rest kept as chunks", async () => {
  const parts = [Buffer.from("hello "), Buffer.from("world, and more")];
  const read = await readBody(Readable.from(parts), Infinity, 0, { expected: 8 });
  assert.ok(read.complete);
  if (read.complete) assert.is(read.body.toString(), "hello world, and more");
});

test("declared length above the limit: no preallocation, the limit still stops the read", async () => {
  const parts = chunksOf(50, 10);
  const read = await readBody(Readable.from(parts), 25, 0, { expected: 50 });
  assert.not.ok(read.complete);
  if (!read.complete) assert.is(Buffer.concat(read.chunks).length, 30);
});

test("admit refusing a chunk stops the read there with every byte read so far", async () => {
  let admitted = 0;
  const src = new PassThrough();
  const reading = readBody(src, Infinity, 0, { admit: (n) => (admitted += n) <= 25 });
  for (const c of chunksOf(50, 10)) src.write(c);
  const read = await reading;
  assert.not.ok(read.complete);
  if (!read.complete) assert.is(Buffer.concat(read.chunks).length, 30);
  assert.ok(src.isPaused());
});

test("admit refusing with a declared buffer: the chunks handed back are a copy of what was read", async () => {
  const src = new PassThrough();
  const reading = readBody(src, Infinity, 0, { expected: 1_000_000, admit: () => false });
  src.write(Buffer.from("first"));
  const read = await reading;
  assert.not.ok(read.complete);
  if (!read.complete) {
    assert.is(Buffer.concat(read.chunks).toString(), "first");
    assert.ok(read.chunks[0]!.buffer.byteLength < 1_000_000);
  }
});

test("writeSliced: a large body reaches a slow writer whole and in order; no write ever exceeds a slice", async () => {
  const body = Buffer.concat(chunksOf(5 * SLICE_BYTES + 123, 4096));
  const got: Buffer[] = [];
  let largest = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _e, cb) {
      largest = Math.max(largest, chunk.length);
      got.push(chunk);
      setImmediate(cb);
    },
  });
  const finished = new Promise((r) => slow.once("finish", r));
  await writeSliced(slow, body, true);
  await finished;
  assert.equal(Buffer.concat(got), body);
  assert.ok(largest <= SLICE_BYTES);
});

test("writeSliced: a writer that closes midway rejects", async () => {
  const body = Buffer.alloc(4 * SLICE_BYTES);
  const w = new Writable({
    highWaterMark: 1,
    write(_c, _e, cb) {
      setImmediate(() => {
        cb();
        w.destroy();
      });
    },
  });
  await writeSliced(w, body, true).then(
    () => assert.unreachable("should reject"),
    (e: Error) => assert.match(e.message, /closed/),
  );
});

test("writeSliced without end leaves the writer open", async () => {
  const w = new PassThrough();
  w.resume();
  await writeSliced(w, Buffer.alloc(10), false);
  assert.not.ok(w.writableEnded);
});

/** An HTTP/1 request head as Node's server parser leaves it, before the parser reached its end. */
function requestHead(rawHeaders: string[], opts: { version?: 1 | 2; complete?: boolean } = {}): IncomingMessage {
  const msg = new IncomingMessage(new Socket());
  msg.method = "GET";
  msg.httpVersionMajor = opts.version ?? 1;
  msg.rawHeaders = rawHeaders;
  msg.complete = opts.complete ?? false;
  return msg;
}

test("hasNoBody: an HTTP/1 request without Content-Length or Transfer-Encoding has none (RFC 9112 §6.3)", () => {
  assert.ok(hasNoBody(requestHead(["Host", "a.test", "Accept", "*/*"])));
  assert.ok(hasNoBody(requestHead([])));
  // Names in any case; a header whose name only has the same length is no body.
  assert.not.ok(hasNoBody(requestHead(["Host", "a.test", "CONTENT-LENGTH", "0"])));
  assert.not.ok(hasNoBody(requestHead(["transfer-Encoding", "chunked"])));
  assert.ok(hasNoBody(requestHead(["X-Content-Lengt", "5", "X-Transfer-Encodi", "x"])));
});

test("hasNoBody: HTTP/2 streams and responses are never assumed empty", () => {
  assert.not.ok(hasNoBody(requestHead(["host", "a.test"], { version: 2 })));
  const response = requestHead([]);
  (response as { method: string | null }).method = null;
  assert.not.ok(hasNoBody(response), "a response without framing headers runs until close");
  assert.not.ok(hasNoBody(new PassThrough()));
});

test("hasNoBody: a parsed-to-the-end request is empty only with nothing buffered", () => {
  const done = requestHead(["Content-Length", "3"], { complete: true });
  assert.ok(hasNoBody(done));
  done.push(Buffer.from("abc"));
  assert.not.ok(hasNoBody(done));
});

test.run();
