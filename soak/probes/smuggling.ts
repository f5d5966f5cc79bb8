// smuggling: requests whose framing is ambiguous (RFC 9112 §6.3, §5.1, §7.1),
// each with a second request hidden where another reading of the framing
// would find it. The origin records the exact bytes it gets. Each must end
// as a clean 400 to the client with nothing at the origin, or as exactly one
// well-framed request at the origin (never two, never an ambiguous one).
// Regular mode (absolute form, plain origin) and inside a CONNECT tunnel over
// TLS (TLS origin).
import { ResponseReader } from "../../bench/lib/http1.ts";
import { sleep } from "../../bench/lib/stats.ts";
import { addFinding, count, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { HOST, tcp, tlsOver, tunnel, Wire } from "../lib/net.ts";
import { saveBytes, startRecorder, type RecordedConn, type Recorder } from "../lib/origins.ts";

const HIDDEN = "GET /smuggled HTTP/1.1\r\nHost: smuggled.invalid\r\n\r\n";

interface Case {
  name: string;
  what: string;
  /** The request never completes (a chunk announced but not sent): closing it without an answer is right too. */
  incomplete?: boolean;
  /** The request; `T` stands for the request target, `H` for the Host value. */
  raw: string;
}

const CASES: Case[] = [
  {
    name: "cl-te",
    what: "Content-Length and Transfer-Encoding: chunked (CL covers the hidden request)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "te-cl",
    what: "Transfer-Encoding: chunked then Content-Length: 4 (the chunk holds the hidden request)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${HIDDEN.length.toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n`,
  },
  {
    name: "cl-cl-equal",
    what: "two equal Content-Length fields",
    raw: "POST T HTTP/1.1\r\nHost: H\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
  },
  {
    name: "cl-cl-different",
    what: "two different Content-Length fields (5 and the whole rest)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: 5\r\nContent-Length: ${5 + HIDDEN.length}\r\n\r\nhello${HIDDEN}`,
  },
  {
    name: "cl-list",
    what: "Content-Length: 5, 5 (one field, a list)",
    raw: "POST T HTTP/1.1\r\nHost: H\r\nContent-Length: 5, 5\r\n\r\nhello",
  },
  {
    name: "obs-fold-te",
    what: "Transfer-Encoding folded onto a second line (obs-fold), with Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "obs-fold-field",
    what: "an ordinary field folded onto a second line (obs-fold)",
    raw: "GET T HTTP/1.1\r\nHost: H\r\nX-Folded: a\r\n b\r\n\r\n",
  },
  {
    name: "bare-lf-head",
    what: "head lines ending with a bare LF",
    raw: "POST T HTTP/1.1\nHost: H\nContent-Length: 5\n\nhello",
  },
  {
    name: "bare-lf-chunked",
    what: "chunk lines ending with a bare LF (the hidden request after a LF-only last chunk)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n${HIDDEN}`,
  },
  {
    name: "te-chunked-identity",
    what: "Transfer-Encoding: chunked, identity (chunked not last), with Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "te-identity",
    what: "Transfer-Encoding: identity with a chunked-looking body and Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "te-gzip-chunked",
    what: "Transfer-Encoding: gzip, chunked (valid: chunked last)",
    raw: "POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "te-twice",
    what: "two Transfer-Encoding fields (identity, then chunked) with Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nContent-Length: ${5 + HIDDEN.length}\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "chunk-size-overflow",
    what: "a chunk size of 2^64 + 1 (ffffffffffffffff1)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "chunk-size-huge",
    what: "a chunk size of 4 GiB (100000000) followed by a few bytes",
    incomplete: true,
    raw: "POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "chunk-size-negative",
    what: "a chunk size of -5 and one with a 0x prefix",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0x5\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "chunk-extensions",
    what: "chunk extensions, quoted and not (valid)",
    raw: 'POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c="d;e"\r\nhello\r\n0;z\r\n\r\n',
  },
  {
    name: "chunk-extension-lf",
    what: "a chunk extension holding a bare LF",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\nb\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "chunk-no-crlf",
    what: "chunk data not followed by CRLF (the hidden request glued on)",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "space-before-colon",
    what: "Transfer-Encoding : chunked (white space before the colon) with Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
  {
    name: "nul-in-value",
    what: "a NUL byte in a field value",
    raw: "GET T HTTP/1.1\r\nHost: H\r\nX-Nul: a\0b\r\n\r\n",
  },
  { name: "cr-in-value", what: "a bare CR in a field value", raw: "GET T HTTP/1.1\r\nHost: H\r\nX-Cr: a\rb\r\n\r\n" },
  {
    name: "cl-plus",
    what: "Content-Length: +5",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: +5\r\n\r\nhello${HIDDEN}`,
  },
  {
    name: "te-vertical-tab",
    what: "Transfer-Encoding: \\vchunked with Content-Length",
    raw: `POST T HTTP/1.1\r\nHost: H\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n${HIDDEN}`,
  },
];

type Verdict = { ok: true; how: string } | { ok: false; kind: "smuggling" | "hang" | "failure"; why: string };

/** What the rules say of one case: the client's answer and what the origin got. */
function judge(
  c: Case,
  status: number | undefined,
  answered: boolean,
  closed: boolean,
  origin: RecordedConn[],
): Verdict {
  const requests = origin.flatMap((c) => c.requests);
  const bytes = origin.reduce((a, c) => a + c.bytes.length, 0);
  if (requests.length > 1)
    return {
      ok: false,
      kind: "smuggling",
      why: `the origin got ${requests.length} requests (${requests.map((q) => q.line).join(" | ")})`,
    };
  const amb = requests.flatMap((q) => q.ambiguities);
  if (amb.length)
    return { ok: false, kind: "smuggling", why: `the request forwarded to the origin is ambiguous: ${amb.join("; ")}` };
  const junk = origin.find((c) => c.leftover > 0 || c.error);
  if (junk)
    return {
      ok: false,
      kind: "smuggling",
      why: `the origin got bytes beyond one framed request (${junk.error ?? `${junk.leftover} bytes left over`}): ${JSON.stringify(junk.bytes.toString("latin1").slice(-120))}`,
    };
  if (!answered)
    return {
      ok: false,
      kind: "hang",
      why: `the client got no complete answer within the bound (origin got ${requests.length} request(s), ${bytes} bytes)`,
    };
  if (requests.length === 0) {
    if (status !== undefined && status >= 400 && status < 500) return { ok: true, how: `refused (${status})` };
    if (c.incomplete && status === undefined && closed)
      return { ok: true, how: "closed without an answer (the request never completes), nothing at the origin" };
    return {
      ok: false,
      kind: "failure",
      why: `the origin got nothing and the client got ${status ?? "no status"} (not a 4xx)`,
    };
  }
  if (status !== 200)
    return { ok: false, kind: "failure", why: `one request reached the origin but the client got ${status}` };
  return { ok: true, how: "forwarded as one well-framed request" };
}

async function openClient(ctx: Ctx, tlsOrigin: Recorder | undefined): Promise<Wire> {
  if (!tlsOrigin) return new Wire(await tcp(ctx.proxy.port));
  const t = await tunnel(ctx.proxy.port, `${HOST}:${tlsOrigin.port}`);
  return new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }));
}

async function runCase(
  ctx: Ctx,
  r: FamilyResult,
  c: Case,
  origin: Recorder,
  tlsMode: boolean,
  rows: string[],
): Promise<void> {
  const authority = `${HOST}:${origin.port}`;
  const target = tlsMode ? `/smuggle/${c.name}` : `http://${authority}/smuggle/${c.name}`;
  const raw = Buffer.from(
    c.raw.replace(/^(\w+) T /, `$1 ${target} `).replace(/\nHost: H(\r?\n)/, `\nHost: ${authority}$1`),
    "latin1",
  );
  const mark = origin.conns.length;
  const wire = await openClient(ctx, tlsMode ? origin : undefined);
  let status: number | undefined;
  let responses = 0;
  const reader = new ResponseReader((res) => {
    responses++;
    status ??= res.status;
  });
  wire.socket.on("data", (d: Buffer) => {
    try {
      reader.feed(d);
    } catch {
      /* not HTTP: judged by the status (none) */
    }
  });
  wire.write(raw);
  // A refusal ends the connection; an accepted request gets the recorder's 200 and the connection stays.
  const answered = await wire.until(() => responses > 0 || wire.gone, (ctx.idleTimeoutS + 5) * 1000);
  await wire.until(() => wire.gone, 150);
  const closedByProxy = wire.gone;
  wire.destroy();
  await sleep(150); // the origin's last bytes
  const conns = origin.conns.slice(mark);
  const v = judge(c, status, answered || closedByProxy, closedByProxy, conns);
  const mode = tlsMode ? "tunnel-tls" : "regular";
  count(r, `${mode}: cases`);
  rows.push(
    `| ${c.name} | ${mode} | ${status ?? "—"} | ${conns.reduce((a, x) => a + x.requests.length, 0)} | ${v.ok ? v.how : `**${v.kind}**: ${v.why.replace(/\|/g, "\\|").slice(0, 200)}`} |`,
  );
  if (v.ok) {
    count(
      r,
      `${mode}: ${v.how.startsWith("refused") ? "refused" : v.how.startsWith("closed") ? "closed, incomplete" : "forwarded as one request"}`,
    );
    return;
  }
  r.failures++;
  count(r, `${mode}: failed`);
  const sent = saveBytes(ctx.failDir, `smuggling-${mode}-${c.name}-sent.bin`, raw);
  const got = saveBytes(
    ctx.failDir,
    `smuggling-${mode}-${c.name}-origin.bin`,
    Buffer.concat(conns.map((x) => x.bytes)),
  );
  addFinding(r, {
    kind: v.kind,
    title: `smuggling ${c.name} (${mode}): ${v.kind === "smuggling" ? "the origin sees more or other than one well-framed request" : v.kind === "hang" ? "no answer, no close" : "unexpected answer"}`,
    detail: `${c.what}. ${v.why}. The client's bytes and the origin's bytes are saved.`,
    figure: `client status ${status ?? "none"}; origin requests ${conns.reduce((a, x) => a + x.requests.length, 0)}`,
    repro: repro(ctx, "smuggling"),
    files: [sent, got],
  });
}

export const smuggling: Family = {
  id: "smuggling",
  title: "request smuggling and framing ambiguities",
  method: () =>
    `${CASES.length} crafted requests, each sent on a fresh connection, in regular mode (absolute form, to a plain ` +
    "origin) and inside a CONNECT tunnel over TLS (origin form, to a TLS origin). The origins record the exact bytes " +
    "they get and read them with a strict RFC 9112 reader. A case passes when the client gets a 4xx and the origin " +
    "nothing, or the origin gets exactly one request, framed without ambiguity (one Content-Length or a final " +
    "chunked, no obs-fold, no bare LF, no white space before a colon, no NUL) and nothing after it, and the client gets " +
    "its 200. The hidden request `GET /smuggled` appears at the origin only if some reading of the framing lets it through.",
  deadlineMs: (ctx) => (ctx.quick ? 60 : 240) * 1000,
  async run(ctx, r) {
    const tlsOrigin = await startRecorder(ctx.certs);
    const rows = ["| case | mode | client status | origin requests | result |", "|---|---|---:|---:|---|"];
    try {
      for (const tlsMode of [false, true]) {
        for (const c of CASES) {
          if (Date.now() > ctx.deadline) break;
          try {
            await runCase(ctx, r, c, tlsMode ? tlsOrigin : ctx.recorder, tlsMode, rows);
          } catch (e) {
            r.failures++;
            rows.push(
              `| ${c.name} | ${tlsMode ? "tunnel-tls" : "regular"} | — | — | **setup failed**: ${(e as Error).message} |`,
            );
          }
        }
      }
    } finally {
      await tlsOrigin.close();
    }
    r.extra = rows.join("\n");
  },
};
