/** The argument of an operator as written in the expression. */
export interface FilterArgument {
  /** The argument as the regex engine sees it: quotes removed and their escapes applied. */
  readonly text: string;
  /** Index in the expression of the argument's first character (its opening quote when quoted). */
  readonly at: number;
  readonly quoted: boolean;
  /** For a quoted argument, the index in the expression of each UTF-16 unit of `text`. */
  readonly sourceIndex?: readonly number[];
}

/**
 * A parsed filter expression. `and` / `or` hold two or more items, flattened
 * (`a & b & c` is one `and`), evaluated left to right with short-circuit. A
 * bare regex is an operator node `~u` with `bare: true`.
 */
export type FilterNode =
  | { readonly kind: "and"; readonly items: readonly FilterNode[] }
  | { readonly kind: "or"; readonly items: readonly FilterNode[] }
  | { readonly kind: "not"; readonly item: FilterNode }
  | {
      readonly kind: "operator";
      /** `~d`, `~q`, ... */
      readonly operator: string;
      /** Index in the expression where the operator (or the bare regex) starts. */
      readonly at: number;
      readonly argument?: FilterArgument;
      /** The status code of `~c`. */
      readonly code?: number;
      readonly bare?: boolean;
    };
