import * as http from "node:http";
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

/** GET `url` through the proxy at `port` on `agent`'s connection: the body, and the client's local port. */
function getVia(agent: http.Agent, port: number, url: string): Promise<{ body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: url, agent, headers: { host: new URL(url).host } }, (res) => {
      const localPort = res.socket.localPort!;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ body: Buffer.concat(chunks).toString(), localPort }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

test("a finished flow is not live, and killing it leaves the connection alone: the next request on it is answered", async () => {
  const origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
  const flows: HTTPFlow[] = [];
  let liveAfterwards: boolean | undefined;
  const p = await startInProcess([
    {
      name: "late-killer",
      request(flow: HTTPFlow) {
        const first = flows[0];
        if (first) {
          liveAfterwards = first.live;
          // Before: the first flow's exchange still closed its client, the connection this request is on.
          first.kill();
        }
        flows.push(flow);
      },
    },
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const a = await getVia(agent, p.port, `http://localhost:${origin.port}/a`);
    const b = await getVia(agent, p.port, `http://localhost:${origin.port}/b`);
    assert.is(a.body, "origin /a");
    assert.is(b.body, "origin /b");
    assert.is(b.localPort, a.localPort, "both requests on one connection");
    assert.is(liveAfterwards, false);
    assert.is(flows[1]!.live, false);
  } finally {
    agent.destroy();
    await p.stop();
    await origin.close();
  }
});

test.run();
