#!/usr/bin/env node
// The composition root: the only place in core/ that knows the built-in addons.
import { readFileSync } from "node:fs";
import * as sdk from "@interloper/sdk";
import { OptionError, SDK_VERSION, snakeOptionName } from "@interloper/sdk";
import type { AddonHost } from "@interloper/sdk/host";
import { Block } from "../../addons/block.ts";
import { Dumper } from "../../addons/dumper.ts";
import { ErrorCheck } from "../../addons/errorcheck.ts";
import { ClientReplay } from "../../addons/client-replay.ts";
import { HarDump } from "../../addons/flow-files/har-dump.ts";
import { ReadFile } from "../../addons/flow-files/read-file.ts";
import { SaveFlows } from "../../addons/flow-files/save.ts";
import { KeepServing } from "../../addons/keep-serving.ts";
import { MapLocal, MapRemote, ModifyBody, ModifyHeaders } from "../../addons/modify/index.ts";
import { Onboarding } from "../../addons/onboarding/index.ts";
import { ServerReplay } from "../../addons/server-replay/index.ts";
import { Hosts } from "../../addons/hosts.ts";
import { AntiCache } from "../../addons/http-options/anticache.ts";
import { AntiComp } from "../../addons/http-options/anticomp.ts";
import { BlockList } from "../../addons/http-options/block-list.ts";
import { StickyAuth } from "../../addons/http-options/stickyauth.ts";
import { StickyCookie } from "../../addons/http-options/stickycookie.ts";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";
import { ScriptLoader } from "../../addons/script-loader.ts";
import { Intercept } from "../../addons/intercept.ts";
import { WebUI } from "../../addons/web/index.ts";
import { bundleScript } from "../../addons/scripts/bundle.ts";
import { checkCompatibility } from "../../addons/scripts/compat.ts";
import { evaluateBundle } from "../../addons/scripts/evaluate.ts";
import type { ConfigFiles } from "../config/config-files.ts";
import { applyConfigFiles } from "../config/start.ts";
import { parseCli, UsageError, type CliRequest } from "./args.ts";
import { formatOptions } from "./options-list.ts";
import { isSubcommand, runSubcommand } from "./subcommands.ts";
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

/** `interloper new-addon|install|uninstall|list …`: resolves to the exit code. */
async function subcommand(command: Parameters<typeof runSubcommand>[0], args: string[]): Promise<number> {
  try {
    return await runSubcommand(command, args, {
      sdkVersion: SDK_VERSION,
      refusal: (manifest) => {
        const name = typeof manifest.name === "string" ? manifest.name : "?";
        const verdict = checkCompatibility({ dir: "", name, version: String(manifest.version), manifest }, SDK_VERSION);
        return verdict && "refused" in verdict ? verdict.refused : undefined;
      },
      out: (text) => process.stdout.write(text),
    });
  } catch (err) {
    if (err instanceof UsageError) die(err.message, 2);
    die((err as Error).message, 1);
  }
}

/** interloper.config.ts is built and run as a script is: esbuild, then evaluated with the proxy's own sdk. */
async function runConfigModule(file: string): Promise<{ exports: Record<string, unknown>; inputs: string[] }> {
  const bundle = await bundleScript(file);
  return { exports: evaluateBundle(bundle.code, file, { "@interloper/sdk": sdk }), inputs: bundle.inputs };
}

/** The built-in addons in chain order, then the config files' and command line's options (scripts load here). */
async function setUp(proxy: ProxyServer, cli: CliRequest, watchScripts: boolean): Promise<ConfigFiles> {
  const { host } = proxy;
  await host.add(proxy.coreAddon());
  await host.add(new Block());
  // mitmproxy's order: block_list, anticache and anticomp right after block.
  await host.add(new BlockList());
  await host.add(new AntiCache());
  await host.add(new AntiComp());
  await host.add(new ProxyAuth());
  // Before the scripts, as in mitmproxy: the onboarding page is the proxy's own, whatever they do.
  await host.add(new Onboarding());
  // User scripts load under the script loader: before the built-in hosts addon, so they decide first.
  await host.add(new ScriptLoader({ watch: watchScripts }));
  await host.add(new Hosts());
  // mitmproxy's order: replay after the scripts, then the files (which save what the scripts made).
  const keep = new KeepServing();
  await host.add(new ServerReplay(keep));
  await host.add(new ClientReplay(keep));
  // mitmproxy's order: the rewrite options after replay, before the files (which save what they made).
  await host.add(new MapRemote());
  await host.add(new MapLocal());
  await host.add(new ModifyBody());
  await host.add(new ModifyHeaders());
  // mitmproxy's order: stickyauth and stickycookie after the replays and rewrites, before saving.
  await host.add(new StickyAuth());
  await host.add(new StickyCookie());
  await host.add(new SaveFlows());
  await host.add(new HarDump());
  // Last of the flow addons, as in mitmweb: intercept sees the flow as the others left it, and the
  // web UI (its hooks run only with --web) sees it paused.
  await host.add(new Intercept());
  await host.add(new WebUI());
  // With --options the listing owns stdout: what the scripts log on loading goes to stderr.
  await host.add(new Dumper(watchScripts ? process.stdout : process.stderr));
  await host.add(keep);
  await host.add(new ReadFile(keep));
  await host.add(new ErrorCheck());
  // Config files, flags and --set in one change, so that scripts are looked up with the confdir given either way.
  const fromCommandLine = { ...cli.changes, ...host.options.parseSetArgs(cli.sets) };
  const files = await applyConfigFiles(host, fromCommandLine, { projectFile: cli.configFile, run: runConfigModule });
  const unknown = host.options.unknownDeferred();
  if (unknown.length > 0) throw new OptionError(host.options.unknownMessage(unknown.map(snakeOptionName)));
  return files;
}

/** `--options`: the listing, written out before the process ends. */
async function listOptions(host: AddonHost): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.write(formatOptions(host.options), () => resolve()));
  await host.stop();
}

async function main(): Promise<void> {
  const command = process.argv[2];
  if (isSubcommand(command)) {
    process.exitCode = await subcommand(command, process.argv.slice(3));
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
  let configFiles: ConfigFiles;
  try {
    configFiles = await setUp(proxy, cli, !cli.listOptions);
  } catch (err) {
    if (err instanceof OptionError || err instanceof UsageError) die(err.message, 2);
    throw err;
  }
  if (cli.listOptions) {
    await listOptions(host);
    process.exit(0);
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
  // Watched once the confdir exists (the CA's start made it): a change applies live.
  await configFiles.watch();
}

await main();
