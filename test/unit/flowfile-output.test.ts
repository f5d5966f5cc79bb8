// The flow file's output (sdk/src/flowfile/file-output.ts): whole writes copied into a batch and
// written synchronously, in order whatever their sizes, appended or fresh, and a write after close refused.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FileOutput } from "../../sdk/src/flowfile/file-output.ts";

const dir = mkdtempSync(join(tmpdir(), "interloper-file-output-"));

test("thousands of small writes (many batches) arrive in order, byte for byte", () => {
  const path = join(dir, "small.bin");
  const out = new FileOutput(path, false);
  const parts: Buffer[] = [];
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(`flow-${i};`);
    parts.push(b);
    out.write(b);
  }
  out.close();
  assert.ok(readFileSync(path).equals(Buffer.concat(parts)));
});

test("large writes flush at once; append keeps what was there; a write after close is refused", () => {
  const path = join(dir, "large.bin");
  const first = new FileOutput(path, false);
  const big = Buffer.alloc(600 * 1024, 0x61);
  first.write(big);
  // Past the batch size: on disk before close.
  assert.is(readFileSync(path).length, big.length);
  first.close();
  const second = new FileOutput(path, true);
  second.write(Buffer.from("tail"));
  second.close();
  assert.ok(readFileSync(path).equals(Buffer.concat([big, Buffer.from("tail")])));
  assert.throws(() => second.write(Buffer.from("x")), /closed/);
});

test("each write is copied: the caller reuses its buffer at once; sizes around the batch's stay in order", () => {
  const path = join(dir, "reuse.bin");
  const out = new FileOutput(path, false);
  const scratch = Buffer.alloc(64);
  const expected: Buffer[] = [];
  const sizes = [10, 100 * 1024, 200 * 1024, 7, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3, 1024 * 1024, 5];
  sizes.forEach((size, i) => {
    const b = size <= scratch.length ? scratch.subarray(0, size).fill(0x30 + i) : Buffer.alloc(size, 0x30 + i);
    out.write(b);
    expected.push(Buffer.from(b));
    scratch.fill(0x7a); // what the caller does next must not reach the file
  });
  out.close();
  assert.ok(readFileSync(path).equals(Buffer.concat(expected)));
});

test("small writes reach the disk within the batch delay, without close", async () => {
  const path = join(dir, "soon.bin");
  const out = new FileOutput(path, false);
  out.write(Buffer.from("early"));
  const deadline = Date.now() + 30_000;
  while (readFileSync(path).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.is(readFileSync(path).toString(), "early");
  out.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
