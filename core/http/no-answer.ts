// The bound on a server's silence after a request. It lives with the client of the server
// connection (as undici's headersTimeout does): one timer per connection, refreshed for each
// request, costs ~0.05 µs where a timer and a racing promise per request cost ~1.5 µs (bench A).

/** The server sent no response head within idle_timeout of the request (nor took any of its bytes). */
export class NoAnswer extends Error {
  constructor(ms: number) {
    super(`server did not answer within idle_timeout (${ms / 1000} s)`);
  }
}
