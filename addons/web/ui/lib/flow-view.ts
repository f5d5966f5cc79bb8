/**
 * The flow list's model, without a DOM: every flow summary in arrival order,
 * which of them the view filter keeps and the highlight filter marks, and
 * the visible rows in the chosen column order. Each summary's filter result
 * is kept with it, so a new or changed flow costs one evaluation, and a new
 * filter one pass over all flows (the 50,000-flow bench row measures it).
 */
import type { AnyFlow } from "@interloper/sdk";
import { sortRows, type SortDirection, type SortKey } from "./sort.ts";
import { compileViewFilter, filterable, type FilterableSummary, type ViewFilter } from "./summary-filter.ts";

export interface FlowRow<S extends FilterableSummary = FilterableSummary> {
  summary: S;
  /** Arrival number: the default order, and the tie-breaker of sorts. */
  readonly seq: number;
  stand: AnyFlow;
  shown: boolean;
  highlighted: boolean;
}

/** For filters the server evaluates: the ids it said match, or null while unknown (everything shows). */
export type ServerMatches = ReadonlySet<string> | null;

export class FlowView<S extends FilterableSummary = FilterableSummary> {
  private readonly rows = new Map<string, FlowRow<S>>();
  private arrival: FlowRow<S>[] = [];
  private seq = 0;
  private filter: ViewFilter = compileViewFilter("");
  private highlight: ViewFilter = compileViewFilter("");
  private filterMatches: ServerMatches = null;
  private highlightMatches: ServerMatches = null;
  private sortKey: ((s: S) => SortKey) | null = null;
  private sortDirection: SortDirection = "asc";
  private visibleCache: FlowRow<S>[] | null = null;

  get size(): number {
    return this.rows.size;
  }

  get viewFilter(): ViewFilter {
    return this.filter;
  }

  get highlightFilter(): ViewFilter {
    return this.highlight;
  }

  get(id: string): FlowRow<S> | undefined {
    return this.rows.get(id);
  }

  /** Replaces every flow (the first fetch, or after `flows/reset`). */
  reset(summaries: readonly S[]): void {
    this.rows.clear();
    this.arrival = [];
    for (const s of summaries) this.add(s);
    this.visibleCache = null;
  }

  /** A new flow, or a newer state of a known one. */
  upsert(summary: S): void {
    const known = this.rows.get(summary.id);
    if (!known) {
      this.add(summary);
    } else {
      known.summary = summary;
      known.stand = filterable(summary);
      this.evaluate(known);
    }
    this.visibleCache = null;
  }

  remove(id: string): void {
    this.removeMany([id]);
  }

  /** Drops these flows (unknown ids are ignored) in one pass over the list, however many they are. */
  removeMany(ids: readonly string[]): void {
    const gone = new Set<FlowRow<S>>();
    for (const id of ids) {
      const row = this.rows.get(id);
      if (!row) continue;
      this.rows.delete(id);
      gone.add(row);
    }
    if (gone.size === 0) return;
    this.arrival = this.arrival.filter((r) => !gone.has(r));
    this.visibleCache = null;
  }

  /** Sets the view filter; returns it (kind `error` with the column when it does not compile: the old one stays). */
  setFilter(expr: string): ViewFilter {
    const next = compileViewFilter(expr);
    if (next.kind === "error") return next;
    this.filter = next;
    this.filterMatches = null;
    for (const row of this.arrival) row.shown = this.matches(this.filter, this.filterMatches, row, true);
    this.visibleCache = null;
    return next;
  }

  setHighlight(expr: string): ViewFilter {
    const next = compileViewFilter(expr);
    if (next.kind === "error") return next;
    this.highlight = next;
    this.highlightMatches = null;
    for (const row of this.arrival) row.highlighted = this.matches(this.highlight, this.highlightMatches, row, false);
    this.visibleCache = null;
    return next;
  }

  /** The server's answer for a server-evaluated filter or highlight. */
  setServerMatches(which: "filter" | "highlight", expr: string, ids: readonly string[]): void {
    const set = new Set(ids);
    if (which === "filter" && this.filter.source === expr) {
      this.filterMatches = set;
      for (const row of this.arrival) row.shown = set.has(row.summary.id);
    } else if (which === "highlight" && this.highlight.source === expr) {
      this.highlightMatches = set;
      for (const row of this.arrival) row.highlighted = set.has(row.summary.id);
    }
    this.visibleCache = null;
  }

  /** Sorts the visible rows by a column's key, or arrival order with `null`. */
  setSort(key: ((s: S) => SortKey) | null, direction: SortDirection = "asc"): void {
    this.sortKey = key;
    this.sortDirection = direction;
    this.visibleCache = null;
  }

  /** The rows the list shows, in order. Worked out again only after a change. */
  visible(): readonly FlowRow<S>[] {
    if (this.visibleCache) return this.visibleCache;
    const shown = this.arrival.filter((r) => r.shown);
    const key = this.sortKey;
    this.visibleCache = key ? sortRows(shown, (r) => key(r.summary), this.sortDirection) : shown;
    return this.visibleCache;
  }

  /** Every row in arrival order. */
  all(): readonly FlowRow<S>[] {
    return this.arrival;
  }

  private add(summary: S): void {
    const row: FlowRow<S> = { summary, seq: this.seq++, stand: filterable(summary), shown: true, highlighted: false };
    this.rows.set(summary.id, row);
    this.arrival.push(row);
    this.evaluate(row);
  }

  private evaluate(row: FlowRow<S>): void {
    row.shown = this.matches(this.filter, this.filterMatches, row, true);
    row.highlighted = this.matches(this.highlight, this.highlightMatches, row, false);
  }

  /** A server-evaluated filter shows a flow it has not judged yet (until its next answer), and highlights none. */
  private matches(filter: ViewFilter, server: ServerMatches, row: FlowRow<S>, unknown: boolean): boolean {
    switch (filter.kind) {
      case "all":
        return unknown;
      case "local":
        return filter.test(row.stand);
      case "server":
        return server === null ? unknown : server.has(row.summary.id);
      case "error":
        return unknown;
    }
  }
}
