// The phone join page: camera + mic -> WHIP publish into one slot, tally, stats, reconnects.
// No framework, no CDN: it must load on a phone over a venue's Wi-Fi.
"use strict";

const S = JSON.parse(document.getElementById("settings").textContent);
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The token lives in the URL fragment (#t=...), which browsers never send to a server,
// so it stays out of every access log. A typed-in ?t= is moved into the fragment.
const query = new URLSearchParams(location.search);
const token = new URLSearchParams(location.hash.slice(1)).get("t") || query.get("t") || "";
if (query.get("t")) history.replaceState(null, "", location.pathname + "#t=" + encodeURIComponent(token));

// One id per page (tab): a reconnecting page takes its own slot back without the operator.
const clientKey = "stream-ops-client-" + S.slot;
const client = sessionStorage.getItem(clientKey) || (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
sessionStorage.setItem(clientKey, client);

const state = {
  facing: S.facing || "environment",
  stream: null, pc: null, videoTx: null, location: null, connectedAt: 0,
  fatal: false, connecting: false, socket: null, stats: {}, wakeLock: null,
  openedAt: performance.now(), firstConnectedMs: null,
  iceServers: null, configure: null, configured: null,
};
// Resolved when the page socket delivers the show's STUN/TURN list (offers wait at most 3 s for it).
state.configured = new Promise((resolve) => { state.configure = resolve; });
window.phone = state;   // for tests and for anyone debugging on a phone

function status(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

function fatal(text) {
  state.fatal = true;
  document.body.dataset.state = "stopped";
  status(text, "bad");
  if (state.pc) state.pc.close();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
}

// --- camera ---------------------------------------------------------------------
function videoConstraints(facing) {
  return {
    facingMode: { ideal: facing },
    width: { ideal: S.max_width }, height: { ideal: S.max_height },
    frameRate: { ideal: 30, max: 30 },
  };
}

async function openCamera() {
  const audio = S.audio ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true } : false;
  const stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(state.facing), audio });
  state.stream = stream;
  showSelf(stream.getVideoTracks()[0]);
  $("mute").hidden = !S.audio;
}

function showSelf(track) {
  const self = $("self");
  self.srcObject = new MediaStream([track]);
  self.classList.toggle("mirror", state.facing === "user");
  track.onended = () => { if (!state.fatal) reopenCamera(); };   // e.g. the OS took the camera back
}

async function replaceVideo(track) {
  const old = state.stream.getVideoTracks()[0];
  if (old) { state.stream.removeTrack(old); old.stop(); }
  state.stream.addTrack(track);
  if (state.videoTx) await state.videoTx.sender.replaceTrack(track);
  showSelf(track);
}

async function flipCamera() {
  const want = state.facing === "user" ? "environment" : "user";
  const old = state.stream && state.stream.getVideoTracks()[0];
  if (old) old.stop();   // many phones cannot open both cameras at once
  try {
    const s = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(want) });
    state.facing = want;
    await replaceVideo(s.getVideoTracks()[0]);
  } catch (e) {
    status("无法切换摄像头：" + e.name, "bad");
    reopenCamera();
  }
}

async function reopenCamera() {
  try {
    const s = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(state.facing) });
    await replaceVideo(s.getVideoTracks()[0]);
  } catch (e) {
    status("摄像头被占用或被关闭，请回到本页面", "bad");
  }
}

function toggleMute() {
  const track = state.stream && state.stream.getAudioTracks()[0];
  if (!track) return;
  track.enabled = !track.enabled;
  $("mute").textContent = track.enabled ? "关闭麦克风" : "打开麦克风";
  $("mute").classList.toggle("off", !track.enabled);
}

// --- publishing (WHIP, the same path OBS and encoders use) ------------------------------------
function preferCodecs(transceiver) {
  // H.264 first (phones encode it in hardware), VP8 second; the server decodes only these.
  if (!RTCRtpSender.getCapabilities || !transceiver.setCodecPreferences) return;
  const codecs = RTCRtpSender.getCapabilities("video").codecs;
  const pick = (m) => codecs.filter((c) => c.mimeType.toLowerCase() === m);
  const ordered = [...pick("video/h264"), ...pick("video/vp8"), ...pick("video/rtx")];
  if (ordered.length) transceiver.setCodecPreferences(ordered);
}

function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);   // without STUN, host candidates come at once; never wait long
  });
}

async function publish() {
  if (state.fatal || state.connecting) return;
  state.connecting = true;
  document.body.dataset.state = "connecting";
  let delay = 1000;
  try {
    while (!state.fatal) {
      const result = await offerOnce();
      if (result === "ok") return;
      if (result === "taken") { status("该机位已有手机在直播，稍后自动重试…", "bad"); await sleep(3000); continue; }
      status("连接失败，" + Math.round(delay / 1000) + " 秒后重试…", "bad");
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  } finally {
    state.connecting = false;
  }
}

async function offerOnce() {
  if (state.pc) state.pc.close();
  // STUN/TURN only when the show names them (sent over the authenticated page socket); otherwise
  // the server answers with its own addresses and learns the phone's from its checks.
  await Promise.race([state.configured, sleep(3000)]);
  const pc = new RTCPeerConnection({ iceServers: state.iceServers || [] });
  state.pc = pc;
  const video = state.stream.getVideoTracks()[0];
  state.videoTx = pc.addTransceiver(video, {
    direction: "sendonly", streams: [state.stream],
    sendEncodings: [{ maxBitrate: S.max_bitrate_kbps * 1000, maxFramerate: 30 }],
  });
  preferCodecs(state.videoTx);
  const audio = state.stream.getAudioTracks()[0];
  if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [state.stream] });
  pc.onconnectionstatechange = () => watch(pc);
  status("正在连接导播台…");
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 1500);
    const r = await fetch("/whip/" + encodeURIComponent(S.slot), {
      method: "POST", body: pc.localDescription.sdp,
      headers: { "Content-Type": "application/sdp", "Authorization": "Bearer " + token, "X-Phone-Client": client },
    });
    if (r.status === 401) { fatal("链接无效或已失效，请向导播索取新的二维码"); return "fatal"; }
    if (r.status === 404) { fatal("没有这个机位，请向导播索取正确的二维码"); return "fatal"; }
    if (r.status === 409) { pc.close(); return "taken"; }
    if (r.status !== 201) { pc.close(); return "retry"; }
    state.location = r.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
    return "ok";
  } catch (e) {
    pc.close();
    return "retry";
  }
}

let dropTimer = null;
function watch(pc) {
  if (pc !== state.pc || state.fatal) return;
  const s = pc.connectionState;
  if (s === "connected") {
    clearTimeout(dropTimer);
    state.connectedAt = performance.now();
    if (state.firstConnectedMs === null) state.firstConnectedMs = performance.now() - state.openedAt;
    document.body.dataset.state = "live";
    status("已连接，画面已送达导播台", "good");
  } else if (s === "failed" || s === "closed") {
    reconnect();
  } else if (s === "disconnected") {
    // Wi-Fi -> 4G: give ICE a moment, then start over with a new offer to the same slot.
    document.body.dataset.state = "connecting";
    status("网络中断，正在重新连接…", "bad");
    clearTimeout(dropTimer);
    dropTimer = setTimeout(() => { if (pc === state.pc && pc.connectionState !== "connected") reconnect(); }, 1500);
  }
}

function reconnect() {
  if (state.fatal || state.connecting) return;
  status("网络中断，正在重新连接…", "bad");
  publish();
}

function leave() {
  // Frees the slot at once (the slate shows) instead of waiting for the server to notice.
  if (state.location) fetch(state.location, { method: "DELETE", keepalive: true, headers: { "Authorization": "Bearer " + token } });
}

// --- tally and figures ------------------------------------------------------------------------------
const TALLY = { program: ["直播中", "program"], preview: ["预监中", "preview"], off: ["未上镜", "off"] };

function showTally(t) {
  const [text, cls] = TALLY[t] || TALLY.off;
  const el = $("tally");
  el.textContent = text;
  el.className = "tally " + cls;
  document.body.classList.toggle("on-air", t === "program");
  document.body.classList.toggle("in-preview", t === "preview");
  document.body.dataset.tally = t;
}

function openSocket() {
  if (state.fatal) return;
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/join/" + encodeURIComponent(S.slot) + "/ws");
  state.socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token, client }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    heard = performance.now();
    if (msg.type === "config") { state.iceServers = msg.ice_servers || []; state.configure(); }
    else if (msg.type === "tally") { showTally(msg.tally); checkReceiving(msg.receiving); }
    else if (msg.type === "reconnect") reconnect();
    else if (msg.type === "revoked") fatal("链接已被导播收回，请向导播索取新的二维码");
    else if (msg.type === "kicked") fatal("另一台手机已接替本机位，本机已停止推流");
  };
  ws.onclose = () => {
    if (ws !== state.socket) return;
    showTally("off");
    if (!state.fatal) setTimeout(openSocket, 2000);
    // Signalling lost may mean the network changed: make sure the media is still flowing.
    if (state.pc && state.pc.connectionState !== "connected" && state.pc.connectionState !== "connecting") reconnect();
  };
}

// The server says once a second whether our media arrives. "Connected" here but nothing
// there (a half-dead path after a network change) means: offer again.
let heard = performance.now();
let missing = 0;
function checkReceiving(receiving) {
  const pc = state.pc;
  const settled = state.connectedAt && performance.now() - state.connectedAt > 3000;
  missing = receiving === false && pc && pc.connectionState === "connected" && settled ? missing + 1 : 0;
  if (missing >= 2) { missing = 0; reconnect(); }
}

// No word from the server for 4 s: the socket is dead even if the browser has not noticed.
setInterval(() => {
  if (state.fatal || !state.socket || state.socket.readyState !== 1) return;
  if (performance.now() - heard > 4000) { heard = performance.now(); state.socket.close(); state.socket = null; openSocket(); }
}, 1000);

let last = null;
async function measure() {
  const pc = state.pc;
  if (!pc || pc.connectionState !== "connected") return;
  const report = await pc.getStats();
  let out = null, pair = null, selected = null;
  report.forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") out = s;
    if (s.type === "transport" && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
  });
  report.forEach((s) => {
    if (s.type === "candidate-pair" && (s.id === selected || (!selected && s.nominated && s.state === "succeeded"))) pair = s;
  });
  const st = {};
  if (out) {
    if (last && out.bytesSent >= last.bytes) st.bitrate_kbps = ((out.bytesSent - last.bytes) * 8) / (out.timestamp - last.ts);
    last = { bytes: out.bytesSent, ts: out.timestamp };
    if (out.framesPerSecond !== undefined) st.fps = out.framesPerSecond;
    if (out.frameWidth) { st.width = out.frameWidth; st.height = out.frameHeight; }
  }
  if (pair && pair.currentRoundTripTime !== undefined) st.rtt_ms = pair.currentRoundTripTime * 1000;
  state.stats = st;
  $("kbps").textContent = st.bitrate_kbps !== undefined ? Math.round(st.bitrate_kbps) : "–";
  $("fps").textContent = st.fps !== undefined ? Math.round(st.fps) : "–";
  $("res").textContent = st.width ? st.width + "×" + st.height : "–";
  $("rtt").textContent = st.rtt_ms !== undefined ? Math.round(st.rtt_ms) : "–";
  if (state.socket && state.socket.readyState === 1) state.socket.send(JSON.stringify({ type: "stats", ...st }));
}

// --- screen awake, orientation ------------------------------------------------------------------------
async function keepAwake() {
  if (!("wakeLock" in navigator)) { $("awake").hidden = false; return; }
  try {
    if (!state.wakeLock || state.wakeLock.released) state.wakeLock = await navigator.wakeLock.request("screen");
  } catch (e) {
    $("awake").hidden = false;   // denied (battery saver): the person must keep the screen on
  }
}

function orientationHint() {
  const portrait = window.innerHeight > window.innerWidth;
  $("hint").hidden = !portrait;
  $("hint").textContent = "横屏拍摄，画面更大";
}

// --- start --------------------------------------------------------------------------------------------
async function start() {
  $("start").hidden = true;
  if (!token) return fatal("链接不完整（缺少口令），请重新扫描二维码");
  if (!window.isSecureContext || !navigator.mediaDevices) return fatal("需要 HTTPS 地址才能使用摄像头，请联系导播");
  status("正在打开摄像头…");
  try {
    await openCamera();
  } catch (e) {
    if (e.name === "NotAllowedError") {
      status("请允许使用摄像头和麦克风，然后点击“开启摄像头”", "bad");
      $("start").hidden = false;
    } else {
      status("无法打开摄像头：" + e.name, "bad");
      $("start").hidden = false;
    }
    return;
  }
  keepAwake();
  openSocket();
  await publish();
}

$("start").onclick = start;
$("flip").onclick = flipCamera;
$("mute").onclick = toggleMute;
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") keepAwake(); });
document.addEventListener("click", keepAwake);   // some browsers grant the lock only after a tap
window.addEventListener("online", () => { if (state.pc && state.pc.connectionState !== "connected") reconnect(); });
window.addEventListener("pagehide", leave);
window.addEventListener("resize", orientationHint);
setInterval(measure, 1000);
orientationHint();
start();
