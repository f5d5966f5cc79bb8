// How long a client waits on addons holding its flow: at most idle_timeout. (Its wait on a
// server that does not answer has the same bound, kept by the server's client: no-answer.ts.)
import type { HTTPFlow, LogLevel } from "@interloper/sdk";

/** The hooks of an HTTP exchange that a waiting client sits through. */
export type ClientHook = "requestheaders" | "request" | "responseheaders" | "response";

export interface HookRunner {
  trigger(hook: ClientHook, flow: HTTPFlow): void | Promise<void>;
}

/**
 * A flow hook while the client waits for its answer. Addons that hold it
 * longer than idle_timeout (a hook that never settles) lose the flow: it is
 * killed, its client let go, and the hook may still finish, for nothing.
 */
export function clientWaits(
  hooks: HookRunner,
  idleTimeoutMs: number,
  log: (level: LogLevel, message: string) => void,
  hook: ClientHook,
  flow: HTTPFlow,
): void | Promise<void> {
  const pending = hooks.trigger(hook, flow);
  if (!pending || idleTimeoutMs <= 0) return pending;
  const timer = setTimeout(() => {
    if (flow.killed) return;
    // A flow paused for a person (intercept) waits as long as they take, as in mitmproxy.
    if (flow.intercepted) return void timer.refresh();
    const msg = `addons held the flow in ${hook} longer than idle_timeout (${idleTimeoutMs / 1000} s)`;
    log("info", `${msg}: closing the client connection (${flow.request.method} ${flow.request.prettyUrl})`);
    flow.kill();
    flow.error = { msg, timestamp: Date.now() / 1000 };
  }, idleTimeoutMs);
  return pending.finally(() => clearTimeout(timer));
}
