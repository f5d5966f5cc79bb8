// The rapid-reset budget of an HTTP/2 client connection (core/connection/h2-reset-budget.ts): a burst, then
// a steady rate; the clock is passed in, so nothing here waits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ResetBudget } from "../../core/connection/h2-reset-budget.ts";

test("a burst of resets is allowed, the next one is not", () => {
  const budget = new ResetBudget(3, 1, 0);
  assert.equal([budget.take(0), budget.take(0), budget.take(0), budget.take(0)], [true, true, true, false]);
});

test("the budget comes back at its rate, never beyond the burst", () => {
  const budget = new ResetBudget(2, 10, 0);
  budget.take(0);
  budget.take(0);
  assert.is(budget.take(50), false, "half a token after 50 ms at 10 a second");
  assert.is(budget.take(100), true, "a whole one after 100 ms");
  // An hour later: two again, not 36,000.
  const later = 3_600_000;
  assert.equal([budget.take(later), budget.take(later), budget.take(later)], [true, true, false]);
});

test.run();
