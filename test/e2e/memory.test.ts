// Issue 17: a buffered body costs about its own size, and no single download
// can take the proxy down. The assertions are on the bytes; the proxy's peak
// RSS is printed for the record (figures belong to bench E, not to tests).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response, StreamedBodyError, type Addon } from "@interloper/sdk";
import {
  curl,
  sha256,
  startInProcess,
  startOrigin,
  startProxy,
  tempDir,
  waitFor,
  type Origin,
} from "../helpers/harness.ts";
import { peakRss } from "../helpers/clients.ts";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const dir = tempDir("interloper-memory-");
// One random body for every transfer: the origin serves it, the uploads send it.
const body = randomBytes(SIZE);
const bodySha = sha256(body);
const bodyFile = join(dir, "body.bin");
writeFileSync(bodyFile, body);

async function fileSha(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

/** GET /big answers the body (with its length); POST /up answers the SHA-256 of what arrived. */
function bigOrigin(tls: boolean): Promise<Origin> {
  return startOrigin(
    (req, res, received) => {
      if (req.method === "POST") return void res.end(`${received.length} ${sha256(received)}`);
      res.setHeader("Content-Length", String(SIZE));
      res.end(body);
    },
    { tls },
  );
}

for (const scheme of ["http", "https"] as const) {
  test(`a 256 MiB buffered response and upload over ${scheme}: every byte exact`, async () => {
    const origin = await bigOrigin(scheme === "https");
    const proxy = await startProxy(["--set", "flow_detail=0"]);
    try {
      const host = scheme === "https" ? "localhost" : "127.0.0.1";
      const url = `${scheme}://${host}:${origin.port}`;
      const common = ["-s", "-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile];
      const out = join(dir, `down-${scheme}.bin`);
      const down = await curl([...common, "-o", out, `${url}/big`], 600_000);
      assert.is(down.code, 0, down.stderr);
      assert.is(await fileSha(out), bodySha, "the download arrived byte for byte");
      const up = await curl(
        [...common, "--data-binary", `@${bodyFile}`, "-H", "Content-Type: application/octet-stream", `${url}/up`],
        600_000,
      );
      assert.is(up.code, 0, up.stderr);
      assert.is(up.stdout.toString(), `${SIZE} ${bodySha}`, "the upload arrived byte for byte");
      const peak = peakRss(proxy.child.pid!);
      console.log(
        `  ${scheme}: proxy peak RSS ${(peak / 1e6).toFixed(0)} MB for 256 MiB buffered each way (${(peak / SIZE).toFixed(2)}x)`,
      );
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });
}

test("buffer_budget: bodies the budget cannot take stream with one info line each, every byte arrives, content throws StreamedBodyError", async () => {
  const n = 4;
  const part = 2 * MiB;
  const origin = await startOrigin((_req, res) => {
    res.setHeader("Content-Length", String(part));
    res.end(body.subarray(0, part));
  });
  const seen: string[] = [];
  const reader: Addon = {
    name: "reader",
    response: (f) => {
      try {
        seen.push(`read ${f.response!.content.length}`);
      } catch (err) {
        seen.push(err instanceof StreamedBodyError ? `streamed ${f.response!.stream}` : `other ${String(err)}`);
      }
    },
  };
  const p = await startInProcess([reader], { bufferBudget: "1m" });
  try {
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        curl(["-s", "-x", `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${origin.port}/d${i}`]),
      ),
    );
    for (const r of results) {
      assert.is(r.code, 0, r.stderr);
      assert.is(sha256(r.stdout), sha256(body.subarray(0, part)));
    }
    await waitFor(() => seen.length === n || undefined, "every response hook");
    assert.equal(seen, Array(n).fill("streamed true"));
    const lines = p.logs.filter((e) =>
      /buffer_budget \(1\.0m\) is taken by other bodies: streaming the response body \(2\.0m\) of GET http:\/\/127\.0\.0\.1:\d+\/d\d/.test(
        e.message,
      ),
    );
    assert.is(lines.length, n, p.logs.map((e) => e.message).join("\n"));
    assert.is(p.proxy.bufferBudget.inUse, 0, "the budget is given back");
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("buffer_budget: what fits is still buffered for the hooks", async () => {
  const origin = await startOrigin((_req, res) => res.end("small"));
  const p = await startInProcess(
    [{ name: "edit", response: (f) => void (f.response = Response.make(200, f.response!.text().toUpperCase())) }],
    { bufferBudget: "1m" },
  );
  try {
    const r = await curl(["-s", "-x", `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${origin.port}/s`]);
    assert.is(r.stdout.toString(), "SMALL");
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
