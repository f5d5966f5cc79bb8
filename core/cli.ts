#!/usr/bin/env node
// The composition root: the only place in core/ that knows the built-in addons.
import { readFileSync } from "node:fs";
import { OptionError } from "@interloper/sdk";
import { Block } from "../addons/block.ts";
import { Dumper } from "../addons/dumper.ts";
import { ErrorCheck } from "../addons/errorcheck.ts";
import { Hosts } from "../addons/hosts.ts";
import { ScriptLoader } from "../addons/script-loader.ts";
import { parseCli, UsageError } from "./cli-args.ts";
import { Proxy, StartupError } from "./proxy.ts";

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

async function main(): Promise<void> {
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
  const proxy: Proxy = new Proxy({ onShutdown: (code) => void shutdown(code) });
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
