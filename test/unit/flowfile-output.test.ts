// The flow file's output (sdk/src/flowfile/file-output.ts): whole writes in batches with
// synchronous writev, past writev's piece limit, appended or fresh, and a write after close refused.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FileOutput } from "../../sdk/src/flowfile/file-output.ts";

const dir = mkdtempSync(join(tmpdir(), "interloper-file-output-"));

test("thousands of small writes (more than writev takes at once) arrive in order, byte for byte", () => {
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
