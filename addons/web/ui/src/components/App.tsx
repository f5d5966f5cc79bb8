import { useEffect, useState } from "preact/hooks";
import { useStore } from "../state/use-store.ts";
import type { Page } from "../state/store.ts";
import { AddonsPage } from "./AddonsPage.tsx";
import { EventsPage } from "./EventsPage.tsx";
import { FlowsPage } from "./FlowsPage.tsx";
import { KeysHelp } from "./KeysHelp.tsx";
import { Notices } from "./Notices.tsx";
import { OptionsPage } from "./OptionsPage.tsx";

const PAGES: Array<[Page, string]> = [
  ["flows", "Flows"],
  ["addons", "Addons"],
  ["options", "Options"],
  ["events", "Events"],
];

/** Shell: the page tabs, the page, the status bar. Global keys: / focuses the filter, g f/a/o/e switch pages. */
export function App() {
  const store = useStore();
  const [help, setHelp] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (isTyping(e)) return;
      if (e.key === "?" && !document.querySelector(".modal-backdrop")) {
        e.preventDefault();
        setHelp(true);
        return;
      }
      if (e.key === "/" && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        store.go("flows");
        requestAnimationFrame(() => document.getElementById("filter-input")?.focus());
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const errors = store.addons.filter((a) => a.lastError !== null).length;
  return (
    <div class="app">
      <header class="topbar">
        <span class="brand">interloper</span>
        <nav class="pages">
          {PAGES.map(([id, title]) => (
            <button
              key={id}
              class={store.page === id ? "page-tab active" : "page-tab"}
              onClick={() => store.go(id)}
              data-page={id}
            >
              {title}
              {id === "addons" && errors > 0 ? <span class="badge error">{errors}</span> : null}
              {id === "flows" ? <span class="badge">{store.flows.size}</span> : null}
            </button>
          ))}
        </nav>
        <span class={`conn conn-${store.connection}`} title="live updates">
          {store.connection === "live" ? "● live" : store.connection === "lost" ? "● reconnecting" : "● connecting"}
        </span>
      </header>
      <main class="page">
        {store.page === "flows" ? <FlowsPage /> : null}
        {store.page === "addons" ? <AddonsPage /> : null}
        {store.page === "options" ? <OptionsPage /> : null}
        {store.page === "events" ? <EventsPage /> : null}
      </main>
      <Notices />
      {help ? <KeysHelp onClose={() => setHelp(false)} /> : null}
    </div>
  );
}

/** Whether a key press goes to a text field (then the list's keys leave it alone). */
export function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  return t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable;
}
