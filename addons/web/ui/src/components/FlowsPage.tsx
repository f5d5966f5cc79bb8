import { useRef, useState } from "preact/hooks";
import { useStore } from "../state/use-store.ts";
import { FlowDetail } from "./FlowDetail.tsx";
import { FlowList } from "./FlowList.tsx";
import { Toolbar } from "./Toolbar.tsx";

const DETAIL_MIN = 360;
const LIST_MIN = 320;

/** The flow list with its toolbar, and the selected flow's detail beside it (the divider between them drags). */
export function FlowsPage() {
  const store = useStore();
  const visible = store.flows.visible().length;
  const split = useRef<HTMLDivElement>(null);
  // The detail pane's width in pixels once dragged; until then the stylesheet's share.
  const [detailWidth, setDetailWidth] = useState<number | null>(null);
  const startDrag = (e: PointerEvent): void => {
    const el = split.current;
    if (!el) return;
    e.preventDefault();
    const handle = e.currentTarget as HTMLElement;
    handle.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent): void => {
      const box = el.getBoundingClientRect();
      const width = Math.round(box.right - ev.clientX);
      setDetailWidth(Math.max(DETAIL_MIN, Math.min(box.width - LIST_MIN, width)));
    };
    const stop = (): void => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", stop);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", stop);
  };
  const columns =
    store.selected && detailWidth !== null ? `minmax(${LIST_MIN}px, 1fr) 5px ${detailWidth}px` : undefined;
  return (
    <div class="flows-page">
      <Toolbar />
      <div
        ref={split}
        class={store.selected ? "split with-detail" : "split"}
        style={columns ? { gridTemplateColumns: columns } : {}}
      >
        <FlowList />
        {store.selected ? (
          <>
            <div
              class="divider"
              role="separator"
              aria-orientation="vertical"
              title="Drag to resize"
              onPointerDown={startDrag}
              onDblClick={() => setDetailWidth(null)}
            />
            <FlowDetail key={store.selected} id={store.selected} />
          </>
        ) : null}
      </div>
      <footer class="statusbar">
        <span data-testid="flow-count">
          {visible === store.flows.size ? `${store.flows.size} flows` : `${visible} of ${store.flows.size} flows`}
        </span>
        <span class="hint">
          <kbd>/</kbd> filter <kbd>j</kbd>
          <kbd>k</kbd> move <kbd>r</kbd> replay <kbd>m</kbd> mark <kbd>a</kbd> resume <kbd>d</kbd> delete <kbd>Esc</kbd>
          close <kbd>?</kbd> all keys
        </span>
      </footer>
    </div>
  );
}
