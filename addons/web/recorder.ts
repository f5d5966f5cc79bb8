// The hooks that fill the web UI's flow store. A child addon of `web`, added only while the
// UI runs, so a proxy without `--web` pays nothing per flow. It runs last in the chain: it
// sees each flow as every other addon left it (paused by `intercept` included).
import type { Addon, AnyFlow, HTTPFlow, TCPFlow } from "@interloper/sdk";
import type { FlowStore } from "./store/flow-store.ts";

/** Whether the proxy is done with the flow after `hook` (see FlowStore.observe). */
export function doneAfter(hook: "request" | "response" | "websocketEnd" | "error" | "tcpEnd", flow: AnyFlow): boolean {
  if (flow.type === "tcp") return hook === "tcpEnd" || hook === "error";
  switch (hook) {
    case "error":
    case "websocketEnd":
      return true;
    case "response":
      // A live 101 goes on (a WebSocket or a relayed protocol).
      return !(flow.live && flow.response?.status === 101);
    case "request":
      // A recorded flow with neither response nor error gets no later hook.
      return !flow.live && flow.response === undefined && flow.error === undefined;
    default:
      return false;
  }
}

export class WebRecorder implements Addon {
  readonly name = "web-recorder";

  constructor(private readonly store: FlowStore) {}

  requestheaders(flow: HTTPFlow): void {
    this.store.observe(flow, false, true);
  }

  request(flow: HTTPFlow): void {
    // Between its first and last hook a live flow only needs telling to a UI that is watching.
    if (this.store.tracking || !flow.live) this.store.observe(flow, doneAfter("request", flow));
  }

  responseheaders(flow: HTTPFlow): void {
    if (this.store.tracking) this.store.observe(flow, false);
  }

  response(flow: HTTPFlow): void {
    this.store.observe(flow, doneAfter("response", flow));
  }

  error(flow: HTTPFlow): void {
    this.store.observe(flow, true);
  }

  websocketStart(flow: HTTPFlow): void {
    this.store.observe(flow, false);
  }

  websocketMessage(flow: HTTPFlow): void {
    this.store.observe(flow, false);
  }

  websocketEnd(flow: HTTPFlow): void {
    this.store.observe(flow, doneAfter("websocketEnd", flow));
  }

  tcpStart(flow: TCPFlow): void {
    this.store.observe(flow, false, true);
  }

  tcpMessage(flow: TCPFlow): void {
    this.store.observe(flow, false);
  }

  tcpEnd(flow: TCPFlow): void {
    this.store.observe(flow, true);
  }

  tcpError(flow: TCPFlow): void {
    this.store.observe(flow, true);
  }
}
