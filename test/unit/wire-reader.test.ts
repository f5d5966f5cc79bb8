// The end-to-end suites' raw HTTP/1 reader (test/helpers/clients.ts): a
// response is framed the same however its bytes are cut into reads, and a
// large body arriving in many reads is not copied again on every read (that
// made a 24 MiB body take longer than the tests' waits on a busy machine).
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ByteList, ResponseFramer, WireClient, parseResponse } from "../helpers/clients.ts";

const MiB = 1024 * 1024;

const CASES: Array<{ name: string; text: string; method?: string; closed?: boolean; body: string; rest: string }> = [
  {
    name: "Content-Length",
    text: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT",
    body: "hello",
    rest: "NEXT",
  },
  {
    name: "chunked with trailers",
    text: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n10\r\nxxxxxxxxxxxxxxxx\r\n0\r\nX-T: 1\r\n\r\nNEXT",
    body: "hello xxxxxxxxxxxxxxxx",
    rest: "NEXT",
  },
  { name: "HEAD", text: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nNEXT", method: "HEAD", body: "", rest: "NEXT" },
  { name: "204", text: "HTTP/1.1 204 No Content\r\nX: y\r\n\r\nNEXT", body: "", rest: "NEXT" },
  {
    name: "delimited by the close",
    text: "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nup to\r\n\r\nthe close",
    closed: true,
    body: "up to\r\n\r\nthe close",
    rest: "",
  },
];

test("parseResponse frames each kind of response; nothing after it is taken", () => {
  for (const c of CASES) {
    const buf = Buffer.from(c.text, "latin1");
    const p = parseResponse(buf, { method: c.method, closed: c.closed });
    assert.ok(p, c.name);
    assert.is(p.res.body.toString("latin1"), c.body, c.name);
    assert.is(buf.subarray(p.used).toString("latin1"), c.rest, c.name);
    assert.is(p.res.raw.length, p.used, c.name);
  }
  assert.is(
    parseResponse(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell")),
    undefined,
    "one byte short",
  );
  assert.is(
    parseResponse(Buffer.from("HTTP/1.1 200 OK\r\n\r\nno close yet")),
    undefined,
    "a close-delimited body before the close",
  );
});

test("the incremental framer finds the same end wherever the bytes are cut (CRLFs split across reads too)", () => {
  for (const c of CASES) {
    const buf = Buffer.from(c.text, "latin1");
    const want = buf.length - c.rest.length;
    for (let i = 0; i <= buf.length; i++) {
      for (const j of [i, Math.min(buf.length, i + 1), Math.min(buf.length, i + 2), buf.length]) {
        const bytes = new ByteList();
        const framer = new ResponseFramer(c.method);
        let end: number | undefined;
        for (const piece of [buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)]) {
          bytes.push(piece);
          end = framer.step(bytes, false);
        }
        if (c.closed) end = framer.step(bytes, true);
        assert.is(end, want, `${c.name}, cut at ${i} and ${j}`);
        assert.is(
          framer.response(bytes.slice(0, end)).body.toString("latin1"),
          c.body,
          `${c.name}, cut at ${i} and ${j}`,
        );
      }
    }
  }
});

/** A loopback server that answers once with `response`, written in 64 KiB pieces. */
async function answerWith(response: Buffer): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => {
      for (let off = 0; off < response.length; off += 64 * 1024) s.write(response.subarray(off, off + 64 * 1024));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Runs `fn` counting the bytes every Buffer.concat call produced meanwhile. */
async function concatBytesDuring(fn: () => Promise<void>): Promise<number> {
  const real = Buffer.concat.bind(Buffer);
  let total = 0;
  Buffer.concat = (list: readonly Uint8Array[], length?: number) => {
    const out = real(list, length);
    total += out.length;
    return out;
  };
  try {
    await fn();
  } finally {
    Buffer.concat = real;
  }
  return total;
}

for (const framing of ["Content-Length", "chunked"] as const) {
  test(`WireClient reads an 8 MiB ${framing} body arriving in many reads, copying it about once (not once per read)`, async () => {
    const body = Buffer.alloc(8 * MiB, "b");
    const head = framing === "chunked" ? "Transfer-Encoding: chunked" : `Content-Length: ${body.length}`;
    const payload =
      framing === "chunked"
        ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")])
        : body;
    const response = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\n${head}\r\n\r\n`), payload]);
    const server = await answerWith(response);
    const c = await WireClient.connect(server.port);
    let reads = 0;
    c.socket.on("data", () => reads++);
    try {
      let got: Buffer | undefined;
      const copied = await concatBytesDuring(async () => {
        c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        got = (await c.readResponse()).body;
      });
      assert.ok(got!.equals(body), "the body, byte-exact");
      assert.ok(reads > 16, `the body came in many reads (${reads})`);
      // Joining the whole response once, and the chunked body once more: never the growing buffer per read.
      assert.ok(
        copied <= 2 * response.length + 64 * 1024,
        `${copied} bytes copied by Buffer.concat for a ${response.length}-byte response in ${reads} reads`,
      );
    } finally {
      c.destroy();
      server.close();
    }
  });
}

test.run();
