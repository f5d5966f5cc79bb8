// Damaged and hostile flow files: read up to the damage (every flow before it
// delivered), then one error naming the byte offset; never a crash or a hang.
// A small multi-flow file is cut at every offset and has bytes flipped at
// seeded offsets; hand-made inputs cover hostile lengths, nesting and field types.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  decodeTNet,
  encodeFlow,
  encodeTNet,
  FlowReadError,
  readFlows,
  type AnyFlow,
  type FlowReadOptions as ReadOptions,
  type TNetDict,
} from "@interloper/sdk";
import { snapshot, tcpFlow, websocketFlow, http2ErrorFlow } from "../helpers/flowfile.ts";

interface Outcome {
  flows: AnyFlow[];
  error?: FlowReadError;
  warnings: string[];
}

async function readAll(bytes: Buffer, opts: ReadOptions = {}, chunk = 1 << 16): Promise<Outcome> {
  const warnings: string[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) pieces.push(bytes.subarray(i, i + chunk));
  const flows: AnyFlow[] = [];
  try {
    for await (const f of readFlows(pieces, { ...opts, onWarning: (m) => warnings.push(m) })) flows.push(f);
  } catch (err) {
    assert.instance(err, FlowReadError, `only FlowReadError escapes: ${String(err)}`);
    return { flows, error: err as FlowReadError, warnings };
  }
  return { flows, warnings };
}

// Three small flows of different kinds (a few KB): cutting at every offset stays cheap.
const FLOWS = [tcpFlow(), http2ErrorFlow(), websocketFlow()];
const FRAMES = FLOWS.map((f) => encodeFlow(f));
const FILE = Buffer.concat(FRAMES);
const STARTS = FRAMES.map((_, i) => FRAMES.slice(0, i).reduce((n, f) => n + f.length, 0));
const ENDS = STARTS.map((s, i) => s + FRAMES[i]!.length);
const SNAPSHOTS = FLOWS.map(snapshot);

test("cut at every offset: the complete flows before the cut, then an error at the cut flow (or none at a boundary)", async () => {
  for (let cut = 0; cut <= FILE.length; cut++) {
    for (const size of [undefined, cut]) {
      const { flows, error } = await readAll(FILE.subarray(0, cut), { size });
      const complete = ENDS.filter((e) => e <= cut).length;
      assert.is(flows.length, complete, `cut at ${cut}`);
      for (let i = 0; i < complete; i++) assert.equal(snapshot(flows[i]!), SNAPSHOTS[i], `cut ${cut} flow ${i}`);
      if (ENDS.includes(cut) || cut === 0) {
        assert.is(error, undefined, `cut at a boundary (${cut}) is a clean end`);
        continue;
      }
      const start = STARTS[complete]!;
      assert.ok(error, `cut at ${cut} is an error`);
      assert.ok(error.offset === start || error.offset === cut, `cut ${cut}: offset ${error.offset}, flow at ${start}`);
      assert.match(error.message, new RegExp(`^flows: damaged at byte ${error.offset}: `));
    }
  }
});

test("flipped bytes at 400 seeded offsets: flows before the flip come out intact; the rest is a flow or one error", async () => {
  let seed = 1337;
  const rand = (n: number) => {
    seed = (seed * 48271) % 0x7fffffff;
    return seed % n;
  };
  let errors = 0;
  for (let round = 0; round < 400; round++) {
    const at = rand(FILE.length);
    const damaged = Buffer.from(FILE);
    damaged[at] = damaged[at]! ^ (1 + rand(255));
    const { flows, error } = await readAll(damaged, { size: damaged.length }, 1 + rand(4096));
    const intact = ENDS.filter((e) => e <= at).length;
    assert.ok(flows.length >= intact, `flip at ${at}: ${flows.length} flows, ${intact} before it`);
    for (let i = 0; i < intact; i++) assert.equal(snapshot(flows[i]!), SNAPSHOTS[i], `flip ${at} flow ${i}`);
    if (error) {
      errors++;
      assert.ok(error.offset !== undefined && error.offset >= STARTS[intact]!, `flip ${at}: offset ${error.offset}`);
      assert.match(error.message, /^flows: (damaged at byte \d+: |the flow at byte \d+ cannot be read: )/);
    }
  }
  assert.ok(errors > 0, "some flips are damage");
});

const frame = (state: TNetDict) => encodeTNet(state);
const state = () => decodeTNet(encodeFlow(tcpFlow(), { version: 21 })) as TNetDict;

test("hostile lengths: refused at once, before anything that large is read or held", async () => {
  const huge = Buffer.concat([FRAMES[0]!, Buffer.from("9999999999:")]);
  let r = await readAll(huge, { size: huge.length });
  assert.is(r.flows.length, 1);
  assert.is(
    r.error?.message,
    `flows: damaged at byte ${FRAMES[0]!.length}: a flow of 9999999999 bytes is declared, but the file ends 0 bytes later`,
  );
  r = await readAll(huge);
  assert.match(r.error!.message, /a flow of 9999999999 bytes is declared, more than the 1073741824 bytes allowed/);
  r = await readAll(Buffer.from("1234567890123:"));
  assert.is(r.error?.message, "flows: damaged at byte 0: a flow length of more than 12 digits");
  r = await readAll(Buffer.from("12"));
  assert.is(r.error?.message, "flows: damaged at byte 2: the file ends inside a flow's length");
  r = await readAll(Buffer.from("12;"));
  assert.is(r.error?.message, "flows: damaged at byte 2: expected ':' after a tnetstring length");
});

test("trailing bytes, a flow that is not a dict, deep nesting: damage at the byte", async () => {
  let r = await readAll(Buffer.concat([FILE, Buffer.from("\n")]));
  assert.is(r.flows.length, 3);
  assert.is(
    r.error?.message,
    `flows: damaged at byte ${FILE.length}: expected the next flow (a tnetstring length), found byte 0x0a`,
  );
  r = await readAll(Buffer.from("3:0:~]"));
  assert.is(r.error?.message, "flows: damaged at byte 0: a flow must be a dict, this is a list");
  let deep = "0:]";
  for (let i = 0; i < 250; i++) deep = `${deep.length}:${deep}]`;
  r = await readAll(Buffer.from(rebuildWithDeepMetadata(state(), deep), "latin1"));
  assert.is(r.flows.length, 0);
  assert.match(r.error!.message, /^flows: damaged at byte \d+: values nested deeper than 200 levels$/);
});

/** A state whose metadata holds `deep` (a nested tnetstring), with every enclosing length right. */
function rebuildWithDeepMetadata(s: TNetDict, deep: string): string {
  const rest = { ...s };
  delete rest.metadata;
  const body = encodeTNet(rest).toString("latin1");
  const content = body.slice(body.indexOf(":") + 1, -1);
  const meta = `1:x;${deep}`;
  const metaValue = `${meta.length}:${meta}}`;
  const all = `${content}8:metadata;${metaValue}`;
  return `${all.length}:${all}}`;
}

test("wrong types in fields: an error naming the flow's byte and the field; the flows before it delivered", async () => {
  const cases: Array<[(s: TNetDict) => void, string]> = [
    [
      (s) => ((s.client_conn as TNetDict).peername = Buffer.from("x")),
      "client_conn.peername: expected a [host, port] list, got bytes",
    ],
    [(s) => ((s.server_conn as TNetDict).tls = 1), "server_conn.tls: expected a bool, got int"],
    [(s) => (s.messages = [[true, "text", 1.5]]), "messages[0][1]: expected bytes, got str"],
    [(s) => (s.client_conn = []), "client_conn: expected a dict, got list"],
    [(s) => delete s.id, "id: expected a str, got nothing (the field is missing)"],
    [(s) => (s.is_replay = "sometimes"), 'is_replay: expected "request", "response" or null, got "sometimes"'],
    [(s) => (s.metadata = null), "metadata: expected a dict, got null"],
  ];
  for (const [spoil, problem] of cases) {
    const bad = state();
    spoil(bad);
    const r = await readAll(Buffer.concat([FRAMES[0]!, frame(bad), FRAMES[1]!]));
    assert.is(r.flows.length, 1, problem);
    assert.is(r.error?.message, `flows: the flow at byte ${FRAMES[0]!.length} cannot be read: ${problem}`);
    assert.is(r.error?.offset, FRAMES[0]!.length);
  }
  const http = decodeTNet(encodeFlow(http2ErrorFlow(), { version: 21 })) as TNetDict;
  (http.request as TNetDict).headers = [[Buffer.from("a")]];
  const r = await readAll(frame(http));
  assert.is(
    r.error?.message,
    "flows: the flow at byte 0 cannot be read: request.headers[0]: expected a [name, value] pair, got a list of 1",
  );
});

test("format versions: an unknown one is named; a missing one says so", async () => {
  for (const [version, message] of [
    [22, "flow format version 22 is newer than this reader knows (17 to 21: mitmproxy 7 to 12)"],
    [16, "flow format version 16 is older than this reader reads (17 to 21: mitmproxy 7 to 12)"],
    ["x", 'the flow has no format version (its "version" field is not an int)'],
  ] as const) {
    const s = state();
    s.version = version;
    const r = await readAll(frame(s));
    assert.is(r.error?.message, `flows: the flow at byte 0 cannot be read: ${message}`);
  }
});

test("kinds interloper does not model are skipped with a warning naming the type; reading goes on", async () => {
  const dns = state();
  dns.type = "dns";
  const r = await readAll(Buffer.concat([frame(dns), FRAMES[0]!]));
  assert.is(r.error, undefined);
  assert.is(r.flows.length, 1);
  assert.equal(r.warnings, ["flows: skipped the flow at byte 0: a dns flow (interloper has no dns flows)"]);
});

test("format detection: empty is no flows; anything but a digit or '{' is not a flow file", async () => {
  assert.equal(await readAll(Buffer.alloc(0)), { flows: [], warnings: [] });
  const r = await readAll(Buffer.from("GIF89a"));
  assert.is(
    r.error?.message,
    "flows: not a flow file: a mitmproxy flow file starts with a digit and a HAR file with '{', this one with 'G'",
  );
  const har = await readAll(Buffer.from('\ufeff  {"log": {"entries": []}}'));
  assert.equal(har, { flows: [], warnings: [] });
  const notHar = await readAll(Buffer.from("{not json"));
  assert.match(notHar.error!.message, /^flows: not a HAR file: not valid JSON \(/);
});

test("a source that fails mid-read ends in one FlowReadError after the flows it gave", async () => {
  async function* failing() {
    yield FRAMES[0]!;
    yield FRAMES[1]!.subarray(0, 10);
    throw new Error("EIO: i/o error, read");
  }
  const flows: AnyFlow[] = [];
  const err = await (async () => {
    for await (const f of readFlows(failing())) flows.push(f);
  })().catch((e: unknown) => e);
  assert.is(flows.length, 1);
  assert.instance(err, FlowReadError);
  assert.is((err as Error).message, `flows: cannot read on: EIO: i/o error, read`);
});

test.run();
