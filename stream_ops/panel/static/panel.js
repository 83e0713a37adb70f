// The operator's panel: draws the show's state, sends commands, never polls.
// Every `state` message replaces everything; events update their part in place.
import { $, h, sync, hms, clockTime, meterPct, dbText } from "./dom.js";
import { t, setLang, currentLang, applyStatic } from "./i18n.js";
import { command, getJSON, connectEvents, connectThumbs } from "./net.js";
import { toast, confirmDialog, modalOpen, initModal } from "./ui.js";

const S = {
  state: null,          // the last full state, kept current by events
  online: false,
  startedLocal: null,   // local clock time the show started (server clock skew removed)
  busy: false,          // a take is on its way: a second key press must not swap back
  advancing: false,     // an advance is on its way: a double press must not skip a segment
  rundownSkew: 0,       // local clock minus the server's, for the rundown's countdown
  transitionTouched: false,
  lastOutputState: {},  // name -> state, so the log shows changes, not every figure update
  dropped: {},          // source name -> true from "no signal" until frames come back
  log: [],              // the event log's entries, oldest first (drawn again in the chosen language)
  received: {},         // type -> events received (for tests and the curious)
  target: "all",        // unlinked canvases: which one TAKE and preview act on ("all" or a canvas name)
};
const LOG_SIZE = 1000;        // as many as the server's history: an hour of a busy operator
const COLLAPSE_WINDOW = 10;   // the server's rule: a repeated warning replaces its earlier copy
const meters = new Map();   // "program" | source name -> {rms, peak, value}
let thumbs = null;

// --- small lookups -------------------------------------------------------
const scenes = () => S.state?.scenes ?? [];
const sceneLabel = (name) => scenes().find((s) => s.name === name)?.label || name || "—";
const sourceLabel = (name) => S.state?.sources.find((s) => s.name === name)?.label || name;
const outputLabel = (name) => S.state?.outputs.find((o) => o.name === name)?.label || name;

// --- canvases --------------------------------------------------------------
// A show has one canvas ("main") or more (a portrait one beside it). A server without
// `canvases` in its state is treated as one main canvas, so the page works either way.
function canvases() {
  const list = S.state?.canvases;
  if (Array.isArray(list) && list.length) return list;
  return [{ name: "main", program: S.state?.program, preview: S.state?.preview, outputs: (S.state?.outputs || []).map((o) => o.name) }];
}
const multi = () => canvases().length > 1;
const linked = () => !multi() || S.state?.linked !== false;
const canvasOf = (name) => canvases().find((c) => c.name === name);
const canvasLabel = (name) => canvasOf(name)?.label || name;
const outputCanvas = (o) => o.canvas || canvases().find((c) => (c.outputs || []).includes(o.name))?.name || "main";

// Record a canvas's program and/or preview; the main canvas's are also the state's own fields.
function setOnAir(name, { program, preview }) {
  const c = canvasOf(name);
  if (c && program !== undefined) c.program = program;
  if (c && preview !== undefined) c.preview = preview;
  if (name === "main") {
    if (program !== undefined) S.state.program = program;
    if (preview !== undefined) S.state.preview = preview;
  }
}

// The canvases a preview or TAKE goes to: null means "one request, no canvas" (linked or one canvas).
function targetCanvases() {
  if (linked()) return null;
  if (S.target !== "all" && canvasOf(S.target)) return [S.target];
  return canvases().map((c) => c.name);
}

// Whose tally the scene buttons show: the chosen canvas when unlinked, else the main one.
const tallyCanvas = () => (!linked() && S.target !== "all" && canvasOf(S.target)) ? S.target : "main";

// --- commands -------------------------------------------------------------
async function setPreview(scene) {
  const targets = targetCanvases();
  if (!targets) {
    const answer = await command("/api/preview", { scene });
    if (answer) applyProgramPreview(answer);
    return;
  }
  for (const canvas of targets) {
    const answer = await command("/api/preview", { scene, canvas });
    if (!answer) return;
    applyProgramPreview(answer);
  }
}

async function setLinked(want) {
  const answer = await command("/api/link", { linked: want });
  if (answer) applyProgramPreview(answer);
}

async function take(auto) {
  if (S.busy || !S.online) return;
  S.busy = true;
  document.body.classList.add("taking");
  const body = auto
    ? { transition: $("#transition").value, duration_ms: Number($("#duration").value) || 0 }
    : { transition: "cut" };
  try {
    const targets = targetCanvases();
    if (!targets) {
      const answer = await command("/api/take", body);
      if (answer) applyProgramPreview(answer);
    } else {
      // Unlinked, "both": one take per canvas, main first (they land a frame or so apart).
      for (const canvas of targets) {
        const answer = await command("/api/take", { ...body, canvas });
        if (!answer) break;
        applyProgramPreview(answer);
      }
    }
  } finally {
    S.busy = false;
    document.body.classList.remove("taking");
  }
}

// --- the run of show ---------------------------------------------------------------
async function advanceRundown() {
  if (S.advancing || !S.online || !S.state?.rundown) return;
  S.advancing = true;
  try {
    const answer = await command("/api/rundown/advance");
    if (answer) applyRundown(answer);
  } finally {
    S.advancing = false;
  }
}

async function gotoSegment(index) {
  if (S.advancing || !S.online) return;
  S.advancing = true;
  try {
    const answer = await command("/api/rundown/goto", { index });
    if (answer) applyRundown(answer);
  } finally {
    S.advancing = false;
  }
}

function applyRundown(rundown) {
  S.state.rundown = rundown;
  S.rundownSkew = Date.now() / 1000 - rundown.now;
  renderRundown();
}

async function startOutput(name) {
  const info = await command(`/api/outputs/${encodeURIComponent(name)}/start`);
  if (info) applyOutput(info);
}

async function stopOutput(name) {
  const out = S.state.outputs.find((o) => o.name === name);
  if (out && (out.state === "live" || out.state === "reconnecting")) {
    const ok = await confirmDialog({
      title: t("confirm_stop_title"),
      text: t("confirm_stop_text", { name: out.label || out.name }),
      ok: t("confirm_ok_stop"),
    });
    if (!ok) return;
  }
  const info = await command(`/api/outputs/${encodeURIComponent(name)}/stop`);
  if (info) applyOutput(info);
}

async function allOutputs(action) {
  if (action === "stop") {
    const running = S.state.outputs.filter((o) => o.state !== "idle" || o.desired === "running");
    if (!running.length) return;
    const ok = await confirmDialog({
      title: t("confirm_stop_all_title"),
      text: t("confirm_stop_all_text", { names: running.map((o) => o.label || o.name).join("、") }),
      ok: t("confirm_ok_stop"),
    });
    if (!ok) return;
  }
  const answer = await command(`/api/outputs/all/${action}`);
  if (answer) answer.outputs.forEach(applyOutput);
}

let gainTimer = null;
function sendGain(name, gain_db, now = false) {
  clearTimeout(gainTimer);
  const send = () => command(`/api/sources/${encodeURIComponent(name)}/audio`, { gain_db });
  if (now) send(); else gainTimer = setTimeout(send, 80);
}

async function toggleMute(name) {
  const src = S.state.sources.find((s) => s.name === name);
  const answer = await command(`/api/sources/${encodeURIComponent(name)}/audio`, { muted: !src.muted });
  if (answer) applySourceAudio(answer);
}

async function showJoin(name) {
  const join = await getJSON(`/api/sources/${encodeURIComponent(name)}/join`);
  if (!join) return;
  const svg = join.qr_svg || join.svg;
  const src = join.qr_png || (svg ? "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg) : null);
  const body = h("div", { class: "join" },
    src ? h("img", { class: "join-qr", alt: "QR", src }) : null,
    h("p", { class: "join-url" }, join.url || ""),
    join.warning ? h("p", { class: "join-warning" }, join.warning) : null,
    h("div", { class: "join-actions" },
      // A leaked link is revoked by issuing a new one (the phone on air is ended too).
      h("button", { class: "btn small danger", type: "button", onclick: async () => {
        if (await command(`/api/sources/${encodeURIComponent(name)}/join/rotate`, { kick: true })) showJoin(name);
      } }, t("join_rotate")),
      // Let a second phone replace the one on this slot (a broken phone, a better angle).
      h("button", { class: "btn small", type: "button", onclick: async () => {
        if (await command(`/api/sources/${encodeURIComponent(name)}/join/takeover`, { allow: true })) toast(t("join_takeover_on"), "info");
      } }, t("join_takeover"))));
  confirmDialog({ title: `${t("join_title")} · ${sourceLabel(name)}`, text: "", ok: null, body });
}

// --- applying what the server says ---------------------------------------------
function applyProgramPreview({ program, preview, canvases: byCanvas, linked: isLinked }) {
  setOnAir("main", { program, preview });
  for (const [name, on] of Object.entries(byCanvas || {})) setOnAir(name, on || {});
  if (isLinked !== undefined && isLinked !== S.state.linked) {
    S.state.linked = isLinked;
    renderCanvasControls();
  }
  renderTally();
}

function applyOutput(info) {
  const list = S.state.outputs;
  const i = list.findIndex((o) => o.name === info.name);
  info._at = performance.now();
  if (i >= 0) list[i] = { ...list[i], ...info }; else list.push(info);
  renderOutputs();
}

function markDrop({ name, state }) {
  if (state === "no_signal") S.dropped[name] = true;
  if (state === "live" || state === "idle") delete S.dropped[name];
}

function applySource(info) {
  markDrop(info);
  const list = S.state.sources;
  const i = list.findIndex((s) => s.name === info.name);
  if (i >= 0) list[i] = { ...list[i], ...info }; else list.push(info);
  renderSources();
  renderMixer();
}

function applySourceAudio({ name, gain_db, muted }) {
  const src = S.state.sources.find((s) => s.name === name);
  if (!src) return;
  if (gain_db !== undefined) src.gain_db = gain_db;
  if (muted !== undefined) src.muted = muted;
  renderMixer();
}

function onMessage(ev) {
  S.received[ev.type] = (S.received[ev.type] || 0) + 1;
  switch (ev.type) {
    case "state": {
      const { type, seq, ts, ...state } = ev;
      S.state = state;
      S.startedLocal = state.show.started_at ? Date.now() / 1000 - (state.show.on_air_s || 0) : null;
      if (state.rundown) S.rundownSkew = Date.now() / 1000 - state.rundown.now;
      for (const o of state.outputs) o._at = performance.now();
      // Replay the history so a page opened mid-outage still knows which sources dropped.
      for (const ev of [...(state.log || []).filter((e) => e.type === "source_state"), ...state.sources]) markDrop(ev);
      // The server's history holds only facts (each output_state in it is a change): keep what the log shows.
      S.log = (state.log || []).filter(shownInLog).slice(-LOG_SIZE);
      S.lastOutputState = Object.fromEntries(state.outputs.map((o) => [o.name, o.state]));
      renderAll();
      renderLog();
      break;
    }
    case "program": {
      const canvas = ev.canvas || "main";
      setOnAir(canvas, { program: ev.scene, preview: ev.preview });
      if (canvas === "main") S.state.transition = ev.transition && ev.transition !== "cut" ? ev : null;
      renderTally();
      break;
    }
    case "preview":
      setOnAir(ev.canvas || "main", { preview: ev.scene });
      renderTally();
      break;
    case "link":
      S.state.linked = !!ev.linked;
      renderCanvasControls();
      renderTally();
      break;
    case "source_state": applySource(ev); break;
    case "source_audio": applySourceAudio(ev); break;
    case "output_state": {
      // Once a second a running output re-sends its figures: only a change of state is news.
      const changed = S.lastOutputState[ev.name] !== ev.state;
      S.lastOutputState[ev.name] = ev.state;
      applyOutput(ev);
      if (changed) addLog(ev);
      break;
    }
    case "levels": S.state.levels = ev; renderLevels(); break;
    case "engine": S.state.engine = ev; renderEngine(); break;
    case "log": addLog(ev); break;
    case "phone": if (shownInLog(ev)) addLog(ev); break;
    case "jobfair": applyJobfair(ev); if (shownInLog(ev)) addLog(ev); break;
    case "rundown": applyRundown(ev.rundown); break;   // its log line comes as a `log` event
    default: break;
  }
}

function onStatus(status, attempt) {
  S.online = status === "open";
  document.body.classList.toggle("offline", !S.online);
  $("#conn").className = `conn ${S.online ? "ok" : "down"}`;
  $("#conn-text").textContent = t(S.online ? "connected" : "disconnected");
  const banner = $("#banner");
  if (S.online) { banner.hidden = true; return; }
  if (!S.state) { banner.hidden = attempt <= 1; }
  else banner.hidden = false;
  banner.textContent = `${attempt > 1 ? t("banner_retry", { n: attempt - 1 }) : t("banner_lost")}${S.state ? " · " + t("banner_stale") : ""}`;
}

// --- drawing ---------------------------------------------------------------------
function renderAll() {
  $("#show-name").textContent = S.state.show.name;
  document.title = `${t("title")} · ${S.state.show.name}`;
  if (!S.transitionTouched) {
    $("#transition").value = S.state.show.transition === "cut" ? "cut" : "fade";
    $("#duration").value = S.state.show.transition_ms ?? 500;
  }
  renderScenes();
  renderMonitors();
  renderCanvasControls();
  renderSources();
  renderOutputs();
  renderMixer();
  renderEngine();
  renderJobfair();
  renderRundown();
  renderTally();
  thumbs?.refresh();
}

function renderScenes() {
  sync($("#scenes"), scenes(), (s) => s.name, (s) => {
    const btn = h("button", { class: "scene", type: "button" },
      h("span", { class: "key" }), h("span", { class: "label" }), h("span", { class: "name" }), h("span", { class: "ctally" }));
    btn.addEventListener("click", () => { setPreview(btn.dataset.key); btn.blur(); });
    btn.addEventListener("dblclick", () => take(false));
    return btn;
  }, (btn, s) => {
    const i = scenes().indexOf(s);
    btn.querySelector(".key").textContent = i < 9 ? String(i + 1) : "";
    btn.querySelector(".label").textContent = s.label || s.name;
    btn.querySelector(".name").textContent = s.label && s.label !== s.name ? s.name : "";
  });
}

function renderTally() {
  if (!S.state) return;
  const shown = canvasOf(tallyCanvas()) || { program: S.state.program, preview: S.state.preview };
  const { program, preview } = shown;
  // Other canvases showing something else get a small tag on the scene (only ever when unlinked).
  const others = canvases().filter((c) => c.name !== tallyCanvas());
  for (const btn of $("#scenes").children) {
    btn.classList.toggle("on-program", btn.dataset.key === program);
    btn.classList.toggle("on-preview", btn.dataset.key === preview);
    const tags = [];
    for (const c of others) {
      if (c.program === btn.dataset.key && c.program !== program) tags.push(h("span", { class: "c-pgm" }, `${c.label || c.name} PGM`));
      if (c.preview === btn.dataset.key && c.preview !== preview) tags.push(h("span", { class: "c-pvw" }, `${c.label || c.name} PVW`));
    }
    btn.querySelector(".ctally")?.replaceChildren(...tags);
  }
  for (const c of canvases()) {
    const pgmFig = $(`#pgm-group > .monitor[data-key="${CSS.escape(c.name)}"] .scene-name`);
    const pvwFig = $(`#pvw-group > .monitor[data-key="${CSS.escape(c.name)}"] .scene-name`);
    if (pgmFig) pgmFig.textContent = pgmFig.title = sceneLabel(c.program);
    if (pvwFig) pvwFig.textContent = pvwFig.title = sceneLabel(c.preview);
  }
  const targets = targetCanvases();
  for (const fig of document.querySelectorAll(".monitor-group > .monitor")) {
    fig.classList.toggle("targeted", !!targets && multi() && targets.length < canvases().length && targets.includes(fig.dataset.key));
  }
  // A source is on air (or up next) when any canvas's program (preview) scene uses it.
  const inScene = (name) => scenes().find((s) => s.name === name)?.sources ?? [];
  const pgm = new Set(canvases().flatMap((c) => inScene(c.program)));
  const pvw = new Set(canvases().flatMap((c) => inScene(c.preview)));
  for (const tile of $("#sources").children) {
    tile.classList.toggle("in-program", pgm.has(tile.dataset.key));
    tile.classList.toggle("in-preview", pvw.has(tile.dataset.key));
  }
}

// One PVW and one PGM monitor per canvas; the main canvas's are in the page already.
// Each figure grows in proportion to its picture's shape, so all pictures are equally tall.
function renderMonitors() {
  const several = multi();
  for (const [group, kind, tag, word] of [["#pvw-group", "preview", "PVW", "preview"], ["#pgm-group", "program", "PGM", "program"]]) {
    sync($(group), canvases(), (c) => c.name, (c) => {
      const target = `${kind}@${c.name}`;
      // Narrow: the tag and the canvas's label say enough ("PGM 竖屏"), the scene goes under them.
      return h("figure", { class: `monitor monitor-${kind} extra` },
        h("figcaption", {}, h("span", { class: "tag" }, tag), " ", h("span", { class: "canvas-name" }), " ",
          h("b", { class: "scene-name" })),
        h("div", { class: "screen" }, h("img", { alt: target, dataset: { thumb: target } })));
    }, (fig, c) => {
      const name = fig.querySelector(".canvas-name");
      name.hidden = !several;
      name.textContent = canvasLabel(c.name);
      if (!several) { fig.style.flexGrow = ""; return; }
      // The main monitor's picture is 16:9 (as it always was); the others keep their canvas's shape.
      const aspect = c.name === "main" || !(c.width && c.height) ? 16 / 9 : c.width / c.height;
      fig.style.flexGrow = String(aspect);
      if (c.name !== "main") fig.querySelector(".screen").style.aspectRatio = `${c.width} / ${c.height}`;
      const caption = fig.querySelector("[data-i18n]");
      if (caption) caption.textContent = t(word);
    });
  }
}

// The link toggle and, when unlinked, the choice of canvas TAKE acts on; only for shows with several canvases.
function renderCanvasControls() {
  const box = $("#canvas-controls");
  box.hidden = !multi();
  if (!multi()) return;
  const isLinked = linked();
  const btn = $("#link");
  btn.setAttribute("aria-pressed", isLinked ? "true" : "false");
  btn.querySelector(".main").textContent = t(isLinked ? "linked" : "unlinked");
  btn.querySelector(".sub").textContent = t(isLinked ? "linked_sub" : "unlinked_sub");
  btn.title = t(isLinked ? "link_title" : "unlink_title");
  const choices = $("#canvas-target");
  choices.hidden = isLinked;
  choices.setAttribute("aria-label", t("canvas_target"));
  if (S.target !== "all" && !canvasOf(S.target)) S.target = "all";
  const both = canvases().length === 2;
  const items = [{ name: "all", label: t(both ? "canvas_both" : "canvas_all"), sub: t(both ? "canvas_both_sub" : "canvas_all_sub") },
    ...canvases().map((c) => ({ name: c.name, label: c.label || c.name, sub: c.label && c.label !== c.name ? c.name : "" }))];
  sync(choices, items, (it) => it.name, (it) => {
    const b = h("button", { class: "btn small", type: "button", role: "radio" }, h("span", { class: "main" }), h("small"));
    b.addEventListener("click", () => { S.target = b.dataset.key; b.blur(); renderCanvasControls(); renderTally(); });
    return b;
  }, (b, it) => {
    b.querySelector(".main").textContent = it.label;
    b.querySelector("small").textContent = it.sub;
    b.setAttribute("aria-checked", S.target === it.name ? "true" : "false");
  });
}

function formatLine(src) {
  const parts = [];
  if (src.width && src.height) parts.push(`${src.width}×${src.height}`);
  if (src.state === "live" && src.fps) parts.push(`${Number(src.fps).toFixed(0)} ${t("fps")}`);
  if (src.codec) parts.push(src.codec);
  return parts.join(" · ") || src.kind;
}

function renderSources() {
  const added = [];
  sync($("#sources"), S.state.sources, (s) => s.name, (s) => {
    const tile = h("div", { class: "tile" },
      h("div", { class: "screen" },
        h("img", { alt: s.name, dataset: { thumb: `source:${s.name}` } }),
        h("span", { class: "badge pgm" }, "PGM"), h("span", { class: "badge pvw" }, "PVW"),
        h("span", { class: "nosignal" }, t("no_signal"))),
      h("div", { class: "caption" },
        h("b", { class: "label" }), h("span", { class: "state-pill" }), h("span", { class: "fmt" })),
      h("div", { class: "error" }));
    if (s.kind === "webrtc") {
      tile.querySelector(".caption").append(
        h("button", { class: "btn small join-btn", type: "button", onclick: () => showJoin(s.name) }, t("join_qr")));
    }
    added.push(tile);
    return tile;
  }, (tile, s) => {
    // A listen source whose publisher left goes back to "connecting" (waiting for
    // a new one); for the operator it is still a dropped signal: keep it red.
    const shown = s.state === "connecting" && S.dropped[s.name] ? "no_signal" : s.state;
    tile.className = `tile src-${shown}`;
    tile.querySelector(".label").textContent = s.label || s.name;
    tile.querySelector(".state-pill").textContent = t(`src.${shown}`) + (shown !== s.state ? ` · ${t(`src.${s.state}`)}` : "");
    tile.querySelector(".fmt").textContent = formatLine(s);
    tile.querySelector(".error").textContent = s.state !== "live" && s.error ? s.error : "";
    tile.querySelector(".nosignal").textContent = t("no_signal");
    const join = tile.querySelector(".join-btn");
    if (join) join.textContent = t("join_qr");
  });
  renderTally();
  if (added.length) thumbs?.refresh();
}

// Outputs grouped under their canvas (a heading per canvas only when the show has several).
function renderOutputs() {
  const box = $("#outputs");
  const outs = S.state.outputs;
  if (!outs.length) { box.replaceChildren(h("p", { class: "empty" }, t("empty_outputs"))); return; }
  box.querySelector(".empty")?.remove();
  const several = multi();
  sync(box, canvases(), (c) => c.name, () => h("div", { class: "out-group" },
    h("h3", { class: "canvas-head" }, h("span", { class: "name" }), h("small")), h("div", { class: "outs" })),
  (group, c) => {
    const head = group.querySelector(".canvas-head");
    head.hidden = !several;
    head.querySelector(".name").textContent = c.label || c.name;
    head.querySelector("small").textContent = [c.label && c.label !== c.name ? c.name : "", c.width && c.height ? `${c.width}×${c.height}` : ""]
      .filter(Boolean).join(" · ");
    const mine = outs.filter((o) => outputCanvas(o) === c.name);
    const list = group.querySelector(".outs");
    if (several && !mine.length) list.replaceChildren(h("p", { class: "empty" }, t("canvas_no_outputs")));
    else { list.querySelector(".empty")?.remove(); syncOutputs(list, several ? mine : outs); }
  });
}

function syncOutputs(box, outs) {
  sync(box, outs, (o) => o.name, (o) => {
    const card = h("div", { class: "out" },
      h("div", { class: "out-head" }, h("b", { class: "label" }), h("span", { class: "platform" }), h("span", { class: "state-pill" })),
      h("div", { class: "target" }),
      h("dl", { class: "figures" },
        h("div", {}, h("dt", { dataset: { i18n: "kbps" } }), h("dd", { class: "kbps" })),
        h("div", {}, h("dt", { dataset: { i18n: "uptime" } }), h("dd", { class: "uptime" })),
        h("div", {}, h("dt", { dataset: { i18n: "reconnects" } }), h("dd", { class: "reconnects" })),
        h("div", {}, h("dt", { dataset: { i18n: "dropped" } }), h("dd", { class: "dropped" }))),
      h("div", { class: "error" }),
      h("div", { class: "out-buttons" },
        h("button", { class: "btn go start", type: "button", onclick: (e) => { e.currentTarget.blur(); startOutput(o.name); } }),
        h("button", { class: "btn danger stop", type: "button", onclick: (e) => { e.currentTarget.blur(); stopOutput(o.name); } })));
    applyStatic(card);
    return card;
  }, (card, o) => {
    card.className = `out out-${o.state}`;
    card.querySelector(".label").textContent = o.label || o.name;
    card.querySelector(".platform").textContent = o.platform && o.platform !== o.label ? o.platform : o.kind;
    card.querySelector(".state-pill").textContent = t(`out.${o.state}`);
    // A recording shows the file it writes (its target is the path template).
    card.querySelector(".target").textContent = o.file || o.target || "";
    card.querySelector(".target").title = o.file || o.target || "";
    card.querySelector(".kbps").textContent = o.state === "live" ? Math.round(o.kbps || 0).toLocaleString() : "—";
    card.querySelector(".reconnects").textContent = o.reconnects ?? 0;
    card.querySelector(".dropped").textContent = o.dropped ?? 0;
    card.querySelector(".error").textContent = o.error || "";
    const running = o.desired ? o.desired === "running" : o.state !== "idle";
    const start = card.querySelector(".start");
    const stop = card.querySelector(".stop");
    start.textContent = t("start");
    stop.textContent = t("stop");
    start.disabled = running;
    stop.disabled = !running && o.state === "idle";
    card.querySelector(".uptime").textContent = hms(uptime(o));
    applyStatic(card);
  });
}

// Uptime counts on between output_state events; the server's figure resets it.
const uptime = (o) => o.state === "live" ? (o.uptime_s || 0) + (performance.now() - (o._at || performance.now())) / 1000 : (o.uptime_s || 0);

function meter(key) {
  const el = h("div", { class: "meter" }, h("div", { class: "cover" }), h("div", { class: "peak" }));
  const value = h("span", { class: "db" }, "-∞");
  meters.set(key, { el, cover: el.firstChild, peak: el.lastChild, value });
  return [el, value];
}

function renderMixer() {
  const box = $("#mixer");
  if (!box.querySelector(".strip-program")) {
    box.prepend(h("div", { class: "strip strip-program", dataset: { key: "__program" } },
      h("b", { class: "label" }, h("span", { dataset: { i18n: "master" } }, t("master")), " PGM"), ...meter("program")));
  }
  const strips = h("div");
  strips.className = "strips";
  const list = box.querySelector(".strips") || box.appendChild(strips);
  sync(list, S.state.sources, (s) => s.name, (s) => {
    const fader = h("input", { class: "fader", type: "range", min: "-60", max: "20", step: "0.5", "aria-label": `gain ${s.name}` });
    fader.addEventListener("input", () => { fader.nextSibling.textContent = `${dbText(Number(fader.value))} dB`; sendGain(s.name, Number(fader.value)); });
    fader.addEventListener("change", () => { sendGain(s.name, Number(fader.value), true); fader.blur(); });
    fader.addEventListener("dblclick", () => { fader.value = "0"; sendGain(s.name, 0, true); });
    return h("div", { class: "strip" },
      h("b", { class: "label" }),
      h("button", { class: "btn small mute", type: "button", onclick: (e) => { e.currentTarget.blur(); toggleMute(s.name); } }),
      fader, h("span", { class: "gain" }),
      ...meter(s.name));
  }, (strip, s) => {
    strip.classList.toggle("is-muted", !!s.muted);
    strip.querySelector(".label").textContent = s.label || s.name;
    const fader = strip.querySelector(".fader");
    if (document.activeElement !== fader) fader.value = String(s.gain_db ?? 0);
    strip.querySelector(".gain").textContent = `${dbText(Number(s.gain_db ?? 0))} dB`;
    const mute = strip.querySelector(".mute");
    mute.textContent = s.muted ? t("muted") : t("mute");
    mute.setAttribute("aria-pressed", s.muted ? "true" : "false");
  });
  for (const key of [...meters.keys()]) {
    if (key !== "program" && !S.state.sources.some((s) => s.name === key)) meters.delete(key);
  }
  box.querySelector(".strip-program [data-i18n]").textContent = t("master");
  renderLevels();
}

function setMeter(key, level) {
  const m = meters.get(key);
  if (!m) return;
  const rms = meterPct(level?.rms_db);
  const peak = meterPct(level?.peak_db);
  m.cover.style.width = `${100 - rms}%`;
  m.peak.style.left = `${peak}%`;
  m.peak.classList.toggle("hot", (level?.peak_db ?? -99) > -3);
  m.value.textContent = dbText(level?.peak_db);
}

function renderLevels() {
  const levels = S.state.levels || {};
  setMeter("program", levels.program);
  for (const s of S.state.sources) setMeter(s.name, levels.sources?.[s.name]);
}

function renderEngine() {
  const e = S.state.engine || {};
  const late = e.late_frames ?? 0;
  let text = e.fps != null ? `${t("engine")} ${Number(e.fps).toFixed(1)} ${t("fps")} · ${t("late")} ${late}` : "";
  // Other canvases have their own clock and encoder: their figures follow the main one's.
  for (const [name, c] of Object.entries(e.canvases || {})) {
    if (name === "main" || !c || c.fps == null) continue;
    text += ` · ${canvasLabel(name)} ${Number(c.fps).toFixed(1)} ${t("fps")} · ${t("late")} ${c.late_frames ?? 0}`;
  }
  $("#engine").textContent = text;
}

// --- event log -------------------------------------------------------------------
// Lines come from the server's `log` events (written Chinese first, then English, with the
// English alone in `en`) and from typed events drawn here in the chosen language.
const PHONE_KEYS = { offer: "ph.offer", left: "ph.left", refused: "ph.refused", token_rotated: "ph.token_rotated" };

function phoneText(ev) {
  const who = sourceLabel(ev.name);
  if (ev.event === "takeover") return t(ev.allow ? "ph.takeover_on" : "ph.takeover_off", { name: who });
  if (ev.event === "token_rotated" && ev.kicked) return t("ph.token_rotated_kicked", { name: who });
  const text = t(PHONE_KEYS[ev.event] || ev.event, { name: who, reason: ev.reason ?? "", codec: ev.codec ?? "" });
  return ev.event === "offer" && ev.replaced ? `${text} · ${t("ph.replaced")}` : text;
}

function jobfairText(ev) {
  if (ev.kind === "feature") {
    return ev.featured ? t("jf.feature_on", { job: ev.featured.job, title: ev.featured.title || "" }).trim() : t("jf.feature_off");
  }
  if (ev.kind === "segment") {
    return ev.segment ? t("jf.segment_on", { name: ev.segment.name || ev.segment.employer }) : t("jf.segment_off");
  }
  return ev.kind;
}

function logText(ev) {
  switch (ev.type) {
    case "log": return currentLang() === "en" ? ev.en || ev.message : ev.message;
    case "output_state": return t("ev.output", { name: outputLabel(ev.name), state: t(`out.${ev.state}`) }) + (ev.error ? ` — ${ev.error}` : "");
    case "phone": return phoneText(ev);
    case "jobfair": return jobfairText(ev);
    default: return ev.message || ev.type;
  }
}

function logLevel(ev) {
  if (ev.level) return ev.level;
  if (ev.type === "output_state") return { failed: "error", reconnecting: "warning", live: "ok" }[ev.state] || "info";
  if (ev.type === "phone") return { offer: "ok", left: "warning", refused: "warning" }[ev.event] || "info";
  if (ev.type === "jobfair") return "program";
  return "info";
}

// What the log shows of the server's history. Program switches and sources dropping or
// returning are left out as typed events: the engine writes a line for each (with the actor).
// Previews, figures and counts are not news.
function shownInLog(ev) {
  switch (ev.type) {
    case "log": case "output_state": return true;
    case "phone": return ev.event !== "stats";
    case "jobfair": return ev.kind === "feature" || ev.kind === "segment";
    default: return false;
  }
}

// The server's rule (events.py): a warning or error that repeats, numbers aside, within the
// last few lines replaces its earlier copy and counts the repeats.
const repeatKey = (ev) => ev.type === "log" && (ev.level === "warning" || ev.level === "error")
  ? `${ev.actor}|${ev.level}|${ev.message.replace(/\b\d+(?:\.\d+)?\b/g, "#")}` : null;

function logLine(ev) {
  return h("li", { class: `lvl-${logLevel(ev)}` },
    h("time", {}, clockTime(ev.ts || Date.now() / 1000)),
    h("span", { class: "msg" }, logText(ev), ev.repeats > 1 ? h("span", { class: "repeats" }, ` ×${ev.repeats}`) : null),
    ev.actor ? h("span", { class: "actor" }, ev.actor) : null);
}

// Newest first; drawn whole again when the language changes.
function renderLog() {
  const lines = S.log.map(logLine).reverse();
  $("#log").replaceChildren(...(lines.length ? lines : [h("li", { class: "empty" }, t("empty_log"))]));
}

function addLog(ev) {
  const list = $("#log");
  const key = repeatKey(ev);
  if (key) {
    const recent = S.log.length - Math.min(COLLAPSE_WINDOW, S.log.length);
    for (let i = S.log.length - 1; i >= recent; i--) {
      if (repeatKey(S.log[i]) !== key) continue;
      ev = { ...ev, repeats: (S.log[i].repeats || 1) + 1 };
      S.log.splice(i, 1);
      list.children[S.log.length - i]?.remove();   // the list is newest first
      break;
    }
  }
  S.log.push(ev);
  list.querySelector(".empty")?.remove();
  list.prepend(logLine(ev));
  while (S.log.length > LOG_SIZE) { S.log.shift(); list.lastChild.remove(); }
}

// --- job fair (optional: only when the show has one) ----------------------------------
function applyJobfair(ev) {
  const jf = S.state.jobfair || (S.state.jobfair = {});
  if (ev.kind === "feature") jf.featured = ev.featured;
  else if (ev.kind === "segment") jf.segment = ev.segment;
  else if (ev.kind === "applications") { jf.applications = ev.applications; if (ev.visits) jf.visits = ev.visits; }
  else if (ev.kind === "viewers" && ev.platform) {
    jf.viewers = jf.viewers || {};
    jf.viewers.platforms = { ...(jf.viewers.platforms || {}), [ev.platform]: ev.viewers };
  }
  renderJobfair();
}

async function jobfairCommand(path, body) {
  const answer = await command(path, body);
  if (answer && "featured" in answer) applyJobfair({ kind: "feature", ...answer });
  if (answer && "segment" in answer) applyJobfair({ kind: "segment", ...answer });
}

function renderJobfair() {
  const box = $("#jobfair");
  const jf = S.state.jobfair;
  box.hidden = !jf;
  if (!jf) return;
  const apps = jf.applications || {};
  // Job and employer ids come from the application counts (every job and employer is listed there).
  const jobs = Array.isArray(jf.jobs) ? jf.jobs : Object.keys(apps.by_job || {}).map((id) => ({ id }));
  const employers = Array.isArray(jf.employers) ? jf.employers : Object.keys(apps.by_employer || {}).map((id) => ({ id }));
  let jobSel = box.querySelector(".job-select");
  let empSel = box.querySelector(".employer-select");
  if (!jobSel) {
    jobSel = h("select", { class: "job-select", "aria-label": "job" });
    empSel = h("select", { class: "employer-select", "aria-label": "employer" });
    box.replaceChildren(
      h("h2", { dataset: { i18n: "jobfair" } }, t("jobfair")),
      h("div", { class: "jf-counts" }),
      h("div", { class: "jf-row" }, h("span", { dataset: { i18n: "feature_job" } }, t("feature_job")), jobSel,
        h("button", { class: "btn small go", type: "button", dataset: { i18n: "feature" },
          onclick: () => jobfairCommand("/api/jobfair/feature", { job: jobSel.value || null }) }, t("feature"))),
      h("div", { class: "jf-row" }, h("span", { dataset: { i18n: "start_segment" } }, t("start_segment")), empSel,
        h("button", { class: "btn small go", type: "button", dataset: { i18n: "segment" },
          onclick: () => jobfairCommand("/api/jobfair/segment", { employer: empSel.value || null }) }, t("segment"))));
  }
  const fill = (sel, items, label) => {
    const keep = sel.value;
    sel.replaceChildren(h("option", { value: "" }, "— " + t("off_air")),
      ...items.map((it) => h("option", { value: it.id }, label(it))));
    sel.value = keep;
  };
  if (document.activeElement !== jobSel) {
    fill(jobSel, jobs, (j) => `${j.id}${j.title ? " " + j.title : ""} (${apps.by_job?.[j.id] ?? 0})`);
  }
  if (document.activeElement !== empSel) {
    fill(empSel, employers, (e) => `${e.id}${e.name ? " " + e.name : ""} (${apps.by_employer?.[e.id] ?? 0})`);
  }
  const lines = [];
  if (jf.featured) lines.push(`${t("feature")}: ${jf.featured.job} ${jf.featured.title || ""}`);
  if (jf.segment) lines.push(`${t("segment")}: ${jf.segment.name || jf.segment.employer}`);
  if (apps.total != null) lines.push(`${t("applications")} ${apps.total}`);
  if (jf.visits?.total != null) lines.push(t("visits", { n: jf.visits.total, unique: jf.visits.unique ?? 0 }));
  for (const p of Object.values(jf.viewers?.platforms || {})) {
    if (p && p.current != null) lines.push(`${p.label || ""} ${t("viewers")} ${p.current}`);
  }
  // The public apply service is a process of its own: say whether it runs and how often it was restarted.
  const svc = S.state.apply_service;
  if (svc) {
    lines.push(`${t("apply_service")} ${svc.running ? t("apply_up") : t("apply_down")}` +
      (svc.restarts ? ` (${t("apply_restarts", { n: svc.restarts })})` : "") + ` ${svc.url}`);
  }
  box.querySelector(".jf-counts").textContent = lines.join(" · ");
}

// --- run of show ---------------------------------------------------------------------
const pad2 = (n) => String(n).padStart(2, "0");

// The server's rule (rundown.countdown_text): MM:SS rounded up, an overrun as +MM:SS.
function countdownText(left) {
  if (left >= 0) { const s = Math.ceil(left); return `${pad2(Math.floor(s / 60))}:${pad2(s % 60)}`; }
  const s = Math.floor(-left);
  return `+${pad2(Math.floor(s / 60))}:${pad2(s % 60)}`;
}

function lengthText(seconds) {
  if (seconds == null) return "";
  return seconds >= 60 ? `${Math.round(seconds / 60)}′` : `${Math.round(seconds)}″`;
}

function renderRundown() {
  const box = $("#rundown");
  const rd = S.state?.rundown;
  box.hidden = !rd;
  if (!rd) return;
  sync($("#rundown-list"), rd.segments, (seg) => seg.index, (seg) => {
    const li = h("li", { title: t("rd_go_title") },
      h("span", { class: "no" }), h("span", { class: "when" }), h("span", { class: "title" }), h("span", { class: "sub" }));
    li.addEventListener("dblclick", () => gotoSegment(Number(li.dataset.key)));
    return li;
  }, (li, seg) => {
    li.classList.toggle("on-now", seg.index === rd.current);
    li.classList.toggle("up-next", seg.index === rd.next);
    li.classList.toggle("done", seg.index < rd.current);
    li.title = t("rd_go_title");
    li.querySelector(".no").textContent = String(seg.number);
    li.querySelector(".when").textContent = [seg.planned_clock, lengthText(seg.planned_length_s)].filter(Boolean).join(" ");
    li.querySelector(".title").textContent = seg.title;
    li.querySelector(".sub").textContent = [seg.employer_name || seg.employer, seg.notes].filter(Boolean).join(" · ");
  });
  renderCountdown();
}

function renderCountdown() {
  const rd = S.state?.rundown;
  if (!rd) return;
  const el = $("#countdown");
  const label = $("#countdown-label");
  const now = Date.now() / 1000 - S.rundownSkew;
  const left = rd.due == null ? null : rd.due - now;
  let text = "";
  if (left != null) text = countdownText(left);
  el.textContent = text;
  el.classList.toggle("overrun", left != null && left < 0);
  if (rd.finished) label.textContent = t("rd_finished");
  else if (left != null && left < 0) label.textContent = t("rd_overrun");
  else if (rd.current < 0) label.textContent = left != null ? t("rd_first_in") : t("rd_not_started");
  else label.textContent = left != null ? t("rd_next_in") : t("rd_on_now");
  $("#advance").disabled = !!rd.finished;
}

// --- clock -------------------------------------------------------------------------
function tick() {
  $("#wall").textContent = clockTime(Date.now() / 1000);
  $("#on-air").textContent = S.startedLocal ? hms(Date.now() / 1000 - S.startedLocal) : "00:00:00";
  if (S.state) {
    for (const card of document.querySelectorAll("#outputs .out")) {
      const o = S.state.outputs.find((x) => x.name === card.dataset.key);
      if (o) card.querySelector(".uptime").textContent = hms(uptime(o));
    }
    renderCountdown();
  }
}

// --- keyboard --------------------------------------------------------------------------
// Inputs of any kind, selects, text areas and editable text keep their keys.
function typing(el) {
  if (!el || el === document.body) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || modalOpen() || typing(document.activeElement) || !S.state) return;
  if (/^[1-9]$/.test(e.key)) {
    e.preventDefault();
    if (e.repeat) return;
    const scene = scenes()[Number(e.key) - 1];
    if (scene) setPreview(scene.name);
  } else if (e.key === " " || e.key === "Enter") {
    e.preventDefault();   // also stops a focused button from being pressed as well
    if (!e.repeat) take(false);
  } else if (e.key === "a" || e.key === "A") {
    e.preventDefault();
    if (!e.repeat) take(true);
  } else if ((e.key === "n" || e.key === "N") && S.state.rundown) {
    e.preventDefault();
    if (!e.repeat) advanceRundown();
  }
}

// --- start -------------------------------------------------------------------------------
function init() {
  applyStatic();
  initModal();
  $("#lang").addEventListener("click", () => {
    setLang(currentLang() === "zh" ? "en" : "zh");
    if (S.state) { renderAll(); renderLog(); }
    onStatus(S.online ? "open" : "closed", 1);
  });
  $("#take").addEventListener("click", (e) => { e.currentTarget.blur(); take(false); });
  $("#link").addEventListener("click", (e) => { e.currentTarget.blur(); if (S.online && S.state) setLinked(!linked()); });
  $("#auto").addEventListener("click", (e) => { e.currentTarget.blur(); take(true); });
  $("#advance").addEventListener("click", (e) => { e.currentTarget.blur(); advanceRundown(); });
  $("#start-all").addEventListener("click", (e) => { e.currentTarget.blur(); allOutputs("start"); });
  $("#stop-all").addEventListener("click", (e) => { e.currentTarget.blur(); allOutputs("stop"); });
  for (const id of ["#transition", "#duration"]) $(id).addEventListener("change", () => { S.transitionTouched = true; });
  $("#transition").addEventListener("change", (e) => e.currentTarget.blur());
  document.addEventListener("keydown", onKey);
  onStatus("closed", 1);
  connectEvents({ onMessage, onStatus });
  thumbs = connectThumbs();
  window.streamOps = { S, thumbs };   // for tests and the curious
  setInterval(tick, 250);
  tick();
}

init();
