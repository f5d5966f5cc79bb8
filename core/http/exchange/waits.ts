// How long a client waits on others: on addons holding its flow, on a
// server that does not answer. Both are bounded by idle_timeout.
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

/** The server sent no response head within idle_timeout of the request. */
export class NoAnswer extends Error {}

/**
 * `answer`, unless the server stays silent longer than `ms` (0: no limit): then NoAnswer. A server
 * still taking the request's bytes (`progress` grows: a slow reader of a big upload) is not silent;
 * the clock runs from the last byte it took. One timer, refreshed, no race (once per request).
 */
export function answerWithin<T>(answer: Promise<T>, ms: number, progress: () => number = () => 0): Promise<T> {
  if (ms <= 0) return answer;
  return new Promise<T>((resolve, reject) => {
    let seen = progress();
    const timer = setTimeout(function check() {
      const now = progress();
      if (now !== seen) {
        seen = now;
        timer.refresh();
        return;
      }
      reject(new NoAnswer(`server did not answer within idle_timeout (${ms / 1000} s)`));
    }, ms);
    answer.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
