#!/usr/bin/env node
// The composition root: the only place in core/ that knows the built-in addons.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OptionError } from "@interloper/sdk";
import { Block } from "../../addons/block.ts";
import { Dumper } from "../../addons/dumper.ts";
import { ErrorCheck } from "../../addons/errorcheck.ts";
import { Hosts } from "../../addons/hosts.ts";
import { ProxyAuth } from "../../addons/proxyauth.ts";
import { ScriptLoader } from "../../addons/script-loader.ts";
import { parseCli, UsageError } from "./args.ts";
import { localSdkDir, scaffoldAddon } from "./new-addon.ts";
import { ProxyServer, StartupError } from "../engine/proxy-server.ts";

function version(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      // try the next place: the layout differs between the source tree and dist/
    }
  }
  return "unknown";
}

function die(message: string, code: number): never {
  process.stderr.write(`interloper: ${message}\n`);
  process.exit(code);
}

function newAddon(dir: string | undefined): void {
  if (!dir) die("usage: interloper new-addon DIR", 2);
  const sdkDir = localSdkDir(new URL(import.meta.url));
  if (sdkDir && !existsSync(join(sdkDir, "dist/index.js"))) {
    // A source checkout: the scaffold links the sdk folder, which needs its build.
    execFileSync(process.execPath, [join(sdkDir, "../scripts/build.mjs"), "--sdk"], { stdio: "inherit" });
  }
  let files: string[];
  try {
    files = scaffoldAddon(dir, version(), sdkDir);
  } catch (err) {
    die(`new-addon: ${(err as Error).message}`, 1);
  }
  process.stdout.write(
    `created ${files.map((f) => join(dir, f)).join(", ")}\nnext: cd ${dir} && npm install && npm test\n`,
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === "new-addon") {
    newAddon(process.argv[3]);
    return;
  }
  let cli;
  try {
    cli = await parseCli(process.argv.slice(2), version());
  } catch (err) {
    if (err instanceof UsageError) die(err.message, 2);
    throw err;
  }
  if (cli.exitText !== undefined) {
    process.stdout.write(`${cli.exitText}\n`);
    return;
  }

  let stopping = false;
  const proxy: ProxyServer = new ProxyServer({ onShutdown: (code) => void shutdown(code) });
  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 5000);
    timer.unref();
    try {
      await proxy.stop();
    } finally {
      process.exit(code);
    }
  }

  const { host } = proxy;
  try {
    await host.add(proxy.coreAddon());
    await host.add(new Block());
    await host.add(new ProxyAuth());
    // User scripts load under the script loader: before the built-in hosts addon, so they decide first.
    await host.add(new ScriptLoader());
    await host.add(new Hosts());
    await host.add(new Dumper(process.stdout));
    await host.add(new ErrorCheck());
    await host.setOptions(cli.changes);
    await host.setFromStrings(cli.sets);
    const unknown = host.options.unknownDeferred();
    if (unknown.length > 0) throw new OptionError(`unknown option: ${unknown.join(", ")}`);
  } catch (err) {
    if (err instanceof OptionError || err instanceof UsageError) die(err.message, 2);
    throw err;
  }

  // Whoever read the log is gone (`interloper | head`, a parent that died): with nobody
  // left to tell, stop. Without this every log line failed, the failure was logged,
  // and that write failed again: the proxy spun at full CPU for ever.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => void shutdown(0));
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  // A bug in one connection must not take the others down: log it with its stack and go on.
  process.on("uncaughtException", (err) => host.log("error", `internal error: ${err.stack ?? err}`));
  process.on("unhandledRejection", (err) => host.log("error", `internal error: ${(err as Error)?.stack ?? err}`));

  try {
    await proxy.start();
  } catch (err) {
    if (err instanceof StartupError) die(err.message, 1);
    throw err;
  }
}

await main();
