import { formatSize, formatTime } from "../../lib/format.ts";
import { hexDump } from "../../lib/views/hex.ts";
import type { FlowDetail, WireMessage } from "../types.ts";

/** WebSocket or TCP messages, client's on the left, server's on the right, binary ones as hex. */
export function MessagesTab({ detail }: { detail: FlowDetail }) {
  const ws = detail.websocket;
  const messages = ws?.messages ?? detail.tcpMessages ?? [];
  return (
    <div class="pad messages" data-testid="messages">
      {ws && ws.closeCode !== null ? (
        <div class="muted">
          closed by the {ws.closedByClient ? "client" : "server"}: {ws.closeCode} {ws.closeReason}
        </div>
      ) : null}
      {messages.length === 0 ? <div class="muted">No messages.</div> : null}
      {messages.map((m, i) => (
        <Message key={i} m={m} />
      ))}
    </div>
  );
}

function Message({ m }: { m: WireMessage }) {
  const body = m.text ?? (m.base64 !== undefined ? hexDump(fromBase64(m.base64), 64).join("\n") : "");
  return (
    <div class={`msg ${m.fromClient ? "from-client" : "from-server"} ${m.dropped ? "dropped" : ""}`}>
      <div class="msg-head">
        {m.fromClient ? "→ client" : "← server"} · {formatTime(m.timestamp)} · {m.type} · {formatSize(m.size)}
        {m.injected ? " · injected" : ""}
        {m.dropped ? " · dropped" : ""}
        {m.truncated ? " · cut" : ""}
      </div>
      <pre class="code">{body}</pre>
    </div>
  );
}

function fromBase64(b64: string): Uint8Array {
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}
