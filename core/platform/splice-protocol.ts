/** Messages between the main thread (core/platform/splice.ts) and the pump (core/platform/splice-worker.ts). */

export type ToWorker =
  /** Relay sockets `a` and `b`; `ab` is the pipe [read, write] for a -> b, `ba` for b -> a. */
  | { t: "add"; id: number; a: number; b: number; ab: [number, number]; ba: [number, number]; pipeSize: number }
  /**
   * Move exactly `length` bytes from socket `src` to socket `dst` (read/write through the worker's
   * buffer), then answer `done` without closing or shutting down anything. `length` > 0.
   */
  | { t: "bytes"; id: number; src: number; dst: number; length: number }
  /** The main thread wants the connection closed (a destroy() from elsewhere): deregister and answer `done`. */
  | { t: "abort"; id: number }
  /** The process is exiting: leave the blocking loop. */
  | { t: "stop" };

export interface SpliceFailure {
  /** The socket the failing call was on: 0 = a (a transfer's src), 1 = b (its dst). */
  side: 0 | 1;
  /**
   * `read` (socket -> pipe), `write` (pipe -> socket), `epoll_ctl`, or `eof`: a transfer's src
   * ended before `length` bytes (errno 0).
   */
  op: string;
  errno: number;
}

export type ToMain =
  | { t: "ready" }
  /**
   * The worker no longer touches the connection's fds (deregistered, pipes closed):
   * the main thread may close the sockets. Without `error` and `aborted`, a relay's
   * both directions ended (EOF passed on as shutdown) and every byte was delivered;
   * a transfer's `length` bytes all reached dst. `moved` is [a -> b, b -> a]
   * (a transfer: [src -> dst, 0]).
   */
  | { t: "done"; id: number; error?: SpliceFailure; aborted: boolean; moved: [number, number] }
  /** A transfer is still moving bytes (sent at most about once a second): its sockets are not idle. */
  | { t: "progress"; id: number; moved: number };
