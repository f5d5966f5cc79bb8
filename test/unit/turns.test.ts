import { test } from "uvu";
import * as assert from "uvu/assert";
import { Turns } from "../../core/http/turns.ts";

test("nobody ahead: no wait; the key is free again after release", () => {
  const turns = new Turns<object>();
  const key = {};
  assert.is(turns.take(key), undefined);
  turns.release(key);
  assert.is(turns.take(key), undefined);
});

test("callers on one key run in the order they came, each after the one before released", async () => {
  const turns = new Turns<object>();
  const key = {};
  const order: string[] = [];
  const run = async (name: string, work: () => Promise<void>) => {
    const wait = turns.take(key);
    if (wait) await wait;
    order.push(`${name} start`);
    await work();
    order.push(`${name} end`);
    turns.release(key);
  };
  let finishA!: () => void;
  const slow = new Promise<void>((r) => (finishA = r));
  const all = Promise.all([run("a", () => slow), run("b", async () => {}), run("c", async () => {})]);
  await Promise.resolve();
  assert.equal(order, ["a start"]);
  finishA();
  await all;
  assert.equal(order, ["a start", "a end", "b start", "b end", "c start", "c end"]);
  assert.is(turns.take(key), undefined, "free once the last released");
});

test("a caller that came while the key was free again waits for no one; one behind it waits", async () => {
  const turns = new Turns<object>();
  const key = {};
  assert.is(turns.take(key), undefined);
  const second = turns.take(key);
  assert.ok(second);
  let got = false;
  void second.then(() => (got = true));
  turns.release(key);
  await second;
  assert.ok(got, "the waiting caller got the turn on release");
  assert.ok(turns.take(key), "the key is held by the second caller: a third waits");
});

test("keys are independent; releasing a key never taken does nothing", () => {
  const turns = new Turns<object>();
  const k1 = {};
  const k2 = {};
  void turns.take(k1);
  assert.is(turns.take(k2), undefined);
  assert.ok(turns.take(k1));
  turns.release({});
});

test.run();
