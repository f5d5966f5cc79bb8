/**
 * replace-hosts: a `hosts` addon of your own in place of the built-in one.
 *
 *   interloper -s examples/replace-hosts.ts
 *
 * An addon named "hosts" takes the built-in's place in the chain, so
 * `--ignore-hosts` / `--allow-hosts` / `--tcp-hosts` no longer do anything:
 * this addon alone decides. Here the rule is deliberately simple: connections
 * whose TLS server name (SNI) is in a fixed list are passed through untouched,
 * everything else is intercepted, and each decision is logged.
 */
import {
  defineAddon,
  formatAddress,
  snakeOptionName,
  type Loader,
  type Logger,
  type NextLayerData,
  type OptionsView,
} from "@interloper/sdk";

/** The built-in's options, which mean nothing once it is replaced. */
const BUILTIN_OPTIONS = ["ignoreHosts", "allowHosts", "ignoreDomains", "allowDomains", "tcpHosts"];

/** Exact server names, lower case. */
const PASS_THROUGH = new Set(["pinned.example.com", "accounts.example.net", "updates.example.org"]);

export default defineAddon({
  name: "hosts",
  log: undefined as Logger | undefined,

  load(loader: Loader) {
    this.log = loader.log;
  },

  configure(updated: ReadonlySet<string>, options: OptionsView) {
    // Say so when someone expects --ignore-hosts to work: silently dropping it would be a trap.
    for (const name of BUILTIN_OPTIONS) {
      if (updated.has(name) && options.has(name) && options.get<string[]>(name).length > 0) {
        this.log?.warn(
          `--${snakeOptionName(name).replace(/_/g, "-")} has no effect: this script replaces the built-in hosts addon`,
        );
      }
    }
  },

  nextLayer(data: NextLayerData) {
    // A user addon earlier in the chain decided already: the built-in respected that, so do we.
    if (data.ignoreConnection !== undefined) return;
    // After TLS was terminated the connection is intercepted already: nothing new to decide or log.
    if (data.stage === "inner") {
      data.ignoreConnection = false;
      return;
    }
    const who = formatAddress(data.client.peername);
    const where = formatAddress(data.server.address);
    const hello = data.clientHello;
    // The SNI is in the ClientHello: until it is complete (and more can come) there is nothing to judge.
    if (hello === "incomplete" && !data.final) {
      data.needMoreData = true;
      return;
    }
    const sni = typeof hello === "object" ? hello.sni?.toLowerCase() : undefined;
    if (sni !== undefined && PASS_THROUGH.has(sni)) {
      data.ignoreConnection = true;
      this.log?.info(`${who}: passing ${sni} (${where}) through: its SNI is in the list`);
    } else {
      // `false`, not undefined: we are the hosts addon, nobody after us should second-guess it.
      data.ignoreConnection = false;
      this.log?.debug(`${who}: intercepting ${where}${sni ? ` (SNI ${sni})` : hello ? " (no SNI)" : " (not TLS)"}`);
    }
  },
});
