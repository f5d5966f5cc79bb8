import { useStore } from "../state/use-store.ts";

/** Messages to the user (an action refused, a file opened), bottom right, each dismissable. */
export function Notices() {
  const store = useStore();
  if (store.notices.length === 0) return null;
  return (
    <div class="notices" role="status">
      {store.notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} onClick={() => store.dismiss(n.id)}>
          {n.text}
        </div>
      ))}
    </div>
  );
}
