/**
 * mitmproxy's flow filter language: `~d example\.com & ~m POST`, `!~a`,
 * `~b "secret" | ~h "^x-debug:"`. `compileFilter` turns an expression into a
 * predicate on flows; `FILTER_OPERATORS` lists what the language has.
 */
export type { FilterArgument, FilterNode } from "./ast.ts";
export { compileFilter, type CompileFilterOptions, type FlowFilter } from "./compile.ts";
export { FilterError } from "./errors.ts";
export { FILTER_OPERATORS, type FilterArgumentKind, type FilterOperatorHelp } from "./operators.ts";
export { parseFilter } from "./parser.ts";
