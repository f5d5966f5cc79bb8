import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { useStore } from "../state/use-store.ts";
import type { FlowDetail as Detail, FlowSummary } from "../types.ts";
import { Actions } from "./Actions.tsx";
import { ConnectionTab } from "./ConnectionTab.tsx";
import { EditForm } from "./EditForm.tsx";
import { MessageTab } from "./MessageTab.tsx";
import { MessagesTab } from "./MessagesTab.tsx";
import { TimingTab } from "./TimingTab.tsx";

type Tab = "request" | "response" | "connection" | "timing" | "messages" | "error";

/** The selected flow: actions, and tabs for its request, response, connection, timing, messages and error. */
export function FlowDetail({ id }: { id: string }) {
  const store = useStore();
  const summary = store.flows.get(id)?.summary;
  const [detail, setDetail] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>("request");
  const [editing, setEditing] = useState<"request" | "response" | null>(null);

  // The detail is fetched again whenever the flow's summary changes (a response came, it was edited or resumed).
  useEffect(() => {
    let current = true;
    api
      .flow(id)
      .then((d) => {
        if (current) {
          setDetail(d);
          setError(null);
        }
      })
      .catch((e: unknown) => current && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      current = false;
    };
  }, [id, summary]);

  if (!summary) return null;
  const tabs = tabsFor(summary, detail);
  const shown = tabs.includes(tab) ? tab : "request";
  return (
    <section class="detail" aria-label="flow detail">
      <header class="detail-head">
        <div class="detail-title" title={summary.url ?? ""}>
          {summary.intercepted ? <span class="pill intercepted">intercepted</span> : null}
          <span class="method">{summary.method ?? "TCP"}</span>{" "}
          <span class="url">{summary.url ?? `${summary.host}:${summary.port}`}</span>
        </div>
        <button class="icon" title="Close (Esc)" onClick={() => store.select(null)}>
          ✕
        </button>
      </header>
      <Actions summary={summary} onEdit={(side) => setEditing(side)} />
      {editing && detail ? (
        <EditForm side={editing} detail={detail} summary={summary} onDone={() => setEditing(null)} />
      ) : (
        <>
          <nav class="tabs" role="tablist">
            {tabs.map((t) => (
              <button
                key={t}
                role="tab"
                aria-selected={t === shown}
                class={t === shown ? "tab active" : "tab"}
                onClick={() => setTab(t)}
                data-tab={t}
              >
                {TAB_TITLES[t]}
              </button>
            ))}
          </nav>
          <div class="tab-body">
            {error ? <div class="error-box">{error}</div> : null}
            {!detail ? (
              <div class="muted pad">loading…</div>
            ) : (
              <TabBody tab={shown} detail={detail} summary={summary} />
            )}
          </div>
        </>
      )}
    </section>
  );
}

const TAB_TITLES: Record<Tab, string> = {
  request: "Request",
  response: "Response",
  connection: "Connection",
  timing: "Timing",
  messages: "Messages",
  error: "Error",
};

function tabsFor(s: FlowSummary, d: Detail | null): Tab[] {
  const tabs: Tab[] = [];
  if (s.type !== "tcp") tabs.push("request", "response");
  tabs.push("connection", "timing");
  if (s.type !== "http" || (d?.websocket ?? null) !== null) tabs.push("messages");
  if (s.error !== null) tabs.push("error");
  return tabs;
}

function TabBody({ tab, detail, summary }: { tab: Tab; detail: Detail; summary: FlowSummary }) {
  switch (tab) {
    case "request":
      return <MessageTab side="request" detail={detail} summary={summary} />;
    case "response":
      return <MessageTab side="response" detail={detail} summary={summary} />;
    case "connection":
      return <ConnectionTab detail={detail} />;
    case "timing":
      return <TimingTab detail={detail} />;
    case "messages":
      return <MessagesTab detail={detail} />;
    case "error":
      return (
        <div class="pad">
          <div class="error-box" data-testid="flow-error">
            {detail.error?.msg ?? summary.error}
          </div>
        </div>
      );
  }
}
