/**
 * The UI's state: the flows (a FlowView), what is selected, options, addons,
 * the event log, the connection, messages to the user. Components read it
 * and call its methods; a change schedules one re-render per animation
 * frame, however many updates a WebSocket message carried.
 */
import { isEarlierState } from "../../lib/flow-progress.ts";
import { FlowView } from "../../lib/flow-view.ts";
import { summariesOfRows } from "../../lib/summary-row.ts";
import type { SortDirection } from "../../lib/sort.ts";
import { valueText } from "../../lib/value-text.ts";
import type { ViewFilter } from "../../lib/summary-filter.ts";
import { api } from "../api.ts";
import type { AddonInfo, FlowSummary, LogEntry, OptionInfo, Update } from "../types.ts";
import { COLUMNS, type ColumnId } from "./columns.ts";

export type Page = "flows" | "addons" | "options" | "events";
export type Connection = "connecting" | "live" | "lost";

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

const EVENTS_KEPT = 2000;

export class Store {
  readonly flows = new FlowView<FlowSummary>();
  selected: string | null = null;
  page: Page = "flows";
  connection: Connection = "connecting";
  options: OptionInfo[] = [];
  addons: AddonInfo[] = [];
  events: LogEntry[] = [];
  notices: Notice[] = [];
  filterText = "";
  filterState: ViewFilter = this.flows.viewFilter;
  highlightText = "";
  highlightState: ViewFilter = this.flows.highlightFilter;
  interceptText = "";
  interceptError: string | null = null;
  sortColumn: ColumnId | null = null;
  sortDirection: SortDirection = "asc";
  /** Bumped on every change: components compare it to know they are stale. */
  version = 0;

  private readonly listeners = new Set<() => void>();
  private frame = 0;
  private noticeSeq = 0;
  /** Updates that came while a list loads (null: none loads), and how many loads are under way. */
  private held: Update[] | null = null;
  private loading = 0;
  /**
   * How long a flow list may take (50,000 flows are ~50 MB of JSON): updates are held while it
   * loads, so one that never comes would stop them until the next reconnect.
   */
  listTimeoutMs = 60_000;
  /** Counts the connections: a load started for an earlier one is ignored when it ends. */
  private connectionSeq = 0;
  private serverFilterTimer: ReturnType<typeof setTimeout> | undefined;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something changed: listeners run once in the next frame. */
  changed(): void {
    this.version++;
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const l of this.listeners) l();
    });
  }

  /**
   * The updates socket is (again) open: what an earlier connection held or still loads no longer
   * counts (its updates may never have been followed by the removals the server dropped when it
   * closed it); everything is fetched again.
   */
  async connected(): Promise<void> {
    this.connectionSeq++;
    this.held = null;
    this.loading = 0;
    await this.loadAll();
  }

  /** Fetches everything (the updates that come meanwhile wait for it: see whileLoading). */
  async loadAll(): Promise<void> {
    await this.whileLoading(
      () => Promise.all([api.flows(this.listTimeoutMs), api.options(), api.addons(), api.events()]),
      ([flows, options, addons, events]) => {
        this.flows.reset(flows);
        this.options = options;
        this.addons = addons;
        this.events = events.slice(-EVENTS_KEPT);
        this.interceptText = valueText(options.find((o) => o.name === "intercept")?.value);
      },
    );
  }

  /**
   * Fetches the flow list again after the server's `flows/reset`. When that fails the list shown
   * is emptied (the server cleared it; what came after the reset still applies) and the error thrown.
   */
  async reloadFlows(): Promise<void> {
    let failed: Error | undefined;
    await this.whileLoading(
      () =>
        api.flows(this.listTimeoutMs).catch((err: unknown) => {
          failed = err instanceof Error ? err : new Error(String(err));
          return [];
        }),
      (flows) => this.flows.reset(flows),
    );
    if (failed !== undefined) throw failed;
  }

  /**
   * Loads, holding the updates that come meanwhile and applying them after the result (`show`):
   * the server read its list at some moment between, so a held update may be in the list already
   * or not. Loads of one connection that overlap release the updates once the last one is done:
   * whichever list is shown, every update since the first load began is applied on top of it.
   */
  private async whileLoading<T>(load: () => Promise<T>, show: (result: T) => void): Promise<void> {
    const connection = this.connectionSeq;
    this.held ??= [];
    this.loading++;
    try {
      const result = await load();
      if (connection === this.connectionSeq) show(result);
    } finally {
      if (connection === this.connectionSeq && --this.loading === 0) this.releaseHeld();
    }
  }

  /**
   * The updates that came while the list loaded: removals and new flows apply; a change to a flow
   * the list already has applies unless it is an earlier state than the list's (sent before the
   * list was read); an event the list has already (by its number) is not added again.
   */
  private releaseHeld(): void {
    const held = this.held ?? [];
    this.held = null;
    const lastEvent = this.events.at(-1)?.seq ?? 0;
    const fresh = held.filter((u) => {
      if (u.type === "events/add") return u.data.seq > lastEvent;
      if (u.type !== "flows/add" && u.type !== "flows/update") return true;
      const known = this.flows.get(u.data.id)?.summary;
      return !known || !isEarlierState(u.data, known);
    });
    this.apply(fresh);
    if (this.selected !== null && !this.flows.get(this.selected)) this.selected = null;
    this.refreshServerFilters();
    this.changed();
  }

  apply(received: readonly Update[]): void {
    const updates = withSummaries(received);
    let flowsChanged = false;
    for (const u of updates) {
      // While a list loads (a reset below starts one), the rest waits for it.
      if (this.held) {
        this.held.push(u);
        continue;
      }
      switch (u.type) {
        case "flows/add":
        case "flows/update":
          this.flows.upsert(u.data);
          flowsChanged = true;
          break;
        case "flows/rows":
          // withSummaries made each row a flows/update.
          break;
        case "flows/removed":
          this.flows.removeMany(u.data.ids);
          if (this.selected !== null && !this.flows.get(this.selected)) this.selected = null;
          flowsChanged = true;
          break;
        case "flows/reset":
          void this.reloadFlows().catch((e: unknown) => this.notify("error", `reloading flows: ${String(e)}`));
          break;
        case "events/add":
          this.events.push(u.data);
          if (this.events.length > EVENTS_KEPT * 1.25) this.events = this.events.slice(-EVENTS_KEPT);
          break;
        case "options/update":
          this.mergeOptions(u.data);
          break;
        case "addons/update":
          this.addons = u.data;
          break;
        default:
          break;
      }
    }
    if (flowsChanged) this.scheduleServerFilters();
    this.changed();
  }

  private mergeOptions(changed: readonly OptionInfo[]): void {
    const byName = new Map(changed.map((o) => [o.name, o]));
    this.options = this.options.map((o) => byName.get(o.name) ?? o);
    for (const o of changed) if (!this.options.some((k) => k.name === o.name)) this.options.push(o);
    const intercept = byName.get("intercept");
    if (intercept) this.interceptText = valueText(intercept.value);
  }

  notify(kind: Notice["kind"], text: string): void {
    const notice = { id: ++this.noticeSeq, kind, text };
    this.notices = [...this.notices.slice(-4), notice];
    setTimeout(() => this.dismiss(notice.id), kind === "error" ? 8000 : 3000);
    this.changed();
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }

  setFilter(text: string): void {
    this.filterText = text;
    this.filterState = this.flows.setFilter(text);
    this.refreshServerFilters();
    this.changed();
  }

  setHighlight(text: string): void {
    this.highlightText = text;
    this.highlightState = this.flows.setHighlight(text);
    this.refreshServerFilters();
    this.changed();
  }

  sortBy(column: ColumnId): void {
    // A click sorts ascending, a second descending, a third goes back to arrival order.
    if (this.sortColumn !== column) {
      this.sortColumn = column;
      this.sortDirection = "asc";
    } else if (this.sortDirection === "asc") {
      this.sortDirection = "desc";
    } else {
      this.sortColumn = null;
    }
    const col = this.sortColumn ? COLUMNS.find((c) => c.id === this.sortColumn) : undefined;
    this.flows.setSort(col ? col.sortKey : null, this.sortDirection);
    this.changed();
  }

  select(id: string | null): void {
    if (this.selected === id) return;
    this.selected = id;
    this.changed();
  }

  /** Moves the selection by `delta` visible rows (j/k, arrows, page keys). */
  moveSelection(delta: number): void {
    const rows = this.flows.visible();
    if (rows.length === 0) return;
    const at = this.selected ? rows.findIndex((r) => r.summary.id === this.selected) : -1;
    let next: number;
    if (delta === Infinity) next = rows.length - 1;
    else if (delta === -Infinity) next = 0;
    else if (at === -1) next = delta > 0 ? 0 : rows.length - 1;
    else next = Math.max(0, Math.min(rows.length - 1, at + delta));
    this.select(rows[next]!.summary.id);
  }

  go(page: Page): void {
    this.page = page;
    this.changed();
  }

  /** Runs an action, telling the user when it fails (the server's one line). */
  async run(what: string, action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (err) {
      this.notify("error", `${what}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Filters the server evaluates (body operators) are asked again as flows come, at most once a second. */
  private scheduleServerFilters(): void {
    if (this.filterState.kind !== "server" && this.highlightState.kind !== "server") return;
    if (this.serverFilterTimer !== undefined) return;
    this.serverFilterTimer = setTimeout(() => {
      this.serverFilterTimer = undefined;
      this.refreshServerFilters();
    }, 1000);
  }

  private refreshServerFilters(): void {
    for (const which of ["filter", "highlight"] as const) {
      const state = which === "filter" ? this.filterState : this.highlightState;
      if (state.kind !== "server") continue;
      const expr = state.source;
      api
        .matchFilter(expr)
        .then(({ ids }) => {
          this.flows.setServerMatches(which, expr, ids);
          this.changed();
        })
        .catch((e: unknown) => this.notify("error", `filter: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}

/** The updates with each row of `flows/rows` made a `flows/update` of its summary (the same array when there are none). */
function withSummaries(updates: readonly Update[]): readonly Update[] {
  if (!updates.some((u) => u.type === "flows/rows")) return updates;
  const out: Update[] = [];
  for (const u of updates) {
    if (u.type !== "flows/rows") out.push(u);
    else for (const summary of summariesOfRows(u.data)) out.push({ type: "flows/update", data: summary });
  }
  return out;
}

export const store = new Store();
