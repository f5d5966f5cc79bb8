// The client side of a replayed request: nobody is waiting on a socket, so
// the answer is only kept on the flow (the exchange sets flow.response) and
// the replay learns when the exchange is over.
import { Writable } from "node:stream";
import type { ClientResponder } from "../http/exchange/responder.ts";

export class ReplayResponder implements ClientResponder {
  readonly orderKey = undefined;
  readonly multiplexed = false;
  headersSent = false;
  destroyed = false;
  finished = false;
  /** Set when the exchange answered with an error page of its own (no server response). */
  error: { status: number; message: string } | undefined;
  /** A streamed response body goes nowhere: the replay keeps what `response` shows, as for any streamed flow. */
  readonly body = new Writable({
    write: (_chunk, _enc, done) => done(),
    final: (done) => {
      this.markFinished();
      done();
    },
  });
  private readonly answered: Array<() => void> = [];
  private readonly closing: Array<() => void> = [];

  constructor(readonly method: string) {}

  // The head and trailers are on the flow already; there is no connection to write them to.
  writeHead(): void {
    this.headersSent = true;
  }
  addTrailers(): void {}
  sendBuffered(): Promise<void> {
    this.headersSent = true;
    this.markFinished();
    return Promise.resolve();
  }
  sendError(status: number, message: string): void {
    this.headersSent = true;
    this.error = { status, message };
    this.markFinished();
  }
  abort(): void {
    this.close();
  }
  kill(): void {
    this.close();
  }
  onAnswered(listener: () => void): void {
    if (this.finished) listener();
    else this.answered.push(listener);
  }
  onClose(listener: () => void): void {
    this.closing.push(listener);
  }
  closeAfterAnswer(): void {}
  spliceTarget(): undefined {
    return undefined;
  }
  end(): void {
    this.markFinished();
  }

  private markFinished(): void {
    if (this.finished) return;
    this.finished = true;
    for (const l of this.answered.splice(0)) l();
    this.close();
  }

  private close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const l of this.closing.splice(0)) l();
  }
}
