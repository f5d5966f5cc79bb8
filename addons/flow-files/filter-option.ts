import { compileFilter, FilterError, OptionError, type FlowFilter } from "@interloper/sdk";

/**
 * A filter expression option's value compiled, or undefined when unset. A
 * bad expression is an OptionError naming the option and the column, so a
 * bad flag stops the start-up and a bad change at run time is refused.
 */
export function filterFrom(option: string, expr: string | undefined): FlowFilter | undefined {
  if (expr === undefined || expr.trim() === "") return undefined;
  try {
    return compileFilter(expr);
  } catch (err) {
    if (err instanceof FilterError) throw new OptionError(`invalid value for ${option}: ${err.message}`);
    throw err;
  }
}
