import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, originCa, startOrigin, startProxy } from "../helpers/harness.ts";

test("README's first steps: HTTPS through the CLI with the CA, the event log of SEMANTICS.md §4", async () => {
  const origin = await startOrigin((_req, res) => res.end("hello"), { tls: true });
  const proxy = await startProxy();
  try {
    const r = await curl([
      "-v",
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      `https://localhost:${origin.port}/x`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "hello");
    assert.match(r.stderr, /issuer: O=interloper; CN=interloper|issuer: CN=interloper/);
    const out = await proxy.waitForOutput(/client disconnect[\s\S]*server disconnect/);
    const log = proxy.stdout();
    const p = `127\\.0\\.0\\.1:\\d+`;
    assert.match(
      log,
      new RegExp(
        `${p}: client connect\\n${p}: server connect localhost:${origin.port} \\(127\\.0\\.0\\.1:${origin.port}\\)\\n${p}: GET https://localhost:${origin.port}/x\\n     << 200 OK 5b\\n${p}: client disconnect\\n${p}: server disconnect localhost:${origin.port} \\(127\\.0\\.0\\.1:${origin.port}\\)`,
      ),
    );
    void out;
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
  void originCa;
});

test.run();
