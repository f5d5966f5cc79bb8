// A local npm registry for the packaging suites: verdaccio (a devDependency) on 127.0.0.1 with
// its storage in a temp folder and no uplinks, so it serves only what a test published to it.
// npm runs with a temp HOME (its .npmrc names this registry), a temp cache and a temp global
// prefix: nothing reaches another registry, the machine's global packages or ~/.npmrc.
// Third-party packages a test installs are seeded from this repository's node_modules: packed
// with one `npm pack` and published with the registry's own publish request.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { WAIT_MS } from "./harness.ts";

export interface RunResult {
  code: number | null;
  out: string;
}

export interface LocalRegistry {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  /** The temp folder holding storage, HOME, cache and the global prefix. */
  dir: string;
  /** HOME of every command run through this registry (its `~/.interloper` is the addon home's confdir). */
  home: string;
  /** The global prefix (`npm install -g` puts binaries in `prefix/bin`, which is first on PATH). */
  prefix: string;
  /** The environment commands get: npm configured for this registry only. */
  env: NodeJS.ProcessEnv;
  /** Runs a command with `env` (bounded by `timeoutMs`), collecting its output. */
  run(command: string, args: string[], cwd: string, timeoutMs?: number): Promise<RunResult>;
  /** Publishes these installed packages (and every dependency they need, found as Node would) as they are. */
  seed(names: string[], from: string): Promise<string[]>;
  /** What the registry holds of a package (its packument), or undefined for a 404. */
  packument(name: string): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

interface PackedInfo {
  name: string;
  version: string;
  filename: string;
  integrity: string;
  shasum: string;
}

/** Starts verdaccio in this process on a free loopback port, with a user whose token the temp .npmrc carries. */
export async function startLocalRegistry(dir: string): Promise<LocalRegistry> {
  const config = join(dir, "verdaccio.yaml");
  writeFileSync(config, verdaccioConfig(dir));
  const verdaccio = (await import("verdaccio")) as unknown as { runServer: (path: string) => Promise<http.Server> };
  const server = await verdaccio.runServer(config);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  const token = await addUser(url);
  const home = join(dir, "home");
  const prefix = join(dir, "prefix");
  for (const d of [home, prefix, join(dir, "cache")]) mkdirSync(d, { recursive: true });
  writeFileSync(
    join(home, ".npmrc"),
    [
      `registry=${url}`,
      `//127.0.0.1:${port}/:_authToken=${token}`,
      // A belt to the registry's braces: any other host npm tried would go to a proxy that is not there.
      "proxy=http://127.0.0.1:9/",
      "https-proxy=http://127.0.0.1:9/",
      "noproxy=127.0.0.1",
      "audit=false",
      "fund=false",
      "update-notifier=false",
      "loglevel=error",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "npmrc-global"), "");
  const env: NodeJS.ProcessEnv = { ...withoutNpmVariables(process.env) };
  Object.assign(env, {
    HOME: home,
    PATH: `${join(prefix, "bin")}:${process.env.PATH ?? ""}`,
    NO_COLOR: "1",
    npm_config_userconfig: join(home, ".npmrc"),
    npm_config_globalconfig: join(dir, "npmrc-global"),
    npm_config_cache: join(dir, "cache"),
    npm_config_prefix: prefix,
  });
  const run = (command: string, args: string[], cwd: string, timeoutMs = 4 * WAIT_MS) =>
    runCommand(command, args, cwd, env, timeoutMs);
  return {
    url,
    dir,
    home,
    prefix,
    env,
    run,
    seed: (names, from) => seed(names, from, { url, token, dir, run }),
    packument: async (name) => {
      const res = await request("GET", `${url}${name.replace("/", "%2f")}`, "", token);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new Error(`GET ${name}: ${res.status} ${res.body}`);
      return JSON.parse(res.body) as Record<string, unknown>;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function verdaccioConfig(dir: string): string {
  // No uplinks and no `proxy:` for any package: a name the test did not publish is a 404.
  return `storage: ${JSON.stringify(join(dir, "storage"))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(dir, "htpasswd"))}
    max_users: 1
uplinks: {}
packages:
  "**":
    access: $all
    publish: $authenticated
    unpublish: $authenticated
web:
  enable: false
max_body_size: 100mb
log: { type: stdout, format: pretty, level: fatal }
`;
}

/** Environment variables npm sets for scripts it runs (npm test): they would point inner npm at this repository. */
function withoutNpmVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^npm_/i.test(k)));
}

async function addUser(url: string): Promise<string> {
  const body = JSON.stringify({ name: "tester", password: "tester-password", email: "tester@example.invalid" });
  const res = await request("PUT", `${url}-/user/org.couchdb.user:tester`, body, undefined);
  if (res.status !== 201) throw new Error(`registry refused the test user: ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as { token: string }).token;
}

function request(
  method: string,
  url: string,
  body: string,
  token: string | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: {
          ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        timeout: WAIT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within ${WAIT_MS} ms`)));
    req.on("error", reject);
    req.end(body || undefined);
  });
}

export function runCommand(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => chunks.push(d));
    const timer = setTimeout(() => {
      chunks.push(Buffer.from(`\n[killed after ${timeoutMs} ms]\n`));
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => chunks.push(Buffer.from(String(err))));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out: `$ ${command} ${args.join(" ")}\n${Buffer.concat(chunks).toString()}` });
    });
  });
}

/**
 * The folders of `names` and of everything they depend on, resolved from `from` the way Node
 * does (nearest node_modules first); optional and peer dependencies only where installed.
 */
export function dependencyClosure(names: string[], from: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (name: string, requester: string, required: boolean) => {
    const dir = findInstalled(name, requester);
    if (!dir) {
      if (required) throw new Error(`${name} (needed by ${requester}) is not installed`);
      return;
    }
    const pkg = readJson(join(dir, "package.json"));
    const key = `${pkg.name as string}@${pkg.version as string}`;
    if (found.has(key)) return;
    found.set(key, dir);
    for (const dep of Object.keys((pkg.dependencies as Record<string, string>) ?? {})) visit(dep, dir, true);
    for (const field of ["optionalDependencies", "peerDependencies"])
      for (const dep of Object.keys((pkg[field] as Record<string, string>) ?? {})) visit(dep, dir, false);
  };
  for (const name of names) visit(name, from, true);
  return found;
}

function findInstalled(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    try {
      readFileSync(join(candidate, "package.json"));
      return realpathSync(candidate);
    } catch {
      // not here: one folder up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

async function seed(
  names: string[],
  from: string,
  reg: { url: string; token: string; dir: string; run: LocalRegistry["run"] },
): Promise<string[]> {
  const folders = [...dependencyClosure(names, from).values()];
  const out = join(reg.dir, "seed");
  mkdirSync(out, { recursive: true });
  const packed = await reg.run(
    "npm",
    ["pack", ...folders, "--pack-destination", out, "--ignore-scripts", "--json"],
    out,
  );
  if (packed.code !== 0) throw new Error(`npm pack of the seed packages failed:\n${packed.out}`);
  const infos = JSON.parse(packed.out.slice(packed.out.indexOf("["))) as PackedInfo[];
  const manifests = new Map(folders.map((f) => [f, readJson(join(f, "package.json"))]));
  const byKey = new Map([...manifests].map(([f, m]) => [`${m.name as string}@${m.version as string}`, f]));
  // Oldest first, so each name's latest tag ends on its newest version.
  infos.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version));
  for (const info of infos) {
    const folder = byKey.get(`${info.name}@${info.version}`);
    if (!folder) throw new Error(`npm pack wrote ${info.filename}, which no seed folder explains`);
    await publishTarball(reg, manifests.get(folder)!, info, readFileSync(join(out, info.filename)));
  }
  return infos.map((i) => `${i.name}@${i.version}`);
}

/** The registry's publish request (what `npm publish` sends): the manifest and the tarball, base64. */
async function publishTarball(
  reg: { url: string; token: string },
  manifest: Record<string, unknown>,
  info: PackedInfo,
  tarball: Buffer,
): Promise<void> {
  const clean = Object.fromEntries(Object.entries(manifest).filter(([k]) => !k.startsWith("_")));
  const file = `${info.name.replace(/^@[^/]+\//, "")}-${info.version}.tgz`;
  const doc = {
    _id: info.name,
    name: info.name,
    "dist-tags": { latest: info.version },
    versions: {
      [info.version]: {
        ...clean,
        _id: `${info.name}@${info.version}`,
        dist: { integrity: info.integrity, shasum: info.shasum, tarball: `${reg.url}${info.name}/-/${file}` },
      },
    },
    _attachments: {
      [file]: { content_type: "application/octet-stream", data: tarball.toString("base64"), length: tarball.length },
    },
  };
  const res = await request("PUT", `${reg.url}${info.name.replace("/", "%2f")}`, JSON.stringify(doc), reg.token);
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`publishing ${info.name}@${info.version}: ${res.status} ${res.body}`);
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => Number(p));
  const pb = b.split(/[.+-]/).map((p) => Number(p));
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
