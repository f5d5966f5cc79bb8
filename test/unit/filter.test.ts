// mitmproxy's filter expressions (sdk/src/filter): each operator on flows that
// match and flows that do not, precedence, quoting, negation, case, encoded
// bodies. Syntax errors, hostile input, the Python regex translation and the
// comparison with the real mitmproxy have files of their own (filter-*.test.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilter, type AnyFlow } from "@interloper/sdk";
import { br, buildFlow, deflate, gzip, type FlowSpec } from "../helpers/filter-flows.ts";

const SPECS: Record<string, FlowSpec> = {
  /** An HTTPS request without a response yet. */
  req: {
    request: {
      path: "/search?q=Cats",
      headers: [
        ["Host", "example.com"],
        ["User-Agent", "Mozilla/5.0"],
        ["Accept", "text/html"],
      ],
    },
  },
  /** A request with a response, marked, commented, with metadata, made by client replay. */
  resp: {
    client: ["127.0.0.1", 50000],
    server: ["api.example.com", 8080],
    request: {
      method: "POST",
      scheme: "http",
      host: "api.example.com",
      port: 8080,
      path: "/v1/items",
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
        ["Content-Type", "application/json"],
        ["Set-Cookie", "session=abc"],
      ],
      body: '{"id":7,"name":"café"}',
    },
    marked: ":default:",
    comment: "looks odd\nsecond line",
    metadata: { source: "replay-file", count: 2, flag: true },
    isReplay: "request",
  },
  err: {
    client: ["10.0.0.7", 40000],
    server: ["down.example", 80],
    request: { scheme: "http", host: "down.example", headers: [["Host", "down.example"]] },
    error: "Connection refused",
  },
  tcp: {
    kind: "tcp",
    client: ["192.168.0.2", 33000],
    server: ["db.internal", 5432],
    messages: [
      [true, "SELECT 1"],
      [false, "ROW 1\n"],
    ],
  },
  ws: {
    request: { scheme: "http", host: "chat.example", path: "/socket", headers: [["Host", "chat.example"]] },
    response: { status: 101, reason: "Switching Protocols", headers: [["Upgrade", "websocket"]] },
    websocket: [
      [true, "text", "hi there"],
      [false, "text", "welcome"],
      [false, "binary", Buffer.from([0x00, 0xff])],
    ],
  },
  gz: {
    response: { headers: [["Content-Encoding", "gzip"]], body: gzip("compressed with gzip") },
  },
  df: {
    request: {
      method: "PUT",
      headers: [
        ["Host", "example.com"],
        ["Content-Encoding", "deflate"],
      ],
      body: deflate("squeezed request"),
    },
    response: { headers: [["Content-Encoding", "deflate"]], body: deflate("compressed with deflate") },
  },
  brotli: {
    response: { headers: [["Content-Encoding", "br"]], body: br("compressed with brotli") },
  },
  broken: {
    response: { headers: [["Content-Encoding", "gzip"]], body: "plain text pretending" },
  },
  asset: {
    response: { headers: [["Content-Type", "image/png"]], body: "PNG" },
  },
  style: {
    response: { headers: [["Content-Type", "Text/CSS"]], body: "a{}" },
    isReplay: "response",
  },
  ipv6: { client: ["::1", 50001], server: ["::1", 8443] },
  transparent: {
    server: ["203.0.113.9", 80],
    request: { scheme: "http", host: "203.0.113.9", port: 80, path: "/cart", headers: [["Host", "shop.example"]] },
  },
};

const FLOWS: Record<string, AnyFlow> = Object.fromEntries(
  Object.entries(SPECS).map(([name, spec]) => [name, buildFlow(spec)]),
);

type Row = [expression: string, flow: string, matches: boolean];

const FLAGS: Row[] = [
  ["~all", "req", true],
  ["~all", "tcp", true],
  ["~all", "ws", true],
  ["~http", "req", true],
  ["~http", "ws", true],
  ["~http", "tcp", false],
  ["~tcp", "tcp", true],
  ["~tcp", "req", false],
  ["~tcp", "ws", false],
  ["~websocket", "ws", true],
  ["~websocket", "resp", false],
  ["~websocket", "tcp", false],
  ["~q", "req", true],
  ["~q", "err", true],
  ["~q", "resp", false],
  ["~q", "tcp", false],
  ["~s", "resp", true],
  ["~s", "ws", true],
  ["~s", "req", false],
  ["~s", "tcp", false],
  ["~e", "err", true],
  ["~e", "req", false],
  ["~e", "tcp", false],
  ["~a", "asset", true],
  ["~a", "resp", false],
  ["~a", "req", false],
  ["~a", "tcp", false],
  // mitmproxy's asset list is matched case-sensitively, in 8.1.1 and today.
  ["~a", "style", false],
  ["~marked", "resp", true],
  ["~marked", "req", false],
  ["~replay", "resp", true],
  ["~replay", "style", true],
  ["~replay", "req", false],
  ["~replayq", "resp", true],
  ["~replayq", "style", false],
  ["~replays", "style", true],
  ["~replays", "resp", false],
  ["~dns", "req", false],
  ["~dns", "tcp", false],
  ["~udp", "req", false],
  ["~udp", "tcp", false],
];

const REQUEST_FIELDS: Row[] = [
  ["~c 201", "resp", true],
  ["~c 0201", "resp", true],
  ["~c 200", "resp", false],
  ["~c 201", "req", false],
  ["~c 101", "ws", true],
  ["~c 201", "tcp", false],
  ["~d example.com", "req", true],
  ["~d api", "resp", true],
  ["~d EXAMPLE", "req", true],
  ["~d ^example\\.com$", "req", true],
  ["~d ^shop\\.example$", "transparent", true],
  ["~d 203\\.0\\.113", "transparent", true],
  ["~d example", "tcp", false],
  ["~d cats", "req", false],
  ["~m GET", "req", true],
  ["~m post", "resp", true],
  ["~m ^P", "req", false],
  ["~m GET", "tcp", false],
  ["~u search\\?q=Cats", "req", true],
  ["~u cats", "req", true],
  ["~u ^https://example\\.com/search", "req", true],
  ["~u ^http://api\\.example\\.com:8080/v1/items$", "resp", true],
  // The URL takes its host and port from the Host header (mitmproxy's pretty_url).
  ["~u ^http://shop\\.example/cart$", "transparent", true],
  ["~u 203\\.0\\.113", "transparent", false],
  ["~u .", "tcp", false],
  ["search", "req", true],
  ['"/v1/items"', "resp", true],
  ["'/v1/items'", "resp", true],
  ["nomatch", "req", false],
];

const HEADERS: Row[] = [
  ['~h "^User-Agent: Mozilla"', "req", true],
  ["~h set-cookie", "resp", true],
  ["~h user-agent", "req", true],
  ["~hq set-cookie", "resp", false],
  ["~hs set-cookie", "resp", true],
  ["~hs .", "req", false],
  ['~hq "^Host: api\\.example\\.com:8080\\r$"', "resp", true],
  // Header lines end in \r\n and Python's $ only matches before \n.
  ['~h "session=abc$"', "resp", false],
  ["~h x", "tcp", false],
  ["~t json", "resp", true],
  ["~tq json", "resp", true],
  ["~ts json", "resp", true],
  ["~tq json", "req", false],
  ["~t text/html", "req", false],
  ["~ts png", "asset", true],
  ["~ts png", "tcp", false],
];

const BODIES: Row[] = [
  ["~b Widget", "resp", true],
  ["~bq Widget", "resp", true],
  ["~bs Widget", "resp", false],
  ["~bs '\"id\":7'", "resp", true],
  ["~b WIDGET", "resp", true],
  ["~b gzip", "gz", true],
  ["~bs gzip", "gz", true],
  ["~b deflate", "df", true],
  ["~bq squeezed", "df", true],
  ["~bs squeezed", "df", false],
  ["~b brotli", "brotli", true],
  // A body that does not decode is searched as it came.
  ["~b pretending", "broken", true],
  ["~b hi", "ws", true],
  ['~bq "hi there"', "ws", true],
  ["~bq welcome", "ws", false],
  ["~bs welcome", "ws", true],
  ["~bs \\xff", "ws", true],
  ["~bq \\xff", "ws", false],
  ["~b SELECT", "tcp", true],
  ["~bq SELECT", "tcp", true],
  ["~bs SELECT", "tcp", false],
  ['~bs "ROW 1$"', "tcp", true],
  ['~b "1\\n"', "tcp", true],
  ["~b anything", "req", false],
  // Today's mitmproxy searches empty bodies too (8.1.1 skipped them).
  ['~b "^$"', "req", true],
  ["~b .", "req", false],
  // Bodies are bytes: a pattern's é is its UTF-8 bytes, `.` is one byte.
  ["~bs café", "resp", true],
  ['~bs "caf.\\\\xa9"', "resp", true],
  ['~bs "(?-i:widget)"', "resp", false],
  ['~bq "(?-i:Widget)"', "resp", true],
];

const FLOW_FACTS: Row[] = [
  ["~src ^127\\.0\\.0\\.1:50000$", "req", true],
  ["~src 10\\.0\\.0\\.7", "err", true],
  ["~src 192.168", "tcp", true],
  ["~src ^::1:50001$", "ipv6", true],
  ["~src 10\\.0\\.0\\.7", "req", false],
  ["~dst ^example\\.com:443$", "req", true],
  ["~dst :5432", "tcp", true],
  ["~dst down.example:80", "err", true],
  ["~dst :5432", "req", false],
  ["~marker default", "resp", true],
  ["~marker .", "req", false],
  ["~comment ^second", "resp", true],
  ["~comment odd", "resp", true],
  ["~comment odd.second", "resp", false],
  ['~comment "(?s)odd.second"', "resp", true],
  ["~comment x", "req", false],
  ['~meta "^source: replay-file$"', "resp", true],
  ['~meta "count: 2"', "resp", true],
  ['~meta "flag: True"', "resp", true],
  ['~meta "flag: true"', "resp", true],
  ["~meta .", "req", false],
];

const COMBINATIONS: Row[] = [
  // ! binds tighter than &, & tighter than |.
  ["~q | ~s & ~tcp", "req", true],
  ["~q | ~s & ~tcp", "resp", false],
  ["(~q | ~s) & ~tcp", "req", false],
  ["!~q & ~http", "resp", true],
  ["!~q & ~http", "req", false],
  ["!(~q & ~http)", "resp", true],
  ["!(~q & ~http)", "tcp", true],
  ["!(~q & ~http)", "req", false],
  ["!~http | ~q", "req", true],
  ["!~http | ~q", "resp", false],
  ["!~http | ~q", "tcp", true],
  ["!(~http | ~q)", "tcp", true],
  ["!(~http | ~q)", "req", false],
  ["!!~q", "req", true],
  ["!!~q", "resp", false],
  ["! ! ~q", "req", true],
  // Side by side means "and", more loosely than | (mitmproxy's OneOrMore at the top).
  ["~http ~q", "req", true],
  ["~http ~q", "resp", false],
  ["~q | ~tcp ~http", "tcp", false],
  ["~q | ~tcp ~http", "req", true],
  ["~http ~s | ~q", "req", true],
  ["~http ~s | ~q", "tcp", false],
  ["~q ! ~e", "req", true],
  ["~q ! ~e", "err", false],
  ["~q & ~d example & ~m GET", "req", true],
  ["~s & (~c 201 | ~c 404)", "resp", true],
  ["~s & (~c 200 | ~c 404)", "resp", false],
  ["~d api & !~b secret", "resp", true],
  ["((~q))", "req", true],
  ["(~q)", "req", true],
  ["( ~q )|~tcp", "tcp", true],
];

const QUOTING_AND_REGEX: Row[] = [
  // Inside quotes a backslash escapes the next character, so \? is a plain ? (mitmproxy's rule).
  ['~u "search\\?q"', "req", false],
  ['~u "search\\\\?q"', "req", true],
  ["~u search\\?q", "req", true],
  ["~u 'example\\.com'", "req", true],
  ['~d "ex\\w+"', "req", false],
  ["~d ex\\w+", "req", true],
  ['~d "example.com"', "req", true],
  ['~b "hi there"', "ws", true],
  ["~b 'hi there'", "ws", true],
  // A quoted operator is a URL regex, not an operator.
  ['"~q"', "req", false],
  ["~u search&~q", "req", false],
  ["~d !example", "req", false],
  ["~u a|search", "req", true],
  ['~d "(?P<name>exa)mple"', "req", true],
  ['~d "(?P<x>e)xampl(?P=x)"', "req", true],
  ["~d \\Aexample\\.com\\Z", "req", true],
  ["~d exa{,2}mple", "req", true],
  ['~u "(?-i:CATS)"', "req", false],
  ['~u "(?-i:Cats)"', "req", true],
  ['~h "(?m)^accept: text"', "req", true],
  ['~d "(?x)exa mple"', "req", true],
  ["~u [^\\W]ats", "req", true],
  ['~d "^(?>exa)mple"', "req", true],
];

const TABLE: Row[] = [
  ...FLAGS,
  ...REQUEST_FIELDS,
  ...HEADERS,
  ...BODIES,
  ...FLOW_FACTS,
  ...COMBINATIONS,
  ...QUOTING_AND_REGEX,
];

test(`the table: ${TABLE.length} (expression, flow) cases`, () => {
  assert.ok(TABLE.length >= 150, `${TABLE.length} cases`);
  const wrong: string[] = [];
  for (const [expr, flowName, expected] of TABLE) {
    const flow = FLOWS[flowName];
    assert.ok(flow, `flow ${flowName}`);
    let got: boolean | string;
    try {
      got = compileFilter(expr)(flow);
    } catch (err) {
      got = (err as Error).message;
    }
    if (got !== expected) wrong.push(`${expr} on ${flowName}: expected ${expected}, got ${got}`);
  }
  assert.equal(wrong, []);
});

test("a compiled filter is a function with its source; it drops into Array methods", () => {
  const filter = compileFilter("~q");
  assert.type(filter, "function");
  assert.is(filter.source, "~q");
  const flows = Object.values(FLOWS);
  assert.equal(
    flows.filter(filter).map((f) => f.id),
    [FLOWS.req, FLOWS.err, FLOWS.ipv6, FLOWS.transparent].map((f) => f!.id),
  );
});

test("caseSensitive: every regex keeps case, as MITMPROXY_CASE_SENSITIVE_FILTERS=1 does", () => {
  const req = FLOWS.req!;
  assert.ok(compileFilter("~u CATS")(req));
  assert.not.ok(compileFilter("~u CATS", { caseSensitive: true })(req));
  assert.ok(compileFilter("~u Cats", { caseSensitive: true })(req));
  assert.not.ok(compileFilter("~d EXAMPLE", { caseSensitive: true })(req));
  assert.not.ok(compileFilter("~m get", { caseSensitive: true })(req));
  assert.ok(compileFilter('~u "(?i)CATS"', { caseSensitive: true })(req));
  assert.ok(compileFilter('~b "(?i:WIDGET)"', { caseSensitive: true })(FLOWS.resp!));
});

test("text operators fold Unicode case; bytes operators fold ASCII letters only (Python's rules)", () => {
  const flow = buildFlow({
    request: { host: "münchen.example", headers: [["Host", "münchen.example"]], body: "ÉCOLE école" },
  });
  flow.comment = "STRASSE Ärger";
  assert.ok(compileFilter("~d MÜNCHEN")(flow));
  assert.ok(compileFilter("~comment ärger")(flow));
  assert.ok(compileFilter("~b école")(flow));
  assert.ok(compileFilter("~b ÉCOLE")(flow));
  // A body is bytes: É and é differ in a byte that is no ASCII letter, so ^école does not match ÉCOLE.
  assert.not.ok(compileFilter("~b ^école")(flow));
  assert.ok(compileFilter("~b ^écOLE", { caseSensitive: false })(buildFlow({ request: { body: "école" } })));
});

test("a body is decoded at most once per evaluation, and never without a body operator", () => {
  const flow = buildFlow(SPECS.gz!);
  const response = (flow as { response: { content: Buffer } }).response;
  const real = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Object.getPrototypeOf(response)), "content")!;
  let decodes = 0;
  Object.defineProperty(response, "content", {
    get() {
      decodes++;
      return real.get!.call(response) as Buffer;
    },
  });
  compileFilter("~s & ~d example & !~a & ~h content-encoding")(flow);
  assert.is(decodes, 0, "no body operator, no decoding");
  assert.ok(compileFilter("~bs nomatch | ~b nothing | ~bs gzip")(flow));
  assert.is(decodes, 1, "three body operators, one decoding");
  compileFilter("~bs gzip")(flow);
  assert.is(decodes, 2, "the next evaluation decodes again (the flow may have changed)");
});

test("a streamed body is not searched (mitmproxy's None content), an empty one is", () => {
  const flow = buildFlow({ request: { method: "POST", body: "" } });
  assert.ok(compileFilter('~bq "^$"')(flow));
  (flow as { request: { stream: boolean } }).request.stream = true;
  assert.not.ok(compileFilter('~bq "^$"')(flow));
});

test("~meta spells values as Python's str() does", () => {
  const flow = buildFlow({
    metadata: { n: null, list: [1, "a", true], dict: { k: "it's" }, float: 1e-7, big: 1e16, bytes: Buffer.from("a\n") },
  });
  for (const line of [
    "n: None",
    "list: \\[1, 'a', True\\]",
    "dict: {'k': \"it's\"}",
    "float: 1e-07",
    "big: 1e\\+16",
    "bytes: b'a\\\\n'",
  ])
    assert.ok(compileFilter(`~meta ${JSON.stringify(line)}`)(flow), line);
});

test("~d and ~u read the Host header as mitmproxy's parse_authority does", () => {
  const flow = (host: string) =>
    buildFlow({ request: { scheme: "http", host: "10.0.0.1", port: 8080, headers: [["Host", host]] } });
  assert.ok(compileFilter("~u ^http://a\\.example/$")(flow("a.example")));
  assert.ok(compileFilter("~u ^http://a\\.example:81/$")(flow("a.example:81")));
  assert.ok(compileFilter("~u ^http://\\[::1\\]:81/$")(flow("[::1]:81")));
  // Not a valid authority: the whole value stands as the host.
  assert.ok(compileFilter("~d ^a\\.example:x$")(flow("a.example:x")));
  assert.ok(compileFilter("~d ^10\\.0\\.0\\.1$")(flow("")));
});

test.run();
