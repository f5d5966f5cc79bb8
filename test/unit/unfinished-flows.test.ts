import { test } from "uvu";
import * as assert from "uvu/assert";
import { TCPFlow, type AnyFlow } from "@interloper/sdk";
import { UnfinishedFlows } from "../../addons/flow-files/unfinished-flows.ts";
import { client, server } from "../helpers/flowfile.ts";

function flows(n: number): AnyFlow[] {
  return Array.from({ length: n }, () => new TCPFlow(client(false), server(false)));
}

function ids(list: readonly AnyFlow[], all: readonly AnyFlow[]): number[] {
  return list.map((f) => all.indexOf(f)).sort((a, b) => a - b);
}

test("flows ending in any order leave exactly the others", () => {
  const all = flows(6);
  const set = new UnfinishedFlows();
  for (const f of all) set.add(f);
  for (const i of [3, 0, 5]) set.delete(all[i]!);
  assert.equal(ids(set.list(), all), [1, 2, 4]);
  for (const i of [4, 1, 2]) set.delete(all[i]!);
  assert.equal(set.list(), []);
});

test("deleting a flow that is not there (or twice) changes nothing", () => {
  const all = flows(3);
  const set = new UnfinishedFlows();
  set.add(all[0]!);
  set.add(all[1]!);
  set.delete(all[2]!);
  set.delete(all[0]!);
  set.delete(all[0]!);
  assert.equal(ids(set.list(), all), [1]);
});

test("list() is a copy: saving flows while walking it (each save deletes) misses none", () => {
  const all = flows(5);
  const set = new UnfinishedFlows();
  for (const f of all) set.add(f);
  const seen: AnyFlow[] = [];
  for (const f of set.list()) {
    seen.push(f);
    set.delete(f);
  }
  assert.equal(ids(seen, all), [0, 1, 2, 3, 4]);
  assert.equal(set.list(), []);
});

test("many flows in flight, ended at random: the survivors are exactly those not ended", () => {
  const all = flows(2000);
  const set = new UnfinishedFlows();
  for (const f of all) set.add(f);
  // A seeded shuffle (xorshift32): the first 1,500 of it end.
  const order = all.map((_, i) => i);
  let x = 20261203;
  for (let i = order.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const ended = new Set(order.slice(0, 1500));
  for (const i of ended) set.delete(all[i]!);
  const left = all.map((_, i) => i).filter((i) => !ended.has(i));
  assert.equal(ids(set.list(), all), left);
});

test.run();
