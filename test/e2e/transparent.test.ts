// Transparent mode end to end, in network namespaces this test makes itself
// (`unshare -n`): nothing touches the machine's own network configuration.
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "../helpers/harness.ts";

interface Outcome {
  code: number | null;
  body: string;
  issuer: string | null;
  originPort: number;
  proxyPort: number;
  log: string;
  curlErr: string;
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for network namespaces and iptables";
  for (const tool of ["unshare", "iptables", "ip", "setpriv", "curl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  const probe = spawnSync("unshare", ["-n", "sh", "-c", "ip link set lo up && iptables -t nat -L OUTPUT -n"], {
    encoding: "utf8",
  });
  if (probe.status !== 0)
    return `cannot make a network namespace with iptables here: ${(probe.stderr || probe.stdout).trim().split("\n")[0]}`;
  return undefined;
}

const skip = skipReason();

function run(scenario: object): Outcome {
  const out = execFileSync(
    "unshare",
    ["-n", process.execPath, "--import", "tsx", "test/e2e/netns/transparent-scenario.ts", JSON.stringify(scenario)],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: "1" },
    },
  );
  const line = out.trim().split("\n").pop()!;
  return JSON.parse(line) as Outcome;
}

const t = skip ? test.skip.bind(test) : test;
if (skip) console.log(`transparent mode tests skipped: ${skip}`);

t("clear-text HTTP is intercepted; the log shows the original destination IP:port", () => {
  const o = run({ args: [], scheme: "http" });
  assert.is(o.code, 0, o.curlErr);
  assert.is(o.body, `origin saw 127.0.0.2:${o.originPort}`);
  assert.match(o.log, new RegExp(`server connect 127\\.0\\.0\\.2:${o.originPort}\\n`));
  assert.match(o.log, new RegExp(`GET http://127\\.0\\.0\\.2:${o.originPort}/t\\n     << 200 OK`));
});

t("HTTPS is intercepted with the proxy's certificate", () => {
  const o = run({ args: [], scheme: "https" });
  assert.is(o.code, 0, o.curlErr);
  assert.match(o.issuer ?? "", /CN=interloper/);
  assert.match(o.log, /GET https:\/\/127\.0\.0\.2:\d+\/t\n/);
});

t("seed example: --ignore-hosts IP:port passes the connection through (origin's certificate, no request line)", () => {
  // The tutorial's `--ignore-hosts 17\.178\.96\.59:443`, with an address this test controls.
  const o = run({ args: ["--ignore-hosts", "127\\.0\\.0\\.2:\\d+"], scheme: "https", trustOrigin: true });
  // curl trusts only the origin's CA here: it succeeds only with the origin's own certificate.
  assert.is(o.code, 0, o.curlErr);
  assert.not.match(o.log, /GET https/);
  assert.match(o.log, /client disconnect/);
});

t("seed example: an IP range pattern 127\\.0\\.\\d+\\.\\d+:PORT", () => {
  const probe = run({ args: ["--ignore-hosts", "127\\.0\\.\\d+\\.\\d+:1$"], scheme: "http" });
  // A port that cannot match: intercepted.
  assert.match(probe.log, /GET http:\/\/127\.0\.0\.2/);
  const o = run({ args: ["--ignore-hosts", "^127\\.0\\.\\d+\\.\\d+:\\d+$"], scheme: "http" });
  assert.is(o.code, 0, o.curlErr);
  assert.is(o.body, `origin saw 127.0.0.2:${o.originPort}`);
  assert.not.match(o.log, /GET http/);
});

t("the ClientHello SNI is a candidate in transparent mode", () => {
  const o = run({
    args: ["--ignore-hosts", "^pinned\\.test:"],
    scheme: "https",
    name: "pinned.test",
    trustOrigin: true,
  });
  assert.is(o.code, 0, o.curlErr);
  assert.not.match(o.log, /GET https/);
  // Intercepted. As mitmdump, the line shows the address the request goes to; --showhost the name.
  const other = run({ args: ["--ignore-hosts", "^other\\.test:", "--showhost"], scheme: "https", name: "pinned.test" });
  assert.match(other.log, /GET https:\/\/pinned\.test:\d+\/t/);
});

t("the Host header of clear-text HTTP is a candidate in transparent mode", () => {
  const o = run({ args: ["--ignore-hosts", "^plain\\.test:"], scheme: "http", name: "plain.test" });
  assert.is(o.code, 0, o.curlErr);
  assert.match(o.body, /origin saw plain\.test:\d+/);
  assert.not.match(o.log, /GET http/);
});

t("rerouting: a script's new url sends the request to another server (http to https, https to http)", () => {
  const toHttps = run({ args: [], scheme: "http", reroute: "https" });
  assert.is(toHttps.code, 0, toHttps.curlErr);
  assert.match(toHttps.body, /^second origin saw \/rerouted 127\.0\.0\.3:\d+$/);
  assert.match(toHttps.log, /server connect 127\.0\.0\.3:\d+\n/);
  const toHttp = run({ args: [], scheme: "https", reroute: "http" });
  assert.is(toHttp.code, 0, toHttp.curlErr);
  assert.match(toHttp.body, /^second origin saw \/rerouted 127\.0\.0\.3:\d+$/);
  assert.match(toHttp.log, /server connect 127\.0\.0\.3:\d+\n/);
});

t("a connection that was not redirected is refused instead of looping", () => {
  const o = run({ args: [], scheme: "http", direct: true });
  assert.is.not(o.code, 0);
  assert.match(o.log, /was not redirected \(its destination is the proxy itself\); refusing it/);
});

test.run();
