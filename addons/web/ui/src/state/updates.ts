/**
 * The live connection: the WebSocket `/api/updates` (batched updates, see
 * API.md). Everything is fetched once the socket is open, and again after it
 * came back from a loss: a list read before the socket was subscribed would
 * miss the flows added in between.
 */
import type { Update } from "../types.ts";
import type { Store } from "./store.ts";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export function connectUpdates(store: Store): void {
  let retry = RETRY_MIN_MS;
  const open = (): void => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/updates`);
    ws.onopen = () => {
      retry = RETRY_MIN_MS;
      store.connection = "live";
      store.connected().catch((e: unknown) => store.notify("error", `loading: ${String(e)}`));
      store.changed();
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      let updates: Update[];
      try {
        const parsed = JSON.parse(ev.data) as unknown;
        updates = (Array.isArray(parsed) ? parsed : [parsed]) as Update[];
      } catch {
        return;
      }
      store.apply(updates);
    };
    ws.onclose = () => {
      store.connection = "lost";
      store.changed();
      setTimeout(open, retry);
      retry = Math.min(RETRY_MAX_MS, retry * 2);
    };
  };
  open();
}
