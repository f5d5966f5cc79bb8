// The dumper's flow lines (mitmdump's formats, SEMANTICS.md §4): which URL a request line shows
// (--showhost), and the [replay] markers of client and server replay.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { Dumper } from "../../addons/dumper.ts";

async function linesFor(options: Record<string, unknown>, ...flows: ReturnType<typeof testFlow>[]): Promise<string[]> {
  const out: string[] = [];
  const ctx = await testContext(new Dumper({ write: (t) => void out.push(t) }), options);
  for (const flow of flows) await ctx.trigger("response", flow);
  return out.join("").split("\n").filter(Boolean);
}

/** A request sent to 10.0.0.7:8080 whose Host header names another site (reverse mode, a rerouted request). */
function rerouted() {
  return testFlow({
    url: "http://10.0.0.7:8080/api?q=1",
    headers: { Host: "shop.example" },
    response: { body: "hi" },
  });
}

test("the request line shows where the request goes, as mitmdump does", async () => {
  const lines = await linesFor({}, rerouted());
  assert.match(lines[0]!, /: GET http:\/\/10\.0\.0\.7:8080\/api\?q=1$/);
  assert.match(lines[1]!, /^ +<< 200 OK 2b$/);
});

test("--showhost shows the Host header's name instead", async () => {
  const lines = await linesFor({ showhost: true }, rerouted());
  // mitmproxy's pretty_url: the Host header's name, the port the request goes to.
  assert.match(lines[0]!, /: GET http:\/\/shop\.example:8080\/api\?q=1$/);
});

test("showhost with a Host header carrying a port keeps the request's port", async () => {
  const flow = testFlow({ url: "https://10.0.0.7/", headers: { Host: "shop.example:8443" }, response: {} });
  const [line] = await linesFor({ showhost: true }, flow);
  assert.match(line!, /: GET https:\/\/shop\.example\/$/);
});

test("a request client replay sent shows [replay] for its client; a server-replay answer marks its response", async () => {
  const sent = testFlow({ url: "http://a.test/x", response: { status: 204 } });
  sent.isReplay = "request";
  const answered = testFlow({ url: "http://b.test/y", response: { body: "z" } });
  answered.isReplay = "response";
  const lines = await linesFor({}, sent, answered);
  assert.is(lines[0], "[replay]: GET http://a.test/x");
  assert.match(lines[1]!, /^ +<< 204 No Content 0b$/);
  assert.match(lines[2]!, /^127\.0\.0\.1:\d+: GET http:\/\/b\.test\/y$/);
  assert.match(lines[3]!, /^\[replay\] +<< 200 OK 1b$/);
});

test("a live flow has no marker", async () => {
  const lines = await linesFor({}, testFlow({ url: "http://c.test/", response: {} }));
  assert.ok(!lines.some((l) => l.includes("[replay]")));
});

test("control characters in the Host header shown by showhost are escaped, not written raw", async () => {
  const flow = testFlow({ url: "http://10.0.0.1/", headers: { Host: "evil\x1b[2J.test" }, response: {} });
  const [line] = await linesFor({ showhost: true }, flow);
  assert.ok(!line!.includes("\x1b"));
});

test.run();
