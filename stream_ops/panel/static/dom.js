// Small DOM helpers: element builder, keyed list reconciliation, formatting.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) el.append(c);
  return el;
}

// Make `container`'s children match `items` (by key), reusing existing elements so
// live thumbnails and a fader being dragged are never torn down by a state refresh.
export function sync(container, items, key, create, update) {
  const existing = new Map([...container.children].map((el) => [el.dataset.key, el]));
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (!el) { el = create(item); el.dataset.key = k; }
    existing.delete(k);
    update(el, item);
    const want = prev ? prev.nextSibling : container.firstChild;
    if (want !== el) container.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) el.remove();
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function hms(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const p = (n) => String(n).padStart(2, "0");
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}

export function clockTime(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString("en-GB", { hour12: false });
}

// dB (-60..0) to a 0..100 meter position; silence (null, -Infinity) is 0.
export function meterPct(db) {
  if (typeof db !== "number" || !Number.isFinite(db)) return 0;
  return Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
}

export function dbText(db) {
  if (typeof db !== "number" || !Number.isFinite(db) || db <= -60) return "-∞";
  return (db > 0 ? "+" : "") + db.toFixed(1);
}
