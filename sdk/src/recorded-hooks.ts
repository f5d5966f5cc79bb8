// A recorded flow told to the addon chain as if it happened now: the hooks a
// live flow of its kind gets, in their order (mitmproxy's eventsequence),
// with message lists growing one message per message hook. Used to read flow
// files through addons (-r) and by anything that loads flows.
import type { AddonHost } from "./host.ts";
import type { AnyFlow, HTTPFlow, TCPFlow } from "./flow.ts";

/** Triggers the hooks of `flow` in order, awaiting each. */
export async function playRecordedHooks(host: Pick<AddonHost, "trigger">, flow: AnyFlow): Promise<void> {
  if (flow.type === "tcp") return playTcp(host, flow);
  return playHttp(host, flow);
}

async function playHttp(host: Pick<AddonHost, "trigger">, flow: HTTPFlow): Promise<void> {
  await host.trigger("requestheaders", flow);
  await host.trigger("request", flow);
  const ws = flow.websocket;
  if (ws) {
    const recorded = ws.messages.splice(0);
    await host.trigger("websocketStart", flow);
    for (const m of recorded) {
      ws.messages.push(m);
      await host.trigger("websocketMessage", flow);
    }
    await host.trigger("websocketEnd", flow);
  }
  if (flow.response) {
    await host.trigger("responseheaders", flow);
    await host.trigger("response", flow);
  }
  if (flow.error) await host.trigger("error", flow);
}

async function playTcp(host: Pick<AddonHost, "trigger">, flow: TCPFlow): Promise<void> {
  const recorded = flow.messages.splice(0);
  await host.trigger("tcpStart", flow);
  for (const m of recorded) {
    flow.messages.push(m);
    await host.trigger("tcpMessage", flow);
  }
  if (flow.error) await host.trigger("tcpError", flow);
  else await host.trigger("tcpEnd", flow);
}
