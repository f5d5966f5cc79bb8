/**
 * The live connection: the WebSocket `/api/updates` (batched updates, see
 * API.md). On a lost connection it comes back after a growing pause and
 * fetches everything again, since updates in between are gone.
 */
import type { Update } from "../types.ts";
import type { Store } from "./store.ts";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export function connectUpdates(store: Store): void {
  let retry = RETRY_MIN_MS;
  let first = true;
  const open = (): void => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/updates`);
    ws.onopen = () => {
      retry = RETRY_MIN_MS;
      store.connection = "live";
      // The first load was started beside the socket's opening; after a loss, everything is fetched anew.
      if (!first) store.loadAll().catch((e: unknown) => store.notify("error", `loading: ${String(e)}`));
      first = false;
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
