import { compileFilter, FilterError, logText, OptionError, type FlowFilter } from "@interloper/sdk";

/** One `block_list` entry: requests the filter matches are answered with `status` (444: the connection is closed). */
export interface BlockSpec {
  readonly filter: FlowFilter;
  readonly status: number;
}

/** mitmproxy's non-standard status that closes the client connection without any response. */
export const NO_RESPONSE = 444;

/**
 * Parses `/flow-filter/status-code`: the first character is the separator,
 * so the filter may hold `/` when another separator is chosen
 * (`|~u /ads/|404`). Exactly two parts, as mitmproxy requires; a status
 * outside 200-599 would be no answer a client understands, so it is refused.
 * Throws an OptionError naming the option and the value.
 */
export function parseBlockSpec(spec: string): BlockSpec {
  const refuse = (why: string) => new OptionError(`invalid value for block_list: '${logText(spec)}' (${why})`);
  if (spec.length < 2) throw refuse("expected /flow-filter/status-code, where / is any separator character");
  const [sep, rest] = splitSeparator(spec);
  const parts = rest.split(sep);
  if (parts.length !== 2) {
    throw refuse(`expected 2 parts after the separator '${logText(sep)}', found ${parts.length}`);
  }
  const [expr, code] = parts as [string, string];
  if (!/^\s*\d{3}\s*$/.test(code)) throw refuse(`'${logText(code)}' is not an HTTP status code`);
  const status = Number(code);
  if (status < 200 || status > 599) throw refuse(`status ${status} is not 200-599 (444 closes the connection)`);
  if (expr.trim() === "") throw refuse("the filter is empty");
  try {
    return { filter: compileFilter(expr), status };
  } catch (err) {
    if (err instanceof FilterError) throw refuse(err.message);
    throw err;
  }
}

/** The separator (one character, a surrogate pair counted as one) and what follows it. */
function splitSeparator(spec: string): [string, string] {
  const first = String.fromCodePoint(spec.codePointAt(0)!);
  return [first, spec.slice(first.length)];
}
