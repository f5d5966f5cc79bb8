// Seeded random flows for tests that check a representation against the flow it came from:
// every optional part present or not, text from an alphabet of awkward characters.
import { Headers, HTTPFlow, Request, Response } from "@interloper/sdk";
import { client, server } from "./flowfile.ts";

/** mulberry32: a small seeded PRNG, so that a failing case can be made again. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  "a",
  "Z",
  "0",
  " ",
  ":",
  ";",
  ",",
  "\u00e9",
  "\u00ff",
  "\u0100",
  "\u2603",
  "\ud83d\ude00",
  "\ud800",
  "\0",
];

export function randomText(rnd: () => number, max: number): string {
  let s = "";
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  return s;
}

/** Fields as a flow may hold them (read from a file, set by an addon): not checked, odd bytes and all. */
function randomFields(rnd: () => number): Headers {
  const h = new Headers();
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) h.fields.push([randomText(rnd, 8), randomText(rnd, 20)]);
  return h;
}

/** One random live flow: every optional part present or not, text from an alphabet of awkward characters. */
export function randomFlow(rnd: () => number): HTTPFlow {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const form = pick(["absolute", "origin", "authority"] as const);
  const req = new Request({
    method: form === "authority" ? "CONNECT" : pick(["GET", "POST", "M\u00e9", ""]),
    scheme: pick(["http", "https"] as const),
    host: pick(["example.com", "::1", "127.0.0.1", "x\u00e9.example", ""]),
    port: pick([80, 443, 1, 65535]),
    path: form === "authority" ? "" : `/${randomText(rnd, 12)}`,
    form,
    headers: randomFields(rnd),
    body: rnd() < 0.5 ? "" : Buffer.from(randomText(rnd, 40), "utf8"),
    httpVersion: pick(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0"]),
  });
  req.timestampStart = 1_700_000_000 + Math.floor(rnd() * 1e6) / pick([1, 8, 1000, 1e6]);
  if (rnd() < 0.7) req.timestampEnd = req.timestampStart + rnd();
  if (rnd() < 0.2) req.trailers = randomFields(rnd);
  if (rnd() < 0.2) req.stream = true;
  const flow = new HTTPFlow(client(rnd() < 0.5), server(rnd() < 0.5), req);
  flow.timestampCreated = req.timestampStart;
  if (rnd() < 0.7) {
    flow.response = new Response({
      status: pick([100, 200, 404, 599]),
      reason: randomText(rnd, 10),
      headers: randomFields(rnd),
    });
    flow.response.body = Buffer.from(randomText(rnd, 60), "utf8");
    if (rnd() < 0.2) flow.response.trailers = randomFields(rnd);
    if (rnd() < 0.2) flow.response.stream = true;
    if (rnd() < 0.5) flow.response.timestampEnd = flow.response.timestampStart + 0.5;
  }
  if (rnd() < 0.2) flow.error = { msg: randomText(rnd, 30), timestamp: 1_700_000_005.5 };
  if (rnd() < 0.3) flow.isReplay = pick(["request", "response"] as const);
  if (rnd() < 0.3) flow.marked = pick([":default:", "\u2603"]);
  if (rnd() < 0.3) flow.comment = randomText(rnd, 20);
  if (rnd() < 0.3) flow.metadata = { k: randomText(rnd, 5), n: Math.floor(rnd() * 100), b: Buffer.from([1]) };
  return flow;
}
