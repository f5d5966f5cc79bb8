import { useEffect, useState } from "preact/hooks";
import { store, type Store } from "./store.ts";

/** The store, re-rendering the calling component after each change (at most once a frame). */
export function useStore(): Store {
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(() => setVersion(store.version)), []);
  return store;
}
