/** Messages between the main thread (core/splice.ts) and the pump (core/splice-worker.ts). */

export type ToWorker =
  /** Relay sockets `a` and `b`; `ab` is the pipe [read, write] for a -> b, `ba` for b -> a. */
  | { t: "add"; id: number; a: number; b: number; ab: [number, number]; ba: [number, number]; pipeSize: number }
  /** The main thread wants the connection closed (a destroy() from elsewhere): deregister and answer `done`. */
  | { t: "abort"; id: number }
  /** The process is exiting: leave the blocking loop. */
  | { t: "stop" };

export interface SpliceFailure {
  /** The socket the failing call was on: 0 = a, 1 = b. */
  side: 0 | 1;
  /** `read` (socket -> pipe), `write` (pipe -> socket) or `epoll_ctl`. */
  op: string;
  errno: number;
}

export type ToMain =
  | { t: "ready" }
  /**
   * The worker no longer touches the connection's fds (deregistered, pipes closed):
   * the main thread may close the sockets. Without `error` and `aborted`, both
   * directions ended (EOF passed on as shutdown) and every byte was delivered.
   */
  | { t: "done"; id: number; error?: SpliceFailure; aborted: boolean; moved: [number, number] };
