import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HTTPFlow } from "@interloper/sdk";
import { curl, startInProcess, startOrigin, waitFor } from "../helpers/harness.ts";

test("flow.kill() in request drops the client connection, the server is never asked, the log says so", async () => {
  const origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
  const errors: string[] = [];
  const p = await startInProcess([
    {
      name: "killer",
      request(flow: HTTPFlow) {
        if (flow.request.path === "/kill") flow.kill();
      },
      error(flow: HTTPFlow) {
        errors.push(flow.error!.msg);
      },
    },
  ]);
  try {
    const killed = await curl(["-x", `http://127.0.0.1:${p.port}`, `http://localhost:${origin.port}/kill`]);
    assert.is(killed.code, 52, `curl: ${killed.stderr}`); // empty reply from server
    const fine = await curl(["-x", `http://127.0.0.1:${p.port}`, `http://localhost:${origin.port}/fine`]);
    assert.is(fine.stdout.toString(), "origin /fine");
    assert.equal(
      origin.requests.map((r) => r.url),
      ["/fine"],
    );
    await waitFor(() => p.lines.some((l) => l === " << Connection killed."), "the killed line");
    const i = p.lines.findIndex((l) => /GET http:\/\/localhost:\d+\/kill$/.test(l));
    assert.ok(i >= 0 && p.lines[i + 1] === " << Connection killed.", p.lines.join("\n"));
    assert.equal(errors, ["Connection killed."]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("flow.kill() in response drops the response: the client gets nothing of it", async () => {
  const origin = await startOrigin((_req, res) => res.end("secret"));
  const p = await startInProcess([{ name: "killer", response: (flow: HTTPFlow) => flow.kill() }]);
  try {
    const r = await curl(["-x", `http://127.0.0.1:${p.port}`, `http://localhost:${origin.port}/`]);
    assert.is.not(r.code, 0);
    assert.not.match(r.stdout.toString(), /secret/);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
