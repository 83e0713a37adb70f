// Talking to stream-ops: commands (HTTP), the event socket, the thumbnail socket.
import { t } from "./i18n.js";
import { toast } from "./ui.js";

const wsUrl = (path) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
const backoff = (attempt) => Math.min(5000, 400 * 2 ** attempt) * (0.8 + Math.random() * 0.4);

// POST a command. Returns the JSON answer, or null after showing why it was refused.
export async function command(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    toast(t("network_error"));
    return null;
  }
  if (response.status === 401) { location.assign("/login"); return null; }
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    toast((data && data.error) || `HTTP ${response.status}`);
    return null;
  }
  return data;
}

export async function getJSON(path) {
  try {
    const response = await fetch(path, { credentials: "same-origin" });
    if (response.status === 401) { location.assign("/login"); return null; }
    const data = await response.json();
    if (!response.ok) { toast(data.error || `HTTP ${response.status}`); return null; }
    return data;
  } catch {
    toast(t("network_error"));
    return null;
  }
}

// The event socket: `state` first, then events. Reconnects forever with backoff;
// a silent socket (no levels for 3 s, when 10 a second are due) counts as dropped.
export function connectEvents({ onMessage, onStatus }) {
  let attempt = 0;
  let ws = null;
  let watchdog = null;

  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => ws && ws.close(), 3000);
  };

  const open = () => {
    ws = new WebSocket(wsUrl("/ws"));
    let synced = false;
    arm();
    ws.onmessage = (m) => {
      arm();
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      if (event.type === "state") {
        synced = true;
        attempt = 0;
        onStatus("open", 0);
      }
      if (synced) onMessage(event);
    };
    ws.onclose = async () => {
      clearTimeout(watchdog);
      ws = null;
      onStatus("closed", attempt + 1);
      if (!synced && attempt > 0) {
        // Refused rather than down? The token gate answers 401 on the API too.
        try {
          const r = await fetch("/api/state", { credentials: "same-origin" });
          if (r.status === 401) { location.assign("/login"); return; }
        } catch { /* server down: keep trying */ }
      }
      setTimeout(open, backoff(attempt++));
    };
  };
  open();
}

// The thumbnail socket: asks for the targets on the page (none while the tab is
// hidden, so the engine makes nothing), draws each JPEG, acknowledges it.
export function connectThumbs() {
  const decoder = new TextDecoder();
  const urls = new Map();
  const lastFrame = {};   // target -> performance.now() of the last picture drawn
  let ws = null;
  let attempt = 0;

  const targets = () => document.hidden ? []
    : [...new Set([...document.querySelectorAll("img[data-thumb]")].map((img) => img.dataset.thumb))];
  const watch = () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ watch: targets() }));
  };

  const draw = (target, jpeg) => {
    const imgs = document.querySelectorAll(`img[data-thumb="${CSS.escape(target)}"]`);
    const ack = () => ws && ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ ack: target }));
    if (!imgs.length) { ack(); return; }
    const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    let left = imgs.length;
    const done = () => {
      if (--left > 0) return;
      const old = urls.get(target);
      if (old && old !== url) URL.revokeObjectURL(old);
      urls.set(target, url);
      lastFrame[target] = performance.now();
      ack();
    };
    for (const img of imgs) {
      img.onload = done;
      img.onerror = done;
      img.src = url;
    }
  };

  const open = () => {
    ws = new WebSocket(wsUrl("/api/thumbs/ws"));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { attempt = 0; watch(); };
    ws.onmessage = (m) => {
      if (!(m.data instanceof ArrayBuffer)) return;
      const bytes = new Uint8Array(m.data);
      const n = bytes[0];
      draw(decoder.decode(bytes.subarray(1, 1 + n)), bytes.subarray(1 + n));
    };
    ws.onclose = () => { ws = null; setTimeout(open, backoff(attempt++)); };
  };
  document.addEventListener("visibilitychange", watch);
  open();
  return { refresh: watch, lastFrame };
}
