// Differential test: interloper's compileFilter against the real mitmproxy
// (Debian's 8.1.1, through test/fixtures/filter/mitmproxy_filter.py) on the
// same flows and expressions. Every (expression, flow) pair must agree, except
// the differences listed below with their reasons; each listed difference must
// still differ, so the list cannot go stale.
import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilter } from "@interloper/sdk";
import { br, buildFlow, deflate, gzip, pythonFlow, type FlowSpec } from "../helpers/filter-flows.ts";
import { WAIT_MS } from "../helpers/harness.ts";

const SCRIPT = new URL("../fixtures/filter/mitmproxy_filter.py", import.meta.url).pathname;

const FLOWS: Record<string, FlowSpec> = {
  get: {
    request: {
      path: "/index.html",
      headers: [
        ["Host", "example.com"],
        ["User-Agent", "curl/8.5.0"],
        ["Accept", "*/*"],
      ],
    },
  },
  api: {
    client: ["10.1.2.3", 51000],
    server: ["api.example.com", 8080],
    request: {
      method: "POST",
      scheme: "http",
      host: "api.example.com",
      port: 8080,
      path: "/v1/items?id=7",
      headers: [
        ["Host", "api.example.com:8080"],
        ["Content-Type", "application/json"],
      ],
      body: '{"name":"Widget"}',
    },
    response: {
      status: 201,
      reason: "Created",
      headers: [
        ["Content-Type", "application/json; charset=utf-8"],
        ["Content-Encoding", "gzip"],
        ["X-Debug", "ON"],
      ],
      body: gzip('{"id":7,"secret":"hunter2"}'),
    },
    marked: ":default:",
    comment: "first line\nsecond line",
    metadata: { retries: 3, tags: ["a", "b"], ok: true, none: null, nested: { k: "v" }, ratio: 0.5 },
  },
  script: {
    request: { host: "cdn.example.org", path: "/app.js", headers: [["Host", "cdn.example.org"]] },
    response: {
      headers: [
        ["Content-Type", "text/javascript"],
        ["Content-Encoding", "br"],
      ],
      body: br("console.log('hi')"),
    },
    isReplay: "request",
  },
  style: {
    request: { host: "cdn.example.org", path: "/site.css", headers: [["Host", "cdn.example.org"]] },
    response: {
      headers: [
        ["Content-Type", "Text/CSS"],
        ["Content-Encoding", "deflate"],
      ],
      body: deflate("body { color: red }"),
    },
    isReplay: "response",
  },
  failed: {
    request: { scheme: "http", host: "unreachable.test", headers: [["Host", "unreachable.test"]] },
    server: ["unreachable.test", 80],
    error: "Connection refused",
  },
  ws: {
    request: {
      scheme: "http",
      path: "/ws",
      headers: [
        ["Host", "example.com"],
        ["Upgrade", "websocket"],
      ],
    },
    response: { status: 101, reason: "Switching Protocols", headers: [["Upgrade", "websocket"]] },
    websocket: [
      [true, "text", "hello server"],
      [false, "binary", Buffer.from([0, 1, 0x62, 0x69, 0x6e])],
      [false, "text", "Bye"],
    ],
  },
  tcp: {
    kind: "tcp",
    client: ["192.168.1.5", 41000],
    server: ["10.0.0.1", 5432],
    messages: [
      [true, "PING"],
      [false, "PONG\n"],
    ],
  },
  brokenGzip: {
    request: { host: "example.net", headers: [["Host", "example.net"]] },
    response: {
      headers: [
        ["Content-Encoding", "gzip"],
        ["Content-Type", "text/plain"],
      ],
      body: "not gzip at all",
    },
  },
  transparent: {
    server: ["10.0.0.2", 8080],
    request: {
      scheme: "http",
      host: "10.0.0.2",
      port: 8080,
      path: "/cart",
      headers: [["Host", "shop.example.com"]],
    },
  },
};

const EXPRESSIONS = [
  // flags
  "~all",
  "~http",
  "~tcp",
  "~websocket",
  "~q",
  "~s",
  "~e",
  "~a",
  "~marked",
  "~replay",
  "~replayq",
  "~replays",
  "~dns",
  // request fields
  "~d example.com",
  "~d ^example\\.net$",
  "~d API",
  "~d shop",
  "~m POST",
  "~m post",
  "~m ^G",
  "~u /v1/items",
  '~u "id=7$"',
  "example.org/app",
  "~u ^http://shop\\.example\\.com/cart$",
  "~u :8080/",
  "~u EXAMPLE",
  // responses and headers
  "~c 201",
  "~c 200",
  "~c 101",
  '~h "^Content-Type: application/json"',
  '~h "^content-type: application/json"',
  '~hq "^Host: api"',
  "~hs charset=utf-8",
  '~hs "^X-Debug: ON$"',
  '~hs "^X-Debug: on\\r$"',
  "~t json",
  "~tq json",
  "~ts javascript",
  // bodies and messages
  "~b Widget",
  "~b WIDGET",
  "~b hunter2",
  "~bs hunter2",
  "~bq hunter2",
  "~b console",
  "~b color",
  '~b "not gzip"',
  "~b hello",
  "~bq hello",
  "~bs bin",
  "~bq bin",
  "~b PONG",
  "~bq PONG",
  '~bs "PONG$"',
  '~b "^$"',
  // addresses and flow facts
  "~src ^192\\.168\\.",
  "~src 10.1.2.3:51000",
  "~dst :5432$",
  "~dst example.com:443",
  "~marker default",
  "~comment ^second",
  "~comment SECOND",
  '~meta "retries: 3"',
  '~meta "ok: True"',
  "~meta \"tags: \\['a', 'b'\\]\"",
  "~meta \"nested: {'k': 'v'}\"",
  "~meta ratio:.0\\.5",
  "~meta none:.None",
  // combinations, precedence, quoting
  "~q & ~d example",
  "!~s",
  "~s | ~q",
  "!~a & ~s",
  "~m GET & !~e | ~tcp",
  "~m GET ~d example.com",
  "!(~q | ~tcp )",
  "( ~c 201 | ~c 101 ) & ~http",
  "~a | ~b hello ~http",
  "!~q & !~tcp & ~b .",
  "~b 'hunter2'",
  '~u "ex\\ample"',
  '~d "example\\\\.(com|net)"',
  // syntax
  "~q &",
  "(~q)",
  "~c 200x",
  "~udp",
  "~zz",
  "(~q",
  "~d",
  "~q&~s",
  "~q )",
];

/** Pairs that differ from mitmproxy 8.1.1 on purpose: `expression @ flow` → why. */
const EXPECTED_DIFFERENCES: Record<string, string> = {
  ...caseInsensitive("~u EXAMPLE", ["get", "api", "script", "style", "ws", "brokenGzip", "transparent"]),
  ...caseInsensitive('~h "^content-type: application/json"', ["api"]),
  ...caseInsensitive('~hs "^X-Debug: on\\r$"', ["api"]),
  ...caseInsensitive("~b WIDGET", ["api"]),
  ...caseInsensitive("~comment SECOND", ["api"]),
  // Every HTTP flow with an empty request or response body.
  ...Object.fromEntries(
    ["get", "script", "style", "failed", "ws", "brokenGzip", "transparent"].map((f) => [
      `~b "^$" @ ${f}`,
      "today's mitmproxy searches an empty body too (its content is not None); 8.1.1 skipped empty bodies",
    ]),
  ),
};

/** Expressions whose validity differs from mitmproxy 8.1.1 on purpose → why. */
const EXPECTED_SYNTAX_DIFFERENCES: Record<string, string> = {
  "~q &": "a dangling '&' is an error here; 8.1.1's grammar reads it as a URL regex '&'",
  "(~q)": "')' may follow a flag operator here; 8.1.1 wants a space (pyparsing's WordEnd)",
  "~c 200x": "~c takes a whole number here; 8.1.1 reads ~c 200 and a URL regex 'x'",
  "~udp": "~udp is in today's mitmproxy, not in 8.1.1",
};

function caseInsensitive(expr: string, flows: string[]): Record<string, string> {
  const why = "today's mitmproxy ignores case in every regex; 8.1.1 only in ~d and ~m";
  return Object.fromEntries(flows.map((f) => [`${expr} @ ${f}`, why]));
}

type PythonResult = { error: string } | { matches: Record<string, boolean> };

function pythonWithMitmproxy(): string {
  const candidates = [process.env.MITMPROXY_PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import mitmproxy.flowfilter"], { timeout: WAIT_MS });
    if (probe.status === 0) return python;
  }
  throw new Error(`no Python with mitmproxy among ${candidates.join(", ")} (apt-get install mitmproxy)`);
}

function runMitmproxy(): { version: string; results: Record<string, PythonResult> } {
  const job = {
    flows: Object.fromEntries(Object.entries(FLOWS).map(([name, spec]) => [name, pythonFlow(spec)])),
    expressions: EXPRESSIONS,
  };
  const run = spawnSync(pythonWithMitmproxy(), [SCRIPT], { input: JSON.stringify(job), timeout: WAIT_MS });
  assert.is(run.status, 0, `mitmproxy_filter.py failed: ${run.stderr?.toString()}`);
  return JSON.parse(run.stdout.toString()) as { version: string; results: Record<string, PythonResult> };
}

function ours(expr: string): PythonResult {
  let filter;
  try {
    filter = compileFilter(expr);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const matches: Record<string, boolean> = {};
  for (const [name, spec] of Object.entries(FLOWS)) matches[name] = filter(buildFlow(spec));
  return { matches };
}

test("interloper's filters agree with mitmproxy 8.1.1 on every pair but the listed differences", () => {
  const theirs = runMitmproxy();
  assert.is(theirs.version, "8.1.1", "the differences below are stated against 8.1.1");
  const unexpected: string[] = [];
  const stale: string[] = [];
  let agreeing = 0;
  for (const expr of EXPRESSIONS) {
    const a = ours(expr);
    const b = theirs.results[expr]!;
    if ("error" in a || "error" in b) {
      const differs = "error" in a !== "error" in b;
      const expected = expr in EXPECTED_SYNTAX_DIFFERENCES;
      if (differs && !expected) unexpected.push(`${expr}: ours ${JSON.stringify(a)}, mitmproxy ${JSON.stringify(b)}`);
      if (!differs && expected) stale.push(`${expr} (syntax)`);
      continue;
    }
    assert.not.ok(expr in EXPECTED_SYNTAX_DIFFERENCES, `${expr} was expected to be valid on one side only`);
    for (const flow of Object.keys(FLOWS)) {
      const key = `${expr} @ ${flow}`;
      const differs = a.matches[flow] !== b.matches[flow];
      if (differs && !(key in EXPECTED_DIFFERENCES))
        unexpected.push(`${key}: ours ${a.matches[flow]}, mitmproxy ${b.matches[flow]}`);
      else if (!differs && key in EXPECTED_DIFFERENCES) stale.push(key);
      else if (!differs) agreeing++;
    }
  }
  assert.equal(unexpected, [], "pairs that differ from mitmproxy without a stated reason");
  assert.equal(stale, [], "listed differences that no longer differ");
  assert.ok(agreeing >= 600, `${agreeing} agreeing pairs`);
});

test.run();
