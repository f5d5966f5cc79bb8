// HAR 1.2: what the writer produces is checked against the spec's required
// fields and types (a validator written from the spec, below), read back by
// the reader into equal flows; HARs of other writers (browsers, mitmproxy) are
// read; a document that is not a HAR names the field that is wrong.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  FlowReadError,
  harDocument,
  HarWriter,
  readFlowFile,
  readFlows,
  type AnyFlow,
  type HTTPFlow,
  type Request,
  type Response,
} from "@interloper/sdk";
import { http1Flow, http2ErrorFlow, httpsStreamedFlow, tcpFlow, websocketFlow } from "../helpers/flowfile.ts";

const dir = mkdtempSync(join(tmpdir(), "interloper-har-"));

// ---------------------------------------------------------------- a validator from the HAR 1.2 spec

type Obj = Record<string, unknown>;

/** Problems with `doc` as HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): required fields, their types, custom fields prefixed `_`. */
function validateHar(doc: unknown): string[] {
  const problems: string[] = [];
  const v = new Validator(problems);
  const log = v.object(doc, "", { log: "object" })?.log;
  const l = v.object(log, "log", {
    version: "string",
    creator: "object",
    "browser?": "object",
    "pages?": "array",
    entries: "array",
    "comment?": "string",
  });
  if (!l) return problems;
  v.object(l.creator, "log.creator", { name: "string", version: "string", "comment?": "string" });
  (l.entries as unknown[]).forEach((e, i) => validateEntry(v, e, `log.entries[${i}]`));
  return problems;
}

function validateEntry(v: Validator, e: unknown, at: string): void {
  const entry = v.object(e, at, {
    "pageref?": "string",
    startedDateTime: "iso",
    time: "number",
    request: "object",
    response: "object",
    cache: "object",
    timings: "object",
    "serverIPAddress?": "string",
    "connection?": "string",
    "comment?": "string",
  });
  if (!entry) return;
  const req = v.object(entry.request, `${at}.request`, {
    method: "string",
    url: "string",
    httpVersion: "string",
    cookies: "array",
    headers: "array",
    queryString: "array",
    "postData?": "object",
    headersSize: "number",
    bodySize: "number",
    "comment?": "string",
  });
  if (req) {
    v.check(/^https?:\/\/[^/]/.test(req.url as string), `${at}.request.url is not absolute`);
    v.pairs(req.headers, `${at}.request.headers`);
    v.pairs(req.queryString, `${at}.request.queryString`);
    v.cookies(req.cookies, `${at}.request.cookies`);
    if (req.postData)
      v.object(req.postData, `${at}.request.postData`, {
        mimeType: "string",
        "params?": "array",
        "text?": "string",
        "comment?": "string",
      });
  }
  const res = v.object(entry.response, `${at}.response`, {
    status: "number",
    statusText: "string",
    httpVersion: "string",
    cookies: "array",
    headers: "array",
    content: "object",
    redirectURL: "string",
    headersSize: "number",
    bodySize: "number",
    "comment?": "string",
  });
  if (res) {
    v.pairs(res.headers, `${at}.response.headers`);
    v.cookies(res.cookies, `${at}.response.cookies`);
    v.object(res.content, `${at}.response.content`, {
      size: "number",
      "compression?": "number",
      mimeType: "string",
      "text?": "string",
      "encoding?": "string",
      "comment?": "string",
    });
  }
  v.object(entry.cache, `${at}.cache`, { "beforeRequest?": "object", "afterRequest?": "object", "comment?": "string" });
  const t = v.object(entry.timings, `${at}.timings`, {
    "blocked?": "number",
    "dns?": "number",
    "connect?": "number",
    send: "number",
    wait: "number",
    receive: "number",
    "ssl?": "number",
    "comment?": "string",
  });
  if (t) {
    for (const k of ["send", "wait", "receive"]) v.check((t[k] as number) >= 0, `${at}.timings.${k} is negative`);
    for (const k of ["blocked", "dns", "connect", "ssl"])
      if (k in t) v.check((t[k] as number) >= -1, `${at}.timings.${k} below -1`);
    // `time` is the sum of the phases that apply; `ssl` is already inside `connect`.
    const sum = ["blocked", "dns", "connect", "send", "wait", "receive"]
      .map((k) => (t[k] as number | undefined) ?? -1)
      .reduce((a, x) => (x > 0 ? a + x : a), 0);
    v.check(Math.abs(sum - (entry.time as number)) < 1e-6, `${at}.time ${String(entry.time)} is not the sum ${sum}`);
  }
}

class Validator {
  constructor(private readonly problems: string[]) {}

  check(ok: boolean, problem: string): void {
    if (!ok) this.problems.push(problem);
  }

  /** Checks required (`name`) and optional (`name?`) fields and that every other field is a custom `_` one. */
  object(value: unknown, at: string, fields: Record<string, string>): Obj | undefined {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.problems.push(`${at || "document"} is not an object`);
      return undefined;
    }
    const obj = value as Obj;
    for (const [spec, type] of Object.entries(fields)) {
      const optional = spec.endsWith("?");
      const name = optional ? spec.slice(0, -1) : spec;
      if (!(name in obj)) {
        if (!optional) this.problems.push(`${at}.${name} is missing`);
        continue;
      }
      this.check(this.is(obj[name], type), `${at}.${name} is not ${type}`);
    }
    const known = new Set(Object.keys(fields).map((k) => k.replace(/\?$/, "")));
    for (const key of Object.keys(obj))
      this.check(known.has(key) || key.startsWith("_"), `${at}.${key} is neither HAR nor custom (_)`);
    return obj;
  }

  private is(value: unknown, type: string): boolean {
    if (type === "array") return Array.isArray(value);
    if (type === "object") return value !== null && typeof value === "object" && !Array.isArray(value);
    if (type === "iso") return typeof value === "string" && !Number.isNaN(Date.parse(value));
    if (type === "number") return typeof value === "number" && Number.isFinite(value);
    return typeof value === type;
  }

  pairs(list: unknown, at: string): void {
    (list as unknown[]).forEach((p, i) =>
      this.object(p, `${at}[${i}]`, { name: "string", value: "string", "comment?": "string" }),
    );
  }

  cookies(list: unknown, at: string): void {
    (list as unknown[]).forEach((c, i) =>
      this.object(c, `${at}[${i}]`, {
        name: "string",
        value: "string",
        "path?": "string",
        "domain?": "string",
        "expires?": "iso",
        "httpOnly?": "boolean",
        "secure?": "boolean",
        "comment?": "string",
      }),
    );
  }
}

// ---------------------------------------------------------------- round trips

function everyKind(): AnyFlow[] {
  return [
    http1Flow(),
    http2ErrorFlow(),
    httpsStreamedFlow(zlib.gzipSync("<html>hello</html>")),
    websocketFlow(),
    tcpFlow(),
  ];
}

async function readHar(doc: unknown): Promise<HTTPFlow[]> {
  const out: HTTPFlow[] = [];
  for await (const f of readFlows([Buffer.from(JSON.stringify(doc))])) out.push(f as HTTPFlow);
  return out;
}

const close = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? a === b : Math.abs(a - b) < 1e-5;

/** What HAR holds of a message: as data, timestamps compared separately (HAR keeps microseconds). */
function harView(m: Request | Response): Obj {
  const view: Obj = {
    headers: m.headers.fields,
    // A streamed message has no content to compare (reading it throws StreamedBodyError).
    content: m.stream && m.body.length === 0 ? null : m.content.toString("hex"),
    httpVersion: m.httpVersion,
    stream: m.stream,
  };
  if (!m.headers.has("content-encoding")) view.body = m.body.toString("hex");
  if ("method" in m) Object.assign(view, { method: m.method, url: m.url, path: m.path });
  else Object.assign(view, { status: m.status, reason: m.reason });
  return view;
}

test("the HAR written has every field HAR 1.2 requires, with the spec's types; TCP flows are left out", () => {
  const flows = everyKind();
  const doc = harDocument(flows);
  assert.equal(validateHar(doc), []);
  const entries = doc.log.entries as Obj[];
  assert.is(entries.length, 4, "the TCP flow has no place in a HAR");
  const first = entries[0]!;
  assert.is((first.request as Obj).url, "http://example.com/upload?q=a%20b&x=1");
  assert.equal((first.request as Obj).queryString, [
    { name: "q", value: "a b" },
    { name: "x", value: "1" },
  ]);
  assert.equal(
    ((first.response as Obj).cookies as Obj[]).map((c) => [c.name, c.httpOnly ?? false, c.secure ?? false]),
    [
      ["a", true, false],
      ["b", false, true],
    ],
  );
  assert.is(((first.response as Obj).content as Obj).text, "gr\u00fc\u00dfe \u{1f600}\n");
  assert.is(((first.request as Obj).postData as Obj)._encoding, "base64", "binary request bodies are base64");
  const started = (flows[0] as HTTPFlow).request.timestampStart;
  assert.is(first.startedDateTime, `${new Date(Math.floor(started) * 1000).toISOString().slice(0, 19)}.123456Z`);
  assert.is(first.comment, "looked at");
  const noResponse = entries[1]!;
  assert.is((noResponse.response as Obj).status, 0);
  assert.is((noResponse.response as Obj)._error, "Connection killed.");
  const gz = entries[2]!.response as Obj;
  assert.equal(gz.content, {
    size: 18,
    compression: 18 - (gz.bodySize as number),
    mimeType: "text/html",
    text: "<html>hello</html>",
  });
  assert.is(entries[3]!._resourceType, "websocket");
});

test("a HAR read back gives the flows again: requests, responses, bodies, timings, errors, WebSocket messages", async () => {
  const flows = everyKind().filter((f): f is HTTPFlow => f.type === "http");
  const read = await readHar(harDocument(flows));
  assert.is(read.length, flows.length);
  for (let i = 0; i < flows.length; i++) {
    const [a, b] = [flows[i]!, read[i]!];
    const at = `flow ${i}`;
    assert.equal(harView(b.request), harView(a.request), at);
    assert.equal(b.response && harView(b.response), a.response && harView(a.response), at);
    assert.ok(close(b.request.timestampStart, a.request.timestampStart), `${at} request start`);
    assert.ok(
      close(b.request.timestampEnd ?? b.request.timestampStart, a.request.timestampEnd ?? a.request.timestampStart),
      at,
    );
    if (a.response) {
      assert.ok(close(b.response!.timestampStart, a.response.timestampStart), `${at} response start`);
      assert.ok(close(b.response!.timestampEnd, a.response.timestampEnd), `${at} response end`);
    }
    assert.is(b.error?.msg, a.error?.msg, at);
    assert.is(b.comment, a.comment, at);
    assert.is(b.server.peername?.host, a.server.peername?.host, at);
    assert.equal(
      b.websocket?.messages.map((m) => [m.fromClient, m.type, m.content.toString("hex"), m.timestamp]),
      a.websocket?.messages.map((m) => [m.fromClient, m.type, m.content.toString("hex"), m.timestamp]),
      at,
    );
  }
});

test("HarWriter streams entries to a file; the file is a valid HAR and reads back", async () => {
  const path = join(dir, "stream.har");
  const writer = await HarWriter.open(path);
  for (const f of everyKind()) await writer.add(f);
  await writer.close();
  const doc = JSON.parse(readFileSync(path, "utf8")) as Obj;
  assert.equal(validateHar(doc), []);
  const read: AnyFlow[] = [];
  for await (const f of readFlowFile(path)) read.push(f);
  assert.equal(
    read.map((f) => (f as HTTPFlow).request.url),
    everyKind()
      .filter((f): f is HTTPFlow => f.type === "http")
      .map((f) => f.request.url),
  );
});

// ---------------------------------------------------------------- other writers' HARs

test("a browser's HAR: pseudo-headers, [name, value] pairs, a form as params, base64 and missing bodies, offsets in dates", async () => {
  const doc = {
    log: {
      version: "1.2",
      creator: { name: "WebInspector", version: "537.36" },
      entries: [
        {
          startedDateTime: "2024-05-01T12:00:00.250+02:00",
          time: 30,
          request: {
            method: "POST",
            url: "https://example.org/form#frag",
            httpVersion: "http/2.0",
            headers: [
              { name: ":method", value: "POST" },
              { name: ":authority", value: "example.org" },
              ["content-type", "application/x-www-form-urlencoded"],
            ],
            postData: { mimeType: "application/x-www-form-urlencoded", params: [{ name: "a b", value: "c&d" }] },
          },
          response: {
            status: 200,
            statusText: "",
            httpVersion: "h2",
            headers: [{ name: "content-type", value: "image/png" }],
            content: { size: 3, mimeType: "image/png", text: "iVBO", encoding: "base64" },
          },
          timings: { send: 1, wait: 20, receive: 9 },
        },
        {
          startedDateTime: "2024-05-01T10:00:01Z",
          request: { method: "GET", url: "http://example.org/img", headers: [] },
          response: { status: 304, headers: [], content: { size: 0, mimeType: "" }, bodySize: -1 },
        },
      ],
    },
  };
  const [form, img] = await readHar(doc);
  assert.is(form!.request.url, "https://example.org/form");
  assert.is(form!.request.httpVersion, "HTTP/2.0");
  assert.equal(form!.request.headers.fields, [
    ["host", "example.org"],
    ["content-type", "application/x-www-form-urlencoded"],
  ]);
  assert.is(form!.request.text(), "a+b=c%26d");
  assert.equal([...form!.response!.body], [0x89, 0x50, 0x4e]);
  assert.is(form!.request.timestampStart, Date.UTC(2024, 4, 1, 10, 0, 0, 250) / 1000);
  assert.ok(close(form!.response!.timestampEnd, form!.request.timestampStart + 0.03));
  assert.is(img!.response!.status, 304);
  assert.is(img!.response!.reason, "Not Modified");
  assert.ok(img!.response!.stream, "no body was recorded");
});

test("mitmproxy's savehar output (its shape for a flow without response) reads", async () => {
  const doc = {
    log: {
      version: "1.2",
      creator: { name: "mitmproxy", version: "12.2.3", comment: "" },
      pages: [],
      entries: [
        {
          startedDateTime: "2025-01-01T00:00:00.000001+00:00",
          time: 0,
          request: {
            method: "GET",
            url: "http://example.com:8080/x?y=1",
            httpVersion: "HTTP/1.1",
            cookies: [],
            headers: [{ name: "Host", value: "example.com:8080" }],
            queryString: [{ name: "y", value: "1" }],
            headersSize: 20,
            bodySize: 0,
          },
          response: {
            status: 0,
            statusText: "",
            httpVersion: "",
            headers: [],
            cookies: [],
            content: {},
            redirectURL: "",
            headersSize: -1,
            bodySize: -1,
            _transferSize: 0,
            _error: "Server disconnected.",
          },
          cache: {},
          timings: { connect: -1.0, ssl: -1.0, send: 0, receive: 0, wait: 0 },
        },
      ],
    },
  };
  const [flow] = await readHar(doc);
  assert.is(flow!.request.port, 8080);
  assert.is(flow!.request.path, "/x?y=1");
  assert.is(flow!.response, undefined);
  assert.is(flow!.error?.msg, "Server disconnected.");
  assert.is(flow!.request.timestampStart, 1735689600.000001);
});

test("a document that is not a HAR names the field that is wrong", async () => {
  const cases: Array<[unknown, string]> = [
    [{ log: [] }, "log: expected an object, got an array"],
    [{}, "log: expected an object, got nothing (the field is missing)"],
    [{ log: { entries: {} } }, "log.entries: expected an array, got an object"],
    [{ log: { entries: [7] } }, "log.entries[0]: expected an object, got a number"],
    [
      { log: { entries: [{ startedDateTime: "yesterday", request: {}, response: {} }] } },
      'log.entries[0].startedDateTime: expected an ISO 8601 date and time, got "yesterday"',
    ],
    [
      { log: { entries: [{ startedDateTime: "2024-01-01T00:00:00Z", request: { method: "GET", url: 5 } }] } },
      "log.entries[0].request.url: expected a string, got a number",
    ],
    [
      { log: { entries: [{ startedDateTime: "2024-01-01T00:00:00Z", request: { method: "GET", url: "ftp://x/" } }] } },
      'log.entries[0].request.url: expected an absolute http(s) URL, got "ftp://x/"',
    ],
    [
      {
        log: {
          entries: [
            {
              startedDateTime: "2024-01-01T00:00:00Z",
              request: { method: "GET", url: "http://x/", headers: [{ name: "a" }] },
              response: {},
            },
          ],
        },
      },
      "log.entries[0].request.headers[0]: expected a header with a string name and value",
    ],
    [
      {
        log: {
          entries: [
            {
              startedDateTime: "2024-01-01T00:00:00Z",
              request: { method: "GET", url: "http://x/", headers: [] },
              response: { status: "200", headers: [] },
            },
          ],
        },
      },
      "log.entries[0].response.status: expected a number, got a string",
    ],
  ];
  for (const [doc, problem] of cases) {
    const err = await readHar(doc).catch((e: unknown) => e);
    assert.instance(err, FlowReadError, problem);
    assert.is((err as Error).message, `flows: not a HAR file: ${problem}`);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
