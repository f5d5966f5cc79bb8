import { test } from "uvu";
import * as assert from "uvu/assert";
import { HTTPFlow, Request } from "@interloper/sdk";
import { flatUUID } from "../../sdk/src/uuid.ts";
import { client, server } from "../helpers/flowfile.ts";

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("version 4 UUIDs: the RFC 9562 shape, version and variant, across many batches of random bytes", () => {
  for (let i = 0; i < 5000; i++) {
    const id = flatUUID();
    assert.ok(SHAPE.test(id), id);
  }
});

test("no two alike in 50,000, and every hex digit turns up in every free position", () => {
  const ids = Array.from({ length: 50_000 }, flatUUID);
  assert.is(new Set(ids).size, ids.length);
  for (const pos of [0, 7, 9, 15, 20, 35]) {
    const seen = new Set(ids.map((id) => id[pos]));
    assert.is(seen.size, 16, `position ${pos}: ${[...seen].sort().join("")}`);
  }
});

test("a flow's id is one of them, made once and kept", () => {
  const flow = new HTTPFlow(client(false), server(false), new Request({ host: "example.com", path: "/" }));
  const id = flow.id;
  assert.ok(SHAPE.test(id), id);
  assert.is(flow.id, id);
});

test.run();
