// spliceBytes (core/splice.ts): a bounded one-way transfer of exactly `length`
// bytes from one raw TCP socket to another, spliced in the kernel by the relay's
// worker, after which both sockets go back to Node. Over real loopback sockets:
// an "origin" writes into `src` (the proxy's upstream socket), the bytes leave
// through `dst` (the proxy's client socket) to a "client".
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relay } from "../../core/layers/passthrough.ts";
import { spliceBytes, spliceStats, spliceUnavailable } from "../../core/platform/splice.ts";
import { waitFor } from "../helpers/harness.ts";

const linux = process.platform === "linux";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const KiB = 1024;
const MiB = 1024 * KiB;
/** A hang guard for every wait, not a measurement. */
const LIMIT_MS = 20_000;

function within<T>(p: Promise<T>, what: string, ms = LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const open = new Set<net.Socket>();
const servers = new Set<net.Server>();

/** Two connected loopback sockets: [the connecting one, the accepted one]; both half-open capable. */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const c = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, allowHalfOpen: true });
  await new Promise<void>((r, j) => c.once("connect", r).once("error", j));
  const a = await accepted;
  server.close();
  servers.delete(server);
  for (const s of [c, a]) {
    open.add(s);
    s.on("error", () => {});
    s.once("close", () => open.delete(s));
  }
  return [c, a];
}

interface Rig {
  /** Writes into src. */
  origin: net.Socket;
  /** The proxy's upstream socket: the transfer reads it. */
  src: net.Socket;
  /** The proxy's client socket: the transfer writes it. */
  dst: net.Socket;
  /** Reads from dst. */
  client: net.Socket;
}

async function rig(): Promise<Rig> {
  const [src, origin] = await tcpPair();
  const [client, dst] = await tcpPair();
  return { origin, src, dst, client };
}

/** A promise awaited later: its failure fails the test there, not the process now. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Everything `s` receives until its peer's end. */
function collect(s: net.Socket): Promise<Buffer> {
  return handled(
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.once("end", () => resolve(Buffer.concat(chunks)));
      s.once("error", reject);
    }),
  );
}

/** The next `n` bytes `s` receives (s flowing); fails if more come within the same chunk. */
function readExactly(s: net.Socket, n: number): Promise<Buffer> {
  return handled(
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      const onData = (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= n) {
          s.off("data", onData);
          s.pause();
          if (got > n) reject(new Error(`${got - n} bytes more than the ${n} expected`));
          else resolve(Buffer.concat(chunks));
        }
      };
      s.on("data", onData);
      s.once("end", () => reject(new Error(`ended after ${got} of ${n} bytes`)));
      s.resume();
    }),
  );
}

function closed(s: net.Socket): Promise<void> {
  return s.closed ? Promise.resolve() : new Promise((r) => s.once("close", () => r()));
}

/** spliceBytes that must not decline here (Linux with koffi). */
function transfer(src: net.Socket, dst: net.Socket, length: number, first: Buffer[] = []): Promise<void> {
  const p = spliceBytes(src, dst, length, first);
  if (!p) throw new Error(`spliceBytes declined (${spliceUnavailable() ?? "no reason given"})`);
  return p;
}

test.after.each(() => {
  for (const s of open) s.destroy();
  for (const s of servers) s.close();
});

test("splice is available here (Linux, koffi): the rest of this suite tests the kernel path", () => {
  if (!linux) return;
  const probe = spliceBytes(new net.Socket(), new net.Socket(), 0, []);
  assert.is(probe, undefined, "unconnected sockets are declined");
  assert.is(spliceUnavailable(), undefined);
});

for (const length of [0, 1, 5 * KiB + 3, 64 * MiB]) {
  test(`exactly ${length} bytes arrive byte-exact (SHA-256), nothing more, and dst still works after`, async () => {
    if (!linux) return;
    const r = await rig();
    const body = randomBytes(length);
    const movedBefore = spliceStats.bytesMoved;
    const atClient = collect(r.client);
    const done = transfer(r.src, r.dst, length, []);
    r.origin.write(body);
    await within(done, "the transfer");
    r.dst.end(Buffer.from("TAIL"));
    const got = await within(atClient, "the client's bytes");
    assert.is(got.length, length + 4);
    assert.is(sha(got.subarray(0, length)), sha(body), "the body, byte-exact");
    assert.is(got.subarray(length).toString(), "TAIL", "written by Node after the transfer, in order");
    if (length >= 1 * MiB)
      assert.ok(spliceStats.bytesMoved - movedBefore > length / 2, "most of it moved in the kernel");
  });
}

test("`first`, then what Node had buffered from src, then the kernel's bytes: combined in order", async () => {
  if (!linux) return;
  const r = await rig();
  const early = randomBytes(200 * KiB);
  const late = randomBytes(3 * MiB + 11);
  r.origin.write(early);
  // Paused: Node reads up to its high-water mark, the rest stays in the kernel.
  await waitFor(() => r.src.readableLength > 0 || undefined, "bytes in src's Node buffer");
  const first = [r.src.read(1000) as Buffer, r.src.read(24) as Buffer];
  assert.ok(first[0] && first[1], "read the first bytes into JS");
  const buffered = r.src.readableLength;
  assert.ok(buffered > 0, "Node still holds some of src's bytes");
  const length = early.length + late.length;
  const movedBefore = spliceStats.bytesMoved;
  const atClient = collect(r.client);
  const done = transfer(r.src, r.dst, length, first);
  assert.is(r.src.readableLength, 0, "Node's buffer was taken at once");
  r.origin.write(late);
  await within(done, "the transfer");
  r.dst.end();
  const got = await within(atClient, "the client's bytes");
  assert.is(got.length, length);
  assert.is(sha(got), sha(Buffer.concat([early, late])));
  assert.ok(spliceStats.bytesMoved - movedBefore <= length - 1024 - buffered, "the kernel moved only what JS did not");
});

test("src sends more than `length`: the extra bytes stay unread in src; src.resume() reads them after", async () => {
  if (!linux) return;
  const r = await rig();
  const body = randomBytes(2 * MiB + 5);
  const next = randomBytes(70 * KiB);
  r.origin.write(Buffer.concat([body, next]));
  await waitFor(() => r.src.readableLength > 0 || undefined, "bytes in src's Node buffer");
  const atClient = readExactly(r.client, body.length);
  await within(transfer(r.src, r.dst, body.length, []), "the transfer");
  assert.is(sha(await within(atClient, "the body at the client")), sha(body));
  assert.ok(r.src.isPaused(), "src is left paused");
  assert.is(r.src.readableLength, 0, "src read nothing past the body by itself");
  const rest = await within(readExactly(r.src, next.length), "the next bytes from src");
  assert.is(sha(rest), sha(next), "the bytes after `length` are src's next bytes, whole");
  // And both still work as plain Node sockets, both ways.
  r.src.write("ping");
  const atOrigin = within(readExactly(r.origin, 4), "src -> origin");
  assert.is((await atOrigin).toString(), "ping");
  r.dst.write("more");
  assert.is((await within(readExactly(r.client, 4), "dst -> client")).toString(), "more");
});

test("two transfers one after the other on the same sockets (keep-alive), with src read in JS between them", async () => {
  if (!linux) return;
  const r = await rig();
  const a = randomBytes(1 * MiB + 1);
  const b = randomBytes(3 * MiB + 7);
  const head = Buffer.from("HTTP/1.1 200 OK\r\n\r\n");
  r.origin.write(Buffer.concat([a, head]));
  const atClient = collect(r.client);
  await within(transfer(r.src, r.dst, a.length, []), "the first transfer");
  const gotHead = await within(readExactly(r.src, head.length), "the next head, read in JS");
  assert.is(gotHead.toString(), head.toString());
  r.src.pause();
  r.origin.write(b);
  await within(transfer(r.src, r.dst, b.length, []), "the second transfer");
  r.dst.end();
  assert.is(sha(await within(atClient, "both bodies")), sha(Buffer.concat([a, b])));
  // The sockets' own destroy is back: it closes at once.
  r.src.destroy();
  r.dst.destroy();
  await within(Promise.all([closed(r.src), closed(r.dst)]), "both closed");
});

test("src ends before `length`: rejects with a clear message; destroying both afterwards is clean", async () => {
  if (!linux) return;
  const r = await rig();
  const done = transfer(r.src, r.dst, 4 * MiB, []);
  r.origin.end(randomBytes(300 * KiB));
  const err = await within(
    done.then(
      () => undefined,
      (e: Error) => e,
    ),
    "the rejection",
  );
  assert.ok(err instanceof Error, "rejected");
  assert.match(err.message, /src ended after 307200 of 4194304 bytes/);
  r.src.destroy();
  r.dst.destroy();
  await within(Promise.all([closed(r.src), closed(r.dst)]), "both closed");
});

test("a reset of src mid-transfer rejects (with the errno's code); destroy afterwards is clean", async () => {
  if (!linux) return;
  const r = await rig();
  const done = transfer(r.src, r.dst, 64 * MiB, []);
  r.origin.write(randomBytes(1 * MiB));
  await waitFor(() => (r.client.bytesRead > 0 ? true : undefined), "the first bytes at the client");
  r.origin.resetAndDestroy();
  const err = await within(
    done.then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    ),
    "the rejection",
  );
  assert.ok(err instanceof Error, "rejected");
  assert.match(
    err.message,
    /^spliceBytes: (reading src failed after \d+ of 67108864 bytes: read ECONNRESET|src ended after)/,
  );
  if (/ECONNRESET/.test(err.message)) assert.is(err.code, "ECONNRESET");
  r.src.destroy();
  r.dst.destroy();
  await within(Promise.all([closed(r.src), closed(r.dst)]), "both closed");
});

test("a reset of the client (dst's peer) while dst is blocked rejects; destroy afterwards is clean", async () => {
  if (!linux) return;
  const r = await rig();
  r.client.pause(); // a slow client: dst fills up and the worker waits for EPOLLOUT
  const done = transfer(r.src, r.dst, 256 * MiB, []);
  r.origin.write(randomBytes(16 * MiB));
  await waitFor(() => (r.dst.bytesWritten > 0 || spliceStats.bytesMoved > 0 ? true : undefined), "bytes on their way");
  r.client.resetAndDestroy();
  const err = await within(
    done.then(
      () => undefined,
      (e: Error) => e,
    ),
    "the rejection",
  );
  assert.ok(err instanceof Error, "rejected");
  assert.match(err.message, /^spliceBytes: (writing dst failed|dst was destroyed during the transfer)/);
  r.src.destroy();
  r.dst.destroy();
  await within(Promise.all([closed(r.src), closed(r.dst)]), "both closed");
});

for (const which of ["src", "dst"] as const) {
  test(`destroy() of ${which} from elsewhere mid-transfer waits for the worker, then closes and rejects`, async () => {
    if (!linux) return;
    const r = await rig();
    r.client.pause();
    const done = transfer(r.src, r.dst, 256 * MiB, []);
    r.origin.write(randomBytes(8 * MiB));
    await waitFor(
      () => (r.client.bytesRead > 0 || r.client.readableLength > 0 ? true : undefined),
      "the first bytes at the client",
    );
    r[which].destroy();
    const err = await within(
      done.then(
        () => undefined,
        (e: Error) => e,
      ),
      "the rejection",
    );
    assert.ok(err instanceof Error, "rejected");
    assert.match(err.message, new RegExp(`^spliceBytes: ${which} was destroyed during the transfer`));
    await within(closed(r[which]), `${which} closed`);
    const other = which === "src" ? r.dst : r.src;
    assert.ok(!other.destroyed, "the other socket is the caller's to close");
    other.destroy();
    await within(closed(other), "the other closed");
  });
}

for (const [when, uncork] of [
  ["the next tick (as Node's http ServerResponse does)", (f: () => void) => process.nextTick(f)],
  ["a later timer", (f: () => void) => setTimeout(f, 30)],
] as const) {
  test(`dst corked with pending writes at call time, uncorked at ${when}: those go first, then the body`, async () => {
    if (!linux) return;
    const r = await rig();
    const head = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
    const body = randomBytes(1 * MiB);
    r.origin.write(body.subarray(100)); // all there before the call: nothing but the wait keeps the order
    await waitFor(() => r.src.readableLength > 0 || undefined, "bytes in src's Node buffer");
    r.dst.cork();
    r.dst.write(head.subarray(0, 10));
    r.dst.write(head.subarray(10));
    uncork(() => r.dst.uncork());
    const atClient = collect(r.client);
    await within(transfer(r.src, r.dst, body.length, [body.subarray(0, 100)]), "the transfer");
    r.dst.end();
    assert.is(sha(await within(atClient, "the response")), sha(Buffer.concat([head, body])));
  });
}

test("dst has megabytes of Node writes pending (a slow client) at call time: they arrive first, whole", async () => {
  if (!linux) return;
  const r = await rig();
  r.client.pause();
  const before = randomBytes(8 * MiB);
  const body = randomBytes(4 * MiB + 1);
  r.dst.write(before);
  assert.ok(r.dst.writableLength > 0, "Node holds writes the kernel did not take yet");
  r.origin.write(body);
  const done = transfer(r.src, r.dst, body.length, []);
  const atClient = collect(r.client);
  r.client.resume();
  await within(done, "the transfer");
  r.dst.end();
  assert.is(sha(await within(atClient, "everything")), sha(Buffer.concat([before, body])));
});

test("behind a real http.ServerResponse: head written by Node, body spliced from an upstream socket", async () => {
  if (!linux) return;
  const [src, origin] = await tcpPair();
  const body = randomBytes(5 * MiB + 123);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-length": String(body.length) });
    res.write(body.subarray(0, 7)); // corks the socket until the next tick
    const p = spliceBytes(src, res.socket as net.Socket, body.length - 7, []);
    if (!p) {
      res.destroy(new Error("declined"));
      return;
    }
    origin.write(body.subarray(7));
    void p.then(
      () => res.end(),
      () => res.destroy(),
    );
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const got = await within(
      new Promise<Buffer>((resolve, reject) => {
        http
          .get(
            { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, path: "/", agent: false },
            (res) => {
              const chunks: Buffer[] = [];
              res.on("data", (c: Buffer) => chunks.push(c));
              res.once("end", () => resolve(Buffer.concat(chunks)));
              res.once("error", reject);
            },
          )
          .once("error", reject);
      }),
      "the response",
    );
    assert.is(got.length, body.length);
    assert.is(sha(got), sha(body));
  } finally {
    server.closeAllConnections();
    server.close();
    servers.delete(server);
  }
});

test("8 transfers at once beside a running spliced relay(): every byte where it belongs", async () => {
  if (!linux) return;
  // The relay: a <-> b spliced between two pairs, busy both ways for the whole test.
  const [ra, relayClient] = await tcpPair();
  const [relayServer, rb] = await tcpPair();
  const relayedBefore = spliceStats.spliced;
  const relayed = relay(relayClient, relayServer, Buffer.alloc(0), Buffer.alloc(0));
  const up = randomBytes(12 * MiB);
  const down = randomBytes(10 * MiB);
  const atB = collect(rb);
  const atA = collect(ra);
  ra.end(up);
  rb.end(down);

  const transfersBefore = spliceStats.transfers;
  const rigs = await Promise.all(Array.from({ length: 8 }, () => rig()));
  await Promise.all(
    rigs.map(async (r, i) => {
      const body = randomBytes(2 * MiB + i * 4099);
      const next = Buffer.from(`next-${i}`);
      const atClient = readExactly(r.client, body.length);
      const done = transfer(r.src, r.dst, body.length, []);
      r.origin.write(Buffer.concat([body, next]));
      await within(done, `transfer ${i}`);
      assert.is(sha(await within(atClient, `client ${i}`)), sha(body), `transfer ${i}: the body`);
      assert.is((await within(readExactly(r.src, next.length), `src ${i}`)).toString(), `next-${i}`);
    }),
  );
  assert.is(spliceStats.transfers - transfersBefore, 8, "all eight went through the worker");
  const [gotB, gotA] = await within(Promise.all([atB, atA]), "the relay's bytes");
  assert.is(sha(gotB), sha(up), "relay a -> b");
  assert.is(sha(gotA), sha(down), "relay b -> a");
  await within(relayed, "the relay's end");
  assert.is(spliceStats.spliced - relayedBefore, 1, "the relay was spliced");
});

test("declines, touching nothing: TLS sockets, more buffered in Node than `length`, splicing disabled", async () => {
  const raw = new net.Socket();
  const t = new tls.TLSSocket(raw);
  assert.is(spliceBytes(t, new net.Socket(), 10, []), undefined, "TLS src");
  assert.is(spliceBytes(new net.Socket(), t, 10, []), undefined, "TLS dst");
  t.destroy();
  raw.destroy();
  if (!linux) return;

  const r = await rig();
  r.origin.write(randomBytes(10 * KiB));
  await waitFor(() => (r.src.readableLength === 10 * KiB ? true : undefined), "the bytes in src's Node buffer");
  assert.is(spliceBytes(r.src, r.dst, 100, []), undefined, "more buffered than length");
  assert.is(
    spliceBytes(r.src, r.dst, 10 * KiB + 10, [Buffer.alloc(20)]),
    undefined,
    "more buffered than length leaves after `first`",
  );
  assert.is(r.src.readableLength, 10 * KiB, "src's buffer untouched");

  spliceStats.enabled = false;
  try {
    assert.is(spliceBytes(r.src, r.dst, 1 * MiB, []), undefined, "disabled");
  } finally {
    spliceStats.enabled = true;
  }
  assert.throws(() => spliceBytes(r.src, r.dst, 5, [Buffer.alloc(6)]), /more than length/);
  assert.throws(() => spliceBytes(r.src, r.dst, -1, []), RangeError);
  // Still a plain socket: all ten KiB readable in JS.
  assert.is((await within(readExactly(r.src, 10 * KiB), "src's bytes")).length, 10 * KiB);
});

test.run();
