/** The web UI's entry: styles, the app, the first load and the live updates. */
import { render } from "preact";
import "./styles.css";
import { App } from "./components/App.tsx";
import { store } from "./state/store.ts";
import { connectUpdates } from "./state/updates.ts";

render(<App />, document.getElementById("app")!);
store.loadAll().catch((e: unknown) => store.notify("error", `loading: ${e instanceof Error ? e.message : String(e)}`));
connectUpdates(store);
