// Runs inside a network namespace of its own (made by transparent.test.ts with
// `unshare -n`): loopback up, an origin on 127.0.0.2, interloper in
// transparent mode, an iptables REDIRECT for the traffic of user `nobody`,
// and curl run as nobody. Prints one JSON line with what happened.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { originCa, startOrigin, startProxy } from "../../helpers/harness.ts";

interface Scenario {
  /** Extra interloper flags, e.g. ["--ignore-hosts", "..."]. */
  args: string[];
  /** What curl fetches (through the redirect): `http` or `https`, the SNI/Host name to use. */
  scheme: "http" | "https";
  name?: string;
  /** Fetch the proxy's own port directly (not redirected). */
  direct?: boolean;
  /** The client trusts the origin's CA (the connection is expected to pass through) instead of the proxy's. */
  trustOrigin?: boolean;
  /** A script sends every request to a second origin on 127.0.0.3, spoken to with this scheme. */
  reroute?: "http" | "https";
}

const scenario = JSON.parse(process.argv[2]!) as Scenario;

/** The origin on 127.0.0.3 and the `-s` script that reroutes every request to it (its url set in `request`). */
async function startSecondOrigin(scheme: "http" | "https") {
  const origin = await startOrigin((req, res) => res.end(`second origin saw ${req.url} ${req.headers.host}`), {
    tls: scheme === "https",
    names: ["127.0.0.3"],
    host: "127.0.0.3",
  });
  const dir = mkdtempSync(join(tmpdir(), "interloper-reroute-"));
  const script = join(dir, "reroute.ts");
  const url = `${scheme}://127.0.0.3:${origin.port}/rerouted`;
  writeFileSync(
    script,
    `export default {\n  request(flow: any) {\n    flow.request.url = ${JSON.stringify(url)};\n  },\n};\n`,
  );
  return { origin, dir, args: ["-s", script] };
}
execFileSync("ip", ["link", "set", "lo", "up"]);
const origin = await startOrigin((req, res) => res.end(`origin saw ${req.headers.host}`), {
  tls: scenario.scheme === "https",
  names: ["127.0.0.2", ...(scenario.name ? [scenario.name] : [])],
  host: "127.0.0.2",
});
const second = scenario.reroute ? await startSecondOrigin(scenario.reroute) : undefined;
const proxy = await startProxy(["--mode", "transparent", ...(second?.args ?? []), ...scenario.args]);
execFileSync("iptables", [
  "-t",
  "nat",
  "-A",
  "OUTPUT",
  "-p",
  "tcp",
  "-d",
  "127.0.0.2",
  "-m",
  "owner",
  "--uid-owner",
  "65534",
  "-j",
  "REDIRECT",
  "--to-ports",
  String(proxy.port),
]);
// nobody must be able to read the CA files curl is given.
const pub = mkdtempSync(join(tmpdir(), "interloper-pub-"));
chmodSync(pub, 0o755);
copyFileSync(proxy.caFile, join(pub, "proxy-ca.pem"));
copyFileSync((await originCa()).caFile, join(pub, "origin-ca.pem"));
chmodSync(join(pub, "proxy-ca.pem"), 0o644);
chmodSync(join(pub, "origin-ca.pem"), 0o644);

const host = scenario.name ?? (scenario.direct ? "127.0.0.1" : "127.0.0.2");
const port = scenario.direct ? proxy.port : origin.port;
const url = `${scenario.scheme}://${host}:${port}/t`;
const curlArgs = [
  "-s",
  "-S",
  "-v",
  // A generous bound: on a busy 2-core machine the first handshake (a certificate made) takes seconds.
  "--max-time",
  "30",
  url,
  "--cacert",
  join(pub, scenario.trustOrigin ? "origin-ca.pem" : "proxy-ca.pem"),
];
if (scenario.name)
  curlArgs.push("--resolve", `${scenario.name}:${port}:${scenario.direct ? "127.0.0.1" : "127.0.0.2"}`);
const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
  const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "curl", ...curlArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.on("exit", (code) => resolve({ code, out, err }));
});
await new Promise((r) => setTimeout(r, 300));
const issuer = /issuer: (.*)/.exec(result.err)?.[1] ?? null;
await proxy.stop();
await origin.close();
await second?.origin.close();
if (second) rmSync(second.dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    code: result.code,
    body: result.out,
    issuer,
    originPort: origin.port,
    proxyPort: proxy.port,
    log: proxy.stdout(),
    curlErr: result.err
      .split("\n")
      .filter((l) => !l.startsWith(">") && !l.startsWith("<"))
      .slice(-5)
      .join("\n"),
  })}\n`,
);
process.exit(0);
