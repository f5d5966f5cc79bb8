// Writes a flow file (mitmproxy's format, the version interloper writes by
// default) of about BYTES bytes for workload R: HTTPS flows in a fixed mix —
// JSON API calls, HTML pages, an image, a POST, a 404 — each with a URL and a
// body of its own, written one at a time with the sdk's FlowWriter.
// Prints {"flows":N,"bytes":M} when done.
//
// Usage: node --import tsx bench/make-flow-file.ts OUT BYTES
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { FlowWriter, type HTTPFlow } from "@interloper/sdk";
import { testFlow, testResponse } from "@interloper/sdk/testing";

const [out, bytesArg] = process.argv.slice(2);
const target = Number(bytesArg);
if (!out || !Number.isFinite(target) || target <= 0) {
  process.stderr.write("usage: make-flow-file.ts OUT BYTES\n");
  process.exit(2);
}

// Bodies are windows of these at moving offsets: every flow's body differs, nothing is generated per flow.
const BINARY = randomBytes(4 * 2 ** 20);
const TEXT = Buffer.from(randomBytes(3 * 2 ** 20).toString("base64"));

function window(pool: Buffer, n: number, i: number): Buffer {
  const start = (i * 7919) % (pool.length - n);
  return pool.subarray(start, start + n);
}

const UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/** The i-th flow of the mix; ten flows average about 24 KB of body. */
function flowAt(i: number): HTTPFlow {
  const kind = i % 10;
  const get = (url: string, accept: string) => testFlow({ url, headers: { "User-Agent": UA, Accept: accept } });
  let f: HTTPFlow;
  if (kind < 5) {
    f = get(`https://api.example.com/v1/items/${i}`, "application/json");
    f.response = testResponse({ headers: { "Content-Type": "application/json" }, body: window(TEXT, 2048, i) });
  } else if (kind < 7) {
    f = get(`https://www.example.com/page/${i}.html`, "text/html");
    f.response = testResponse({
      headers: { "Content-Type": "text/html; charset=utf-8" },
      body: window(TEXT, 40_000, i),
    });
  } else if (kind === 7) {
    f = get(`https://cdn.example.com/img/${i}.jpg`, "image/*");
    f.response = testResponse({ headers: { "Content-Type": "image/jpeg" }, body: window(BINARY, 150_000, i) });
  } else if (kind === 8) {
    f = testFlow({
      url: "https://api.example.com/v1/events",
      method: "POST",
      headers: { "User-Agent": UA, "Content-Type": "application/json" },
      body: window(TEXT, 1000, i),
    });
    f.response = testResponse({ status: 201, headers: { "Content-Type": "application/json" }, body: `{"id":${i}}` });
  } else {
    f = get(`https://www.example.com/missing/${i}`, "text/html");
    f.response = testResponse({ status: 404, headers: { "Content-Type": "text/html" }, body: window(TEXT, 500, i) });
  }
  return f;
}

const writer = await FlowWriter.open(out);
let flows = 0;
let written = 0;
// The file's size is checked every 1,000 flows (the writer does not count bytes).
while (written < target) {
  for (let k = 0; k < 1000; k++) await writer.add(flowAt(flows++));
  written = statSync(out).size;
}
await writer.close();
console.log(JSON.stringify({ flows, bytes: statSync(out).size }));
