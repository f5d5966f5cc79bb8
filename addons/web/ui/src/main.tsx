/** The web UI's entry: styles, the app, and the live updates (which load everything once connected). */
import { render } from "preact";
import "./styles.css";
import { App } from "./components/App.tsx";
import { store } from "./state/store.ts";
import { connectUpdates } from "./state/updates.ts";

render(<App />, document.getElementById("app")!);
connectUpdates(store);
