// Client replay in the core: a recorded request goes again to a live origin
// through the addon chain and the same exchange as a live request, with no
// client socket; the flow gets the new response (or an error) in place.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HTTPFlow, Request, Response, type Addon } from "@interloper/sdk";
import { replayRequest } from "../../core/replay/client-replay.ts";
import { freePort } from "../helpers/clients.ts";
import { startInProcess, startOrigin, within } from "../helpers/harness.ts";

function recorded(url: string, init: { method?: string; body?: string; headers?: Array<[string, string]> } = {}) {
  const request = Request.fromUrl(url, { method: init.method ?? "GET", body: init.body, headers: init.headers });
  const client = {
    id: "recorded-client",
    peername: { host: "127.0.0.1", port: 50000 },
    sockname: { host: "127.0.0.1", port: 8080 },
    mode: "regular",
    tlsEstablished: false,
    timestampStart: 1,
  };
  return new HTTPFlow(
    client,
    { id: "recorded-server", address: { host: request.host, port: request.port }, tls: false, tlsEstablished: false },
    request,
  );
}

test("a recorded POST is sent again: same method, path, fields and body reach the origin; the flow gets the new response", async () => {
  let n = 0;
  const origin = await startOrigin((_req, res, body) => res.end(`answer ${++n} to ${body.toString()}`));
  const hooks: string[] = [];
  const recorder: Addon = {
    name: "recorder",
    request: (f) => void hooks.push(`request ${f.isReplay ?? "-"}`),
    response: (f) => void hooks.push(`response ${f.response?.status}`),
  };
  const p = await startInProcess([recorder]);
  try {
    const url = `http://127.0.0.1:${origin.port}/items?x=1`;
    const flow = recorded(url, {
      method: "POST",
      body: "payload",
      headers: [
        ["Host", `127.0.0.1:${origin.port}`],
        ["Content-Length", "7"],
        ["X-Recorded", "yes"],
      ],
    });
    await within(replayRequest(p.proxy, flow), "the replay");
    assert.is(flow.response?.status, 200);
    assert.is(flow.response?.body.toString(), "answer 1 to payload");
    assert.is(flow.isReplay, "request");
    assert.is(flow.live, false);
    assert.equal(hooks, ["request request", "response 200"]);
    const seen = origin.requests[0]!;
    assert.is(seen.method, "POST");
    assert.is(seen.url, "/items?x=1");
    assert.is(seen.body.toString(), "payload");
    assert.ok(seen.rawHeaders.includes("X-Recorded"));
    // Replayed again: a new response replaces the old one.
    await within(replayRequest(p.proxy, flow), "the second replay");
    assert.is(flow.response?.body.toString(), "answer 2 to payload");
    assert.ok(p.logs.some((e) => e.message.startsWith("[replay] server connect 127.0.0.1:")));
    assert.ok(p.logs.some((e) => e.message.startsWith("[replay] server disconnect 127.0.0.1:")));
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an https request is replayed over TLS to its origin", async () => {
  const origin = await startOrigin((req, res) => res.end(`secure ${req.url}`), { tls: true });
  const p = await startInProcess([]);
  try {
    const flow = recorded(`https://localhost:${origin.port}/s`, { headers: [["Host", `localhost:${origin.port}`]] });
    await within(replayRequest(p.proxy, flow), "the replay");
    assert.is(flow.response?.body.toString(), "secure /s");
    assert.ok(flow.server.tlsEstablished);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a server that cannot be reached: the flow gets an error, error fires, nothing throws", async () => {
  const port = await freePort();
  const errors: string[] = [];
  const p = await startInProcess([{ name: "e", error: (f) => void errors.push(f.error!.msg) }]);
  try {
    const flow = recorded(`http://127.0.0.1:${port}/gone`);
    await within(replayRequest(p.proxy, flow), "the replay");
    assert.is(flow.response, undefined);
    assert.match(flow.error!.msg, /refused/i);
    assert.equal(errors, [flow.error!.msg]);
  } finally {
    await p.stop();
  }
});

test("an addon answers the replayed request itself: the server is never contacted", async () => {
  const origin = await startOrigin((_req, res) => res.end("server"));
  const mock: Addon = { name: "mock", request: (f) => void (f.response = Response.make(201, "mocked")) };
  const p = await startInProcess([mock]);
  try {
    const flow = recorded(`http://127.0.0.1:${origin.port}/m`);
    await within(replayRequest(p.proxy, flow), "the replay");
    assert.is(flow.response?.status, 201);
    assert.is(origin.requests.length, 0);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
