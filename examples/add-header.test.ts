import { test } from "uvu";
import * as assert from "uvu/assert";
import { defineAddon, Response } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import addHeader from "./add-header.ts";

test("the server sees a Via header and the client an X-Interloper header", async () => {
  const ctx = await testContext(addHeader);
  let seenByServer: string | null = null;
  const flow = await ctx.http(testFlow({ url: "https://example.com/page" }), (f) => {
    seenByServer = f.request.headers.get("via");
    return { status: 200, body: "hello" };
  });
  assert.is(seenByServer, "1.1 interloper");
  assert.is(flow.response?.headers.get("x-interloper"), "1");
  assert.is(flow.response?.text(), "hello");
  assert.equal(ctx.logLines("error"), []);
});

test("an existing Via is kept and extended; a server's X-Interloper is not doubled", async () => {
  const ctx = await testContext(addHeader);
  const flow = await ctx.http(
    testFlow({ url: "http://example.com/", headers: { Via: "1.0 corporate-proxy" }, httpVersion: "HTTP/2.0" }),
    { status: 200, headers: { "X-Interloper": "from-server" } },
  );
  assert.equal(flow.request.headers.getAll("via"), ["1.0 corporate-proxy", "2.0 interloper"]);
  assert.equal(flow.response?.headers.getAll("x-interloper"), ["1"]);
});

test("responses answered by another addon are marked too", async () => {
  const answer = defineAddon({
    name: "answer",
    request(f) {
      f.response = Response.make(204);
    },
  });
  const ctx = await testContext([answer, addHeader]);
  const flow = await ctx.http(testFlow(), (): never => {
    throw new Error("the server must not be contacted");
  });
  assert.is(flow.response?.status, 204);
  assert.is(flow.response?.headers.get("x-interloper"), "1");
});

test.run();
