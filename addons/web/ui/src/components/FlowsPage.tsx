import { useStore } from "../state/use-store.ts";
import { FlowDetail } from "./FlowDetail.tsx";
import { FlowList } from "./FlowList.tsx";
import { Toolbar } from "./Toolbar.tsx";

/** The flow list with its toolbar, and the selected flow's detail beside it. */
export function FlowsPage() {
  const store = useStore();
  const visible = store.flows.visible().length;
  return (
    <div class="flows-page">
      <Toolbar />
      <div class={store.selected ? "split with-detail" : "split"}>
        <FlowList />
        {store.selected ? <FlowDetail key={store.selected} id={store.selected} /> : null}
      </div>
      <footer class="statusbar">
        <span data-testid="flow-count">
          {visible === store.flows.size ? `${store.flows.size} flows` : `${visible} of ${store.flows.size} flows`}
        </span>
        <span class="hint">
          <kbd>/</kbd> filter <kbd>j</kbd>
          <kbd>k</kbd> move <kbd>r</kbd> replay <kbd>m</kbd> mark <kbd>a</kbd> resume <kbd>d</kbd> delete <kbd>Esc</kbd>
          close
        </span>
      </footer>
    </div>
  );
}
