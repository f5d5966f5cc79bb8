// loader.hooksWhen (sdk/src/host.ts): an addon's traffic hooks run only while its gate is open, the
// gate is read again after every option change (a refused one included), lifecycle hooks always
// run, and a gate that throws leaves the hooks on and is reported once with the addon's name.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, LogEntry, Loader } from "../../sdk/src/addon.ts";
import { HTTPFlow, Request } from "../../sdk/src/flow.ts";
import { AddonHost } from "../../sdk/src/host.ts";
import { OptionError } from "../../sdk/src/options.ts";
import { testClient, testServer } from "@interloper/sdk/testing";

const client = testClient({ id: "c1", timestampStart: 0 });
const flow = () =>
  new HTTPFlow(client, testServer({ host: "example.com", port: 80 }), new Request({ host: "example.com", path: "/" }));

/** An addon with a bool option `feature` that gates its request and response hooks. */
function gated(calls: string[], gate?: (loader: Loader) => () => boolean): Addon {
  return {
    name: "gated",
    load(loader) {
      loader.addOption({ name: "feature", type: "bool", default: false, help: "" });
      loader.hooksWhen(gate ? gate(loader) : () => loader.options.get<boolean>("feature"));
    },
    configure: (updated) => void calls.push(`configure(${[...updated].sort().join(",")})`),
    request: () => void calls.push("request"),
    response: () => void calls.push("response"),
  };
}

async function hostWith(addon: Addon): Promise<{ host: AddonHost; logs: LogEntry[] }> {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  await host.add(addon);
  return { host, logs };
}

test("a closed gate: traffic hooks do not run and hasHandlers says so; configure still runs", async () => {
  const calls: string[] = [];
  const { host } = await hostWith(gated(calls));
  await host.trigger("request", flow());
  await host.trigger("response", flow());
  assert.equal(calls, ["configure(feature)"]);
  assert.is(host.hasHandlers("request"), false);
  assert.is(host.hasHandlers("configure"), true);
  // The addon still shows the hooks it has.
  assert.ok(host.listAddons()[0]!.hooks.includes("request"));
});

test("the gate follows option changes both ways", async () => {
  const calls: string[] = [];
  const { host } = await hostWith(gated(calls));
  await host.setOptions({ feature: true });
  await host.trigger("request", flow());
  assert.is(host.hasHandlers("response"), true);
  await host.setOptions({ feature: false });
  await host.trigger("request", flow());
  assert.equal(calls, ["configure(feature)", "configure(feature)", "request", "configure(feature)"]);
});

test("a refused option change leaves the gate as the old values say", async () => {
  const calls: string[] = [];
  const { host } = await hostWith(gated(calls));
  await host.add({
    name: "refuser",
    configure(updated, options) {
      if (updated.has("feature") && options.get<boolean>("feature")) throw new OptionError("feature refused");
    },
  });
  let refused: unknown;
  try {
    await host.setOptions({ feature: true });
  } catch (err) {
    refused = err;
  }
  assert.instance(refused, OptionError);
  assert.is(host.hasHandlers("request"), false, "feature is back to false: the gate is closed again");
});

test("a gate that throws leaves the hooks on and is reported once, with the addon's name", async () => {
  const calls: string[] = [];
  const boom = () => () => {
    throw new Error("gate broke");
  };
  const { host, logs } = await hostWith(gated(calls, boom));
  await host.setOptions({ feature: true });
  await host.setOptions({ feature: false });
  await host.trigger("request", flow());
  assert.ok(calls.includes("request"));
  const errors = logs.filter((e) => e.level === "error").map((e) => e.message);
  assert.is(errors.length, 1, errors.join("\n"));
  assert.match(errors[0]!, /^addon gated failed in hooksWhen: (Error: )?gate broke/);
});

test("hooksWhen called again replaces the gate", async () => {
  const calls: string[] = [];
  let loader: Loader | undefined;
  const { host } = await hostWith(
    gated(calls, (l) => {
      loader = l;
      return () => false;
    }),
  );
  assert.is(host.hasHandlers("request"), false);
  loader!.hooksWhen(() => true);
  assert.is(host.hasHandlers("request"), true);
  await host.trigger("request", flow());
  assert.ok(calls.includes("request"));
});

test.run();
