// What the routes work with: the flow store, the addon's loader (options, addons, replay,
// flow loading), the event log, and where each paused flow was held.
import type { AnyFlow, HookName, Loader } from "@interloper/sdk";
import type { EventLog } from "../store/event-log.ts";
import type { FlowStore, StoredFlow } from "../store/flow-store.ts";
import { HttpError } from "./http-io.ts";

export interface WebApi {
  readonly store: FlowStore;
  readonly loader: Loader;
  readonly events: EventLog;
  /** The hook after which each paused flow is held (resuming after `response` ends the flow). */
  readonly pausedAt: WeakMap<AnyFlow, HookName>;
}

/** The stored flow of a route's `:id`, or 404. */
export function storedFlow(api: WebApi, id: string | undefined): StoredFlow {
  const rec = id === undefined ? undefined : api.store.get(id);
  if (!rec) throw new HttpError(404, `no flow with id ${id}`);
  return rec;
}
