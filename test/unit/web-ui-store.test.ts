// The web UI's browser-side store (addons/web/ui/src/state/store.ts) fed the messages the real
// server sends: a FlowStore and the UpdateHub write them to a WebSocket on loopback, and the test
// hands each parsed message to Store.apply as the page's socket handler does. After each step the
// store's flow list must be the server's own list (GET /api/flows: summarize() of every kept flow,
// in the store's order): rows, adds, updates in place, removals (with unknown ids and a flow brought
// back), a reset, and the updates held while the first list loads. Events, options and addons
// updates land too; updates of unknown types are skipped.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
import type { HTTPFlow } from "@interloper/sdk";
import { testFlow, testResponse, testTcpFlow } from "@interloper/sdk/testing";
import type { AddonInfo, FlowSummary, LogEntry, OptionInfo, Update } from "../../addons/web/api-types.ts";
import { UpdateHub } from "../../addons/web/server/updates.ts";
import { FlowStore } from "../../addons/web/store/flow-store.ts";
import type { FlowView } from "../../addons/web/ui/lib/flow-view.ts";
import { waitFor, within } from "../helpers/harness.ts";

/** The members of the UI's Store this test uses. */
interface UiStore {
  readonly flows: FlowView<FlowSummary>;
  selected: string | null;
  options: OptionInfo[];
  addons: AddonInfo[];
  events: LogEntry[];
  interceptText: string;
  apply(received: readonly Update[]): void;
  loadAll(): Promise<void>;
  connected(): Promise<void>;
  listTimeoutMs: number;
  notices: { kind: string; text: string }[];
  select(id: string | null): void;
}

// store.ts is browser code (requestAnimationFrame, the DOM's BodyInit in api.ts). The root type
// check has no DOM types, so a static import would pull it into `tsc -p .` and fail there: it is
// loaded by a path tsc does not follow, and typed by the interface above.
const STORE_MODULE = "../../addons/web/ui/src/state/store.ts";
const { Store } = (await import(STORE_MODULE)) as { Store: new () => UiStore };

/** What the fetch stand-in answers for the REST calls loadAll and a reset make. */
interface Backend {
  flows: () => FlowSummary[] | Promise<FlowSummary[]>;
  options: OptionInfo[];
  addons: AddonInfo[];
  events: LogEntry[];
  flowFetches: number;
}

let backend: Backend = { flows: () => [], options: [], addons: [], events: [], flowFetches: 0 };

// The page's globals, as the store uses them: fetch goes to the current test's backend; a frame
// comes at the next turn (nothing here renders, but changed() must not throw).
Object.assign(globalThis, {
  requestAnimationFrame: (cb: (time: number) => void): number => {
    setImmediate(() => cb(performance.now()));
    return 1;
  },
  fetch: async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const path = String(input);
    let body: unknown;
    if (path === "/api/flows") {
      backend.flowFetches++;
      // As a browser's fetch: given up when its signal aborts.
      const signal = init?.signal;
      body = await new Promise((resolve, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason as Error));
        Promise.resolve(backend.flows()).then(resolve, reject);
      });
    } else if (path === "/api/options") body = backend.options;
    else if (path === "/api/addons") body = backend.addons;
    else if (path === "/api/events") body = backend.events;
    else return new Response(JSON.stringify({ error: `no route ${path}` }), { status: 404 });
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  },
});

const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface Server {
  store: FlowStore;
  hub: UpdateHub;
  described: { options: OptionInfo[]; addons: AddonInfo[] };
  /** Runs `change`, then sends what it gathered as one message (as the hub's timer would): the message as the page parses it. */
  send(change: () => void): Promise<Update[]>;
  /** GET /api/flows: the summary of every kept flow, in the store's order, through JSON. */
  list(): FlowSummary[];
}

/** A FlowStore and UpdateHub with one WebSocket client; `before` adds flows the client was never told of (only the list has them). */
async function withServer(before: (store: FlowStore) => void, body: (server: Server) => Promise<void>): Promise<void> {
  const store = new FlowStore({ maxFlows: 1000 }, undefined);
  before(store);
  const described = { options: [] as OptionInfo[], addons: [] as AddonInfo[] };
  const hub = await UpdateHub.create(store, {
    options: (names) => described.options.filter((o) => names.has(o.name)),
    addons: () => described.addons,
  });
  const httpServer = http.createServer();
  httpServer.on("upgrade", (req, socket, head) => hub.accept(req, socket, head));
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  const ws = new WebSocket(`ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/api/updates`);
  try {
    await within(new Promise((r, reject) => ws.once("open", r).once("error", reject)), "the socket");
    await waitFor(() => hub.clientCount === 1, "the hub to take the client");
    const list = (): FlowSummary[] => wire([...store.values()].map((rec) => store.summary(rec)));
    backend = { flows: list, options: [], addons: [], events: [], flowFetches: 0 };
    await body({
      store,
      hub,
      described,
      list,
      send: (change) => {
        const got = new Promise<Update[]>((resolve) =>
          ws.once("message", (data: Buffer) => resolve(JSON.parse(data.toString()) as Update[])),
        );
        // Change and flush in one turn: the hub's own timer cannot split them into two messages.
        change();
        hub.flush();
        return within(got, "the update message");
      },
    });
  } finally {
    ws.terminate();
    hub.close();
    store.close();
    await new Promise<void>((r) => httpServer.close(() => r()));
  }
}

function finished(store: FlowStore, url: string, status = 200): HTTPFlow {
  const flow = testFlow({
    url,
    response: { status, body: `body of ${url}`, headers: { "Content-Type": "text/plain" } },
  });
  flow.live = false;
  store.observe(flow, true);
  return flow;
}

function started(store: FlowStore, url: string): HTTPFlow {
  const flow = testFlow({ url, method: "POST", body: "x=1" });
  store.observe(flow, false);
  return flow;
}

/** A live flow's response arrives and the flow ends: its next update is a row. */
function finish(store: FlowStore, flow: HTTPFlow, status = 200): void {
  flow.response ??= testResponse({ status, body: "done" });
  flow.live = false;
  store.observe(flow, true);
}

const summaries = (ui: UiStore): FlowSummary[] => ui.flows.all().map((r) => r.summary);
const ids = (ui: UiStore): string[] => ui.flows.all().map((r) => r.summary.id);
const types = (message: Update[]): string[] => message.map((u) => u.type);

/** A Store that has loaded the server's current list. */
async function loaded(): Promise<UiStore> {
  const ui = new Store();
  await ui.loadAll();
  return ui;
}

/** A promise the test settles itself: the list request answered when the test says. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Log entries as the server numbers them: in the order they were made. */
let lastSeq = 0;
const entry = (message: string): LogEntry => ({ level: "info", message, timestamp: 1_700_000_000, seq: ++lastSeq });

test("flows/rows and flows/add: the store holds exactly the summaries summarize() gives, in arrival order", async () => {
  await withServer(
    () => {},
    async (server) => {
      const ui = await loaded();
      const message = await server.send(() => {
        finished(server.store, "http://a.test/one");
        finished(server.store, "https://b.test:8443/two?q=1", 404);
        started(server.store, "http://c.test/live");
        finished(server.store, "http://d.test/three", 500);
        server.store.observe(testTcpFlow({ host: "db.test", port: 5432 }), false);
      });
      // The message has both forms, so both are what is checked: rows for finished HTTP flows, summaries for the rest.
      assert.equal(types(message), ["flows/rows", "flows/add", "flows/rows", "flows/add"]);
      ui.apply(message);
      assert.is(ui.flows.size, 5);
      assert.equal(summaries(ui), server.list());
      const [, two, live, , tcp] = summaries(ui);
      assert.is(two!.status, 404);
      assert.is(two!.url, "https://b.test:8443/two?q=1");
      assert.is(live!.live, true);
      assert.is(tcp!.type, "tcp");
    },
  );
});

test("flows/update replaces a known flow's summary in its place; an update for an id the store lacks adds it at the end", async () => {
  await withServer(
    () => {},
    async (server) => {
      const ui = await loaded();
      let a!: HTTPFlow, b!: HTTPFlow, c!: HTTPFlow;
      ui.apply(
        await server.send(() => {
          a = started(server.store, "http://h.test/a");
          b = started(server.store, "http://h.test/b");
          c = started(server.store, "http://h.test/c");
        }),
      );
      const order = [a.id, b.id, c.id];
      assert.equal(ids(ui), order);

      // The first flow ends (a row) and the second is marked while live (a summary): both changes, no move.
      const changes = await server.send(() => {
        finish(server.store, a, 201);
        b.marked = ":star:";
        server.store.touch(b.id);
      });
      assert.equal(types(changes), ["flows/rows", "flows/update"]);
      ui.apply(changes);
      assert.equal(ids(ui), order, "changed flows keep their places");
      assert.equal(summaries(ui), server.list());
      assert.is(ui.flows.get(a.id)!.summary.status, 201);
      assert.is(ui.flows.get(a.id)!.summary.live, false);
      assert.is(ui.flows.get(b.id)!.summary.marked, ":star:");

      // A page that has not got the list yet sees updates of flows it never had: each becomes a flow.
      const fresh = new Store();
      fresh.apply(changes);
      assert.equal(ids(fresh), [a.id, b.id]);
      assert.equal(summaries(fresh), [server.list()[0], server.list()[1]]);
    },
  );
});

test("flows/removed drops exactly the listed flows: several at once, ids it never had, one brought back in the same message", async () => {
  await withServer(
    () => {},
    async (server) => {
      const ui = await loaded();
      const flows: HTTPFlow[] = [];
      ui.apply(
        await server.send(() =>
          flows.push(...["a", "b", "c", "d", "e"].map((n) => finished(server.store, `http://h.test/${n}`))),
        ),
      );
      const [a, b, c, d, e] = flows.map((f) => f.id) as [string, string, string, string, string];
      ui.select(b);

      const message = await server.send(() => {
        server.store.remove(a);
        server.store.remove(c);
        // The same id again (a flow file opened twice): a new flow, told after the removal.
        const again = testFlow({ url: "http://h.test/c-again", response: { status: 202 } });
        again.id = c;
        again.live = false;
        server.store.observe(again, true);
      });
      assert.equal(types(message), ["flows/removed", "flows/rows"]);
      ui.apply(message);
      assert.equal(ids(ui), [b, d, e, c], "the flow brought back is new: at the end");
      assert.equal(summaries(ui), server.list());
      assert.is(ui.flows.get(c)!.summary.path, "/c-again");
      assert.is(ui.selected, b, "the selection survives others' removal");

      // Ids the store does not have (never seen, already removed, empty) are passed over.
      ui.apply([{ type: "flows/removed", data: { ids: ["no-such-flow", a, ""] } }]);
      ui.apply([{ type: "flows/removed", data: { ids: [] } }]);
      assert.equal(summaries(ui), server.list());

      ui.select(d);
      ui.apply(await server.send(() => [b, d].forEach((id) => server.store.remove(id))));
      assert.equal(ids(ui), [e, c]);
      assert.equal(summaries(ui), server.list());
      assert.is(ui.selected, null, "a removed flow is no longer selected");
    },
  );
});

test("flows/reset: the list is fetched again and replaces the store's, with the flows the same message added", async () => {
  await withServer(
    () => {},
    async (server) => {
      const ui = await loaded();
      let kept!: HTTPFlow, gone!: HTTPFlow;
      ui.apply(
        await server.send(() => {
          gone = finished(server.store, "http://h.test/gone");
          kept = started(server.store, "http://h.test/kept");
        }),
      );
      ui.select(gone.id);
      const fetchesBefore = backend.flowFetches;
      let added!: HTTPFlow;
      const message = await server.send(() => {
        server.store.clear((rec) => rec.id === kept.id);
        added = finished(server.store, "http://h.test/after-clear");
      });
      assert.equal(types(message), ["flows/reset", "flows/rows"]);
      ui.apply(message);
      const want = [kept.id, added.id];
      await waitFor(() => JSON.stringify(ids(ui)) === JSON.stringify(want), "the list fetched again", 5000);
      assert.is(backend.flowFetches, fetchesBefore + 1, "one fetch");
      assert.equal(summaries(ui), server.list());
      assert.is(ui.selected, null, "the selected flow was cleared away");
    },
  );
});

test("updates that come while the first list loads are held, then applied after it in order: none lost, none twice", async () => {
  let a!: HTTPFlow, b!: HTTPFlow, c!: HTTPFlow;
  await withServer(
    (store) => {
      // Flows from before the page connected: only the list tells of them.
      a = finished(store, "http://h.test/a");
      b = finished(store, "http://h.test/b");
      c = started(store, "http://h.test/c");
    },
    async (server) => {
      const answer = deferred<FlowSummary[]>();
      backend.flows = () => answer.promise;
      const ui = new Store();
      const loading = ui.loadAll();

      // Sent before the server read the list (the list has these changes too).
      let d!: HTTPFlow;
      const early = await server.send(() => {
        server.store.remove(a.id);
        d = started(server.store, "http://h.test/d");
        c.response = testResponse({ status: 200 });
        server.store.observe(c, false);
        server.hub.event(entry("early"));
      });
      ui.apply(early);
      assert.is(ui.flows.size, 0, "nothing applied before the list");
      assert.equal(ui.events, []);

      const read = server.list();
      assert.equal(
        read.map((s) => s.id),
        [b.id, c.id, d.id],
      );

      // Sent after the list was read, before its answer came: these are news to the list.
      let e!: HTTPFlow;
      const late = await server.send(() => {
        finish(server.store, d, 203);
        server.store.remove(b.id);
        e = finished(server.store, "http://h.test/e");
        finish(server.store, c);
        server.hub.event(entry("late"));
      });
      ui.apply(late);
      assert.is(ui.flows.size, 0);

      answer.resolve(read);
      await loading;
      assert.equal(ids(ui), [c.id, d.id, e.id]);
      assert.equal(summaries(ui), server.list());
      assert.is(ui.flows.get(d.id)!.summary.status, 203, "the held row of d is newer than the list's d");
      assert.equal(
        ui.events.map((x) => x.message),
        ["early", "late"],
        "each held event once, in order",
      );

      // Held no more: the next message applies at once.
      ui.apply(await server.send(() => finished(server.store, "http://h.test/f")));
      assert.equal(summaries(ui), server.list());
      assert.is(ui.flows.size, 4);
    },
  );
});

test("a held update older than the loaded list does not take its flow back", async () => {
  await withServer(
    () => {},
    async (server) => {
      const answer = deferred<FlowSummary[]>();
      backend.flows = () => answer.promise;
      const ui = new Store();
      const loading = ui.loadAll();
      let flow!: HTTPFlow;
      // The add is sent while the flow is live and held. The flow ends and the server reads the list;
      // the row telling of the end reaches the page only after the list's answer.
      ui.apply(await server.send(() => (flow = started(server.store, "http://h.test/slow"))));
      const endRow = await server.send(() => finish(server.store, flow, 299));
      answer.resolve(server.list());
      await loading;
      const shown = ui.flows.get(flow.id)!.summary;
      assert.is(shown.live, false, "still the list's finished flow");
      assert.is(shown.status, 299);
      assert.equal(summaries(ui), server.list());

      // The later news then applies as usual.
      ui.apply(endRow);
      ui.apply(
        await server.send(() => {
          // As the comment action does it: on the flow the store keeps (the proxy's object was packed away).
          server.store.own(server.store.get(flow.id)!).comment = "seen";
          server.store.touch(flow.id);
        }),
      );
      assert.is(ui.flows.get(flow.id)!.summary.comment, "seen");
      assert.equal(summaries(ui), server.list());
    },
  );
});

test("events/add, options/update and addons/update: events appended (the oldest let go past the bound), options merged by name, addons replaced", async () => {
  await withServer(
    () => {},
    async (server) => {
      const option = (name: string, value: unknown): OptionInfo => ({
        name,
        type: "optional-string",
        default: null,
        value,
        help: "",
        choices: null,
        owner: null,
        secret: false,
      });
      const addon = (name: string): AddonInfo => ({
        name,
        parent: null,
        kind: "script",
        source: `/tmp/${name}.ts`,
        hooks: ["request"],
        options: [],
        loadedAt: 0,
        reloadable: true,
        lastError: null,
        log: [],
      });
      backend.options = [option("anticache", false), option("intercept", null), option("view_filter", null)];
      backend.addons = [addon("old")];
      backend.events = [entry("from the list")];
      const ui = await loaded();
      assert.is(ui.interceptText, "");

      server.described.options = [option("intercept", "~d example.com"), option("from_an_addon", "x")];
      server.described.addons = [addon("new"), addon("other")];
      const message = await server.send(() => {
        server.hub.event(entry("one"));
        server.hub.event(entry("two"));
        server.hub.optionsChanged(new Set(["intercept", "from_an_addon"]));
        server.hub.addons();
      });
      assert.equal(types(message), ["events/add", "events/add", "options/update", "addons/update"]);
      ui.apply(message);
      assert.equal(
        ui.events.map((x) => x.message),
        ["from the list", "one", "two"],
      );
      assert.equal(
        ui.options.map((o) => [o.name, o.value]),
        [
          ["anticache", false],
          ["intercept", "~d example.com"],
          ["view_filter", null],
          ["from_an_addon", "x"],
        ],
      );
      assert.is(ui.interceptText, "~d example.com");
      assert.equal(
        ui.addons.map((x) => x.name),
        ["new", "other"],
      );

      // The log keeps the newest 2,000 once it passes 2,500 (a trim per event would cost a copy each).
      const many = Array.from({ length: 2497 }, (_, i) => ({ type: "events/add" as const, data: entry(`e${i}`) }));
      ui.apply(many);
      assert.is(ui.events.length, 2500);
      ui.apply([{ type: "events/add", data: entry("last") }]);
      assert.is(ui.events.length, 2000);
      // 2,501 entries: the 3 before, e0 to e2496, "last"; the first 501 go.
      assert.is(ui.events[0]!.message, "e498");
      assert.is(ui.events[1999]!.message, "last");
    },
  );
});

test("flows/reset: what comes while the list is fetched again waits for it: a flow added then is kept, one removed then stays gone", async () => {
  await withServer(
    (store) => void finished(store, "http://h.test/old"),
    async (server) => {
      const ui = await loaded();
      const answer = deferred<FlowSummary[]>();
      backend.flows = () => answer.promise;
      let x!: HTTPFlow;
      const cleared = await server.send(() => {
        server.store.clear();
        x = finished(server.store, "http://h.test/x");
      });
      assert.equal(types(cleared), ["flows/reset", "flows/rows"]);
      ui.apply(cleared);
      // The server reads its list now; what follows is news to it, and reaches the page before the list.
      const read = server.list();
      let y!: HTTPFlow;
      ui.apply(
        await server.send(() => {
          y = finished(server.store, "http://h.test/y");
          server.store.remove(x.id);
        }),
      );
      answer.resolve(read);
      await waitFor(() => ui.flows.get(y.id) !== undefined, "the list fetched again and the held news applied", 5000);
      assert.equal(ids(ui), [y.id]);
      assert.equal(summaries(ui), server.list());
    },
  );
});

test("an event both in the loaded list and in an update held during the load is shown once", async () => {
  await withServer(
    () => {},
    async (server) => {
      const both = entry("in the list and in an update");
      const after = entry("logged after the list was read");
      backend.events = [entry("older"), both];
      const answer = deferred<FlowSummary[]>();
      backend.flows = () => answer.promise;
      const ui = new Store();
      const loading = ui.loadAll();
      ui.apply(
        await server.send(() => {
          server.hub.event(both);
          server.hub.event(after);
        }),
      );
      answer.resolve(server.list());
      await loading;
      assert.equal(
        ui.events.map((e) => e.message),
        ["older", "in the list and in an update", "logged after the list was read"],
      );
    },
  );
});

test("loading everything again drops a selection the new list does not have", async () => {
  await withServer(
    (store) => void finished(store, "http://h.test/a"),
    async (server) => {
      const ui = await loaded();
      const [only] = ids(ui);
      ui.select(only!);
      assert.is(ui.selected, only);
      await ui.loadAll();
      assert.is(ui.selected, only, "still there: kept");
      server.store.clear();
      server.store.takeChanges();
      await ui.loadAll();
      assert.is(ui.selected, null);
    },
  );
});

test("two loads at once (a reconnect during a load): updates wait until the last is done, none lost", async () => {
  await withServer(
    () => {},
    async (server) => {
      const answers = [deferred<FlowSummary[]>(), deferred<FlowSummary[]>()];
      let fetches = 0;
      backend.flows = () => answers[fetches++]!.promise;
      const ui = new Store();
      const first = ui.loadAll();
      const second = ui.loadAll();
      await waitFor(() => fetches === 2, "both lists asked for");
      const firstList = server.list();
      const secondList = server.list();
      let a!: HTTPFlow, b!: HTTPFlow;
      ui.apply(await server.send(() => (a = finished(server.store, "http://h.test/a"))));
      answers[0]!.resolve(firstList);
      await first;
      // The second load still runs: this news must wait for its list too.
      ui.apply(await server.send(() => (b = finished(server.store, "http://h.test/b"))));
      answers[1]!.resolve(secondList);
      await second;
      assert.equal(ids(ui), [a.id, b.id]);
      assert.equal(summaries(ui), server.list());
    },
  );
});

test("a new connection: what the earlier one held is dropped, its load is ignored when it ends, and updates flow again", async () => {
  await withServer(
    () => {},
    async (server) => {
      const answers = [deferred<FlowSummary[]>(), deferred<FlowSummary[]>(), deferred<FlowSummary[]>()];
      let fetches = 0;
      backend.flows = () => answers[fetches++]!.promise;
      const ui = new Store();
      const first = ui.connected();
      // Held by the first connection; its removal was among what the server dropped when it closed it.
      let x!: HTTPFlow;
      ui.apply(await server.send(() => (x = finished(server.store, "http://h.test/x"))));
      const withX = server.list();
      server.store.remove(x.id);
      server.store.takeChanges();

      const second = ui.connected();
      answers[1]!.resolve(server.list());
      await second;
      assert.equal(ids(ui), [], "the first connection's held add is gone with it");
      // The first connection's load ends late, with a list that still had x: it is not shown.
      answers[0]!.resolve(withX);
      await first;
      assert.equal(ids(ui), []);
      let y!: HTTPFlow;
      ui.apply(await server.send(() => (y = finished(server.store, "http://h.test/y"))));
      assert.equal(ids(ui), [y.id], "not held: the second connection's load is done");

      // A third connection whose load never ends holds updates only until a fourth one's load is done.
      answers.push(deferred<FlowSummary[]>());
      void ui.connected();
      const fourth = ui.connected();
      await waitFor(() => fetches === 4, "both loads asked");
      answers[3]!.resolve(server.list());
      await fourth;
      let z!: HTTPFlow;
      ui.apply(await server.send(() => (z = finished(server.store, "http://h.test/z"))));
      assert.equal(ids(ui), [y.id, z.id]);
    },
  );
});

test("two loads of one connection ending in the other order still show the server's list", async () => {
  await withServer(
    (store) => void finished(store, "http://h.test/a"),
    async (server) => {
      const ui = await loaded();
      const answers = [deferred<FlowSummary[]>(), deferred<FlowSummary[]>()];
      let fetches = 0;
      backend.flows = () => answers[fetches++]!.promise;
      // Two loads of one connection (loadAll called again): the later one's answer comes first.
      const older = ui.loadAll();
      const olderList = server.list();
      let b!: HTTPFlow;
      ui.apply(await server.send(() => (b = finished(server.store, "http://h.test/b"))));
      const newer = ui.loadAll();
      answers[1]!.resolve(server.list());
      answers[0]!.resolve(olderList);
      await Promise.all([older, newer]);
      assert.is(fetches, 2);
      assert.equal(summaries(ui), server.list());
      assert.ok(ui.flows.get(b.id), "b, which only the newer list has, is shown");
    },
  );
});

test("a failed reload after flows/reset empties the list, applies what came after, and says so", async () => {
  await withServer(
    (store) => void finished(store, "http://h.test/old"),
    async (server) => {
      const ui = await loaded();
      assert.is(ui.flows.size, 1);
      backend.flows = () => Promise.reject(new Error("network down"));
      let c!: HTTPFlow;
      ui.apply(
        await server.send(() => {
          server.store.clear();
          c = finished(server.store, "http://h.test/c");
        }),
      );
      await waitFor(() => ui.notices.some((n) => n.kind === "error"), "the error told");
      assert.equal(ids(ui), [c.id]);
      assert.match(ui.notices.at(-1)!.text, /reloading flows/);
    },
  );
});

test("a flow list that never comes is given up after listTimeoutMs: the load fails and updates apply again", async () => {
  await withServer(
    () => {},
    async (server) => {
      backend.flows = () => new Promise<FlowSummary[]>(() => {});
      const ui = new Store();
      ui.listTimeoutMs = 200;
      const load = ui.connected().then(
        () => "loaded",
        (err: unknown) => String(err),
      );
      let a!: HTTPFlow;
      ui.apply(await server.send(() => (a = finished(server.store, "http://h.test/a"))));
      assert.is(ui.flows.size, 0, "held while the list loads");
      assert.match(await within(load, "the load to give up"), /timeout|abort/i);
      assert.equal(ids(ui), [a.id], "the held update applied");
      let b!: HTTPFlow;
      ui.apply(await server.send(() => (b = finished(server.store, "http://h.test/b"))));
      assert.equal(ids(ui), [a.id, b.id], "and the next one at once");
    },
  );
});

test("hostile input: an empty message and update types this page does not know change nothing and do not stop the rest", async () => {
  await withServer(
    () => {},
    async (server) => {
      const ui = await loaded();
      ui.apply(await server.send(() => finished(server.store, "http://h.test/a")));
      const before = summaries(ui);
      ui.apply([]);
      assert.equal(summaries(ui), before);

      // A newer server's update types, with data of any shape, are skipped; what follows still applies.
      const unknown = [
        { type: "flows/moved", data: { ids: [before[0]!.id] } },
        { type: "flows/removeAll", data: null },
        { type: "", data: {} },
        { type: "flows/add " },
      ] as unknown as Update[];
      const next = await server.send(() => finished(server.store, "http://h.test/b"));
      ui.apply([...unknown, ...next]);
      assert.equal(summaries(ui), server.list());
      assert.is(ui.flows.size, 2);

      // Held while the list loads, they are skipped after it as well.
      const answer = deferred<FlowSummary[]>();
      backend.flows = () => answer.promise;
      const again = new Store();
      const loading = again.loadAll();
      again.apply(unknown);
      again.apply([]);
      answer.resolve(server.list());
      await loading;
      assert.equal(summaries(again), server.list());
    },
  );
});

test.run();
