import { test } from "uvu";
import * as assert from "uvu/assert";
import { Turns } from "../../core/http/turns.ts";

test("nobody ahead: no wait; the key is free again after release", () => {
  const turns = new Turns<object>();
  const key = {};
  const a = turns.take(key);
  assert.is(a.wait, undefined);
  a.release();
  assert.is(turns.take(key).wait, undefined);
});

test("callers on one key run in the order they came, each after the one before released", async () => {
  const turns = new Turns<object>();
  const key = {};
  const order: string[] = [];
  const run = async (name: string, work: () => Promise<void>) => {
    const t = turns.take(key);
    if (t.wait) await t.wait;
    order.push(`${name} start`);
    await work();
    order.push(`${name} end`);
    t.release();
  };
  let finishA!: () => void;
  const slow = new Promise<void>((r) => (finishA = r));
  const all = Promise.all([run("a", () => slow), run("b", async () => {}), run("c", async () => {})]);
  await Promise.resolve();
  assert.equal(order, ["a start"]);
  finishA();
  await all;
  assert.equal(order, ["a start", "a end", "b start", "b end", "c start", "c end"]);
  assert.is(turns.take(key).wait, undefined, "free once the last released");
});

test("keys are independent", () => {
  const turns = new Turns<object>();
  const k1 = {};
  const k2 = {};
  turns.take(k1);
  assert.is(turns.take(k2).wait, undefined);
  assert.ok(turns.take(k1).wait);
});

test.run();
