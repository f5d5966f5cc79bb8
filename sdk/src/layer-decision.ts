// The hook order of a connection's layer decision, written once: the
// proxy's core and the test harness both run it, so an addon sees the same
// `nextLayer` → `tlsClienthello` sequence under test as in the proxy.
import type { ClientHello, HookArgs, HookName, NextLayerData, TlsClienthelloData } from "./addon.ts";

/** Runs a hook through the addon chain (AddonHost.trigger, bound). */
export type Trigger = <H extends HookName>(hook: H, ...args: HookArgs<H>) => void | Promise<void>;

/** What the addons (and the bytes so far) decided about a connection. */
export type LayerVerdict =
  /** Pass the connection through untouched. */
  | { kind: "ignore" }
  /** Read more bytes first: an addon asked for them, or the ClientHello is not complete (never when `final`). */
  | { kind: "wait" }
  /** Terminate TLS with this ClientHello; `tcp`: raw TCP inside. */
  | { kind: "tls"; hello: ClientHello; tcp: boolean }
  /** Not TLS (or TLS not possible here): the caller looks at the bytes; `tcp` when an addon asked for raw TCP. */
  | { kind: "other"; tcp: boolean };

/**
 * `nextLayer`, then, for a complete ClientHello on a connection where TLS is
 * possible (`tls`) and that no addon ignored or held back, `tlsClienthello`.
 * An addon's `needMoreData` (with no decision to ignore) waits for more bytes
 * unless `data.final` says no more will come; then the decision goes on with
 * what is there.
 */
export async function decideLayer(
  trigger: Trigger,
  data: NextLayerData,
  opts: { tls: boolean },
): Promise<LayerVerdict> {
  await trigger("nextLayer", data);
  if (data.ignoreConnection === true) return { kind: "ignore" };
  const addonWaits = data.needMoreData === true && data.ignoreConnection === undefined;
  const helloIncomplete = opts.tls && data.clientHello === "incomplete";
  if ((addonWaits || helloIncomplete) && !data.final) return { kind: "wait" };
  const hello = data.clientHello;
  if (opts.tls && hello !== undefined && hello !== "incomplete") {
    const helloData: TlsClienthelloData = {
      client: data.client,
      server: data.server,
      clientHello: hello,
      ignoreConnection: false,
    };
    await trigger("tlsClienthello", helloData);
    if (helloData.ignoreConnection) return { kind: "ignore" };
    return { kind: "tls", hello, tcp: data.tcp === true };
  }
  return { kind: "other", tcp: data.tcp === true };
}
