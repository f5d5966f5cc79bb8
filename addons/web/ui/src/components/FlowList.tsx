import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { FlowRow } from "../../lib/flow-view.ts";
import { api } from "../api.ts";
import { fitColumns, type Column } from "../state/columns.ts";
import type { Store } from "../state/store.ts";
import { useStore } from "../state/use-store.ts";
import type { FlowSummary } from "../types.ts";
import { isTyping } from "./App.tsx";

/** Row height in pixels: fixed, so the list renders only the rows in view (50,000 rows stay smooth). */
export const ROW_HEIGHT = 22;
const OVERSCAN = 12;

/** The flow list: a header to sort by, and a virtualised body that follows new flows while scrolled to the end. */
export function FlowList() {
  const store = useStore();
  const rows = store.flows.visible();
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [width, setWidth] = useState(1200);
  const follow = useRef(true);
  const columns = fitColumns(width);
  const grid = columns.map((c) => (c.width === "auto" ? "minmax(0, 1fr)" : c.width)).join(" ");

  useLayoutEffect(() => {
    const el = scroller.current!;
    const measure = (): void => {
      setHeight(el.clientHeight);
      setWidth(el.clientWidth);
    };
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    measure();
    return () => observer.disconnect();
  }, []);

  // New flows keep the view at the end when it was there (and no sort reorders them); a list that
  // shrank under the view (a filter) brings the view back within it.
  useLayoutEffect(() => {
    const el = scroller.current!;
    if (follow.current && store.sortColumn === null) el.scrollTop = el.scrollHeight;
    const maxTop = Math.max(0, rows.length * ROW_HEIGHT - el.clientHeight);
    if (el.scrollTop > maxTop) el.scrollTop = maxTop;
    setScrollTop(el.scrollTop);
  }, [rows.length]);

  // The selection stays in view as the keys move it.
  useLayoutEffect(() => {
    if (!store.selected) return;
    const at = rows.findIndex((r) => r.summary.id === store.selected);
    if (at === -1) return;
    const el = scroller.current!;
    const top = at * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
  }, [store.selected]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (store.page !== "flows" || isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      // A dialog (an export) has the keys while it is open.
      if (document.querySelector(".modal-backdrop")) return;
      if (listKey(store, e.key, Math.max(1, Math.floor(height / ROW_HEIGHT) - 1))) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [height]);

  // The rows in view (clamped: the state may still hold a position from before the list shrank).
  const top = Math.min(scrollTop, Math.max(0, rows.length * ROW_HEIGHT - height));
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  const slice = rows.slice(first, last);
  return (
    <div class="flow-table" role="grid" aria-rowcount={rows.length}>
      <div class="flow-head" style={{ gridTemplateColumns: grid }} role="row">
        {columns.map((c) => (
          <HeaderCell key={c.id} column={c} store={store} />
        ))}
      </div>
      <div
        class="flow-scroller"
        ref={scroller}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          setScrollTop(el.scrollTop);
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT;
        }}
      >
        <div class="flow-spacer" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {slice.map((row, i) => (
            <Row
              key={row.summary.id}
              row={row}
              top={(first + i) * ROW_HEIGHT}
              store={store}
              columns={columns}
              grid={grid}
            />
          ))}
        </div>
        {rows.length === 0 ? <EmptyList store={store} /> : null}
      </div>
    </div>
  );
}

function HeaderCell({ column, store }: { column: Column; store: Store }) {
  const sorted = store.sortColumn === column.id;
  const arrow = sorted ? (store.sortDirection === "asc" ? " ▲" : " ▼") : "";
  return (
    <div
      class={`cell head col-${column.id} ${column.align ?? ""} ${sorted ? "sorted" : ""}`}
      role="columnheader"
      aria-sort={sorted ? (store.sortDirection === "asc" ? "ascending" : "descending") : "none"}
      onClick={() => store.sortBy(column.id)}
      title={column.id === "markers" ? "Markers: intercepted, error, marked, replayed" : `Sort by ${column.title}`}
      data-column={column.id}
    >
      {column.id === "markers" ? "⚑" : column.title}
      {arrow}
    </div>
  );
}

interface RowProps {
  row: FlowRow<FlowSummary>;
  top: number;
  store: Store;
  columns: readonly Column[];
  grid: string;
}

function Row({ row, top, store, columns, grid }: RowProps) {
  const s = row.summary;
  const classes = ["flow-row", statusClass(s)];
  if (store.selected === s.id) classes.push("selected");
  if (row.highlighted) classes.push("highlighted");
  if (s.intercepted) classes.push("intercepted");
  if (s.error !== null) classes.push("errored");
  if (s.marked) classes.push("marked");
  return (
    <div
      class={classes.join(" ")}
      style={{ transform: `translateY(${top}px)`, gridTemplateColumns: grid }}
      role="row"
      data-id={s.id}
      onMouseDown={() => store.select(s.id)}
    >
      {columns.map((c) =>
        c.id === "markers" ? (
          <Markers key={c.id} s={s} />
        ) : (
          <div
            key={c.id}
            class={`cell col-${c.id} ${c.align ?? ""}`}
            role="gridcell"
            title={c.id === "path" ? (s.url ?? "") : undefined}
          >
            {c.text(s)}
          </div>
        ),
      )}
    </div>
  );
}

function Markers({ s }: { s: FlowSummary }) {
  return (
    <div class="cell col-markers center" role="gridcell">
      {s.intercepted ? (
        <span class="m m-intercepted" title="intercepted: waiting for you">
          ‖
        </span>
      ) : null}
      {s.error !== null ? (
        <span class="m m-error" title={s.error}>
          ✖
        </span>
      ) : null}
      {s.marked ? (
        <span class="m m-marked" title={`marked ${s.marked}`}>
          ●
        </span>
      ) : null}
      {s.replayed ? (
        <span class="m m-replayed" title={`replayed (${s.replayed})`}>
          ↻
        </span>
      ) : null}
      {s.comment ? (
        <span class="m m-comment" title={s.comment}>
          ✎
        </span>
      ) : null}
    </div>
  );
}

function statusClass(s: FlowSummary): string {
  if (s.status === null) return s.live ? "pending" : "";
  return `s${Math.floor(s.status / 100)}xx`;
}

function EmptyList({ store }: { store: Store }) {
  if (store.flows.size > 0) return <div class="empty">No flow matches the filter.</div>;
  return (
    <div class="empty">
      <p>No flows yet.</p>
      <p class="muted">Send traffic through the proxy, e.g.</p>
      <code>curl -x http://127.0.0.1:8080 http://example.com/</code>
    </div>
  );
}

/** The list's keys; true when the key was one of them. */
function listKey(store: Store, key: string, page: number): boolean {
  const id = store.selected;
  switch (key) {
    case "j":
    case "ArrowDown":
      store.moveSelection(1);
      return true;
    case "k":
    case "ArrowUp":
      store.moveSelection(-1);
      return true;
    case "PageDown":
      store.moveSelection(page);
      return true;
    case "PageUp":
      store.moveSelection(-page);
      return true;
    case "Home":
    case "g":
      store.moveSelection(-Infinity);
      return true;
    case "End":
    case "G":
      store.moveSelection(Infinity);
      return true;
    case "Escape":
      store.select(null);
      return true;
  }
  if (!id) return false;
  switch (key) {
    case "r":
      void store.run("replay", () => api.action(id, "replay"));
      return true;
    case "m":
      void store.run("mark", () => api.action(id, "mark"));
      return true;
    case "a":
      void store.run("resume", () => api.action(id, "resume"));
      return true;
    case "x":
      void store.run("kill", () => api.action(id, "kill"));
      return true;
    case "d":
    case "Delete":
      store.moveSelection(1);
      if (store.selected === id) store.moveSelection(-1);
      if (store.selected === id) store.select(null);
      void store.run("delete", () => api.remove(id));
      return true;
    default:
      return false;
  }
}
