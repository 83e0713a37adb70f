// Interface strings, Chinese first. The chosen language is remembered in localStorage.
const STRINGS = {
  zh: {
    title: "导播台", preview: "预监", program: "节目", take: "切换", auto: "自动", take_sub: "TAKE", auto_sub: "AUTO",
    transition: "转场", fade: "淡化", cut: "硬切", duration_ms: "毫秒",
    scenes: "场景", sources: "信号源", outputs: "推流", audio: "音频", log: "事件记录",
    on_air: "播出", clock: "时间", logout: "退出", lang_switch: "English",
    start: "开始", stop: "停止", start_all: "全部开始", stop_all: "全部停止",
    mute: "静音", muted: "已静音", master: "节目总音量",
    kbps: "码率", uptime: "时长", reconnects: "重连", dropped: "丢包",
    "src.live": "正常", "src.no_signal": "信号中断", "src.connecting": "连接中", "src.idle": "未启动",
    "out.idle": "未推流", "out.connecting": "连接中", "out.live": "直播中", "out.reconnecting": "重连中",
    "out.failed": "失败", "out.stopping": "停止中",
    no_signal: "信号中断 NO SIGNAL",
    connected: "已连接", disconnected: "已断开",
    banner_lost: "与导播服务器的连接断开 — 正在重连…",
    banner_retry: "与导播服务器的连接断开 — 第 {n} 次重连…",
    banner_stale: "显示的是断开前的状态，请勿依赖",
    confirm_stop_title: "停止推流？",
    confirm_stop_text: "「{name}」正在直播。停止后观众会看到直播中断。",
    confirm_stop_all_title: "全部停止推流？",
    confirm_stop_all_text: "所有平台的推流和录制都会停止：{names}。",
    confirm_ok_stop: "停止推流", cancel: "取消",
    network_error: "网络错误：命令没有送达",
    keys_hint: "1–9 选预监 · 空格/回车 切换 · A 自动 · N 下一段",
    rundown: "节目单", advance: "下一段", advance_sub: "NEXT", rd_next_in: "距下一段", rd_overrun: "超时",
    rd_first_in: "距开始", rd_not_started: "未开始", rd_finished: "节目单已播完", rd_on_now: "正在播",
    rd_go_title: "双击：跳到这一段", rd_min: "分钟",
    "ev.output": "推流 {name}：{state}",
    "ph.offer": "手机「{name}」已接入", "ph.replaced": "替换了原来的手机",
    "ph.left": "手机「{name}」已断开：{reason}", "ph.refused": "手机「{name}」被拒绝：{reason}",
    "ph.token_rotated": "手机「{name}」换了新链接，旧链接作废",
    "ph.token_rotated_kicked": "手机「{name}」换了新链接，旧链接作废，正在用它的手机已断开",
    "ph.takeover_on": "手机「{name}」：允许另一台手机接替", "ph.takeover_off": "手机「{name}」：不再允许接替",
    "jf.feature_on": "岗位上屏 {job} {title}", "jf.feature_off": "岗位下屏",
    "jf.segment_on": "企业时段：{name}", "jf.segment_off": "企业时段结束",
    fps: "帧/秒", late: "迟帧", engine: "引擎",
    jobfair: "招聘会", feature_job: "岗位上屏", start_segment: "企业时段",
    feature: "上屏", segment: "企业时段", off_air: "下屏/结束", applications: "投递", viewers: "观众",
    visits: "报名页访问 {n}（{unique} 个浏览器）",
    apply_service: "报名服务", apply_up: "运行中", apply_down: "已停止", apply_restarts: "重启 {n} 次",
    join_qr: "扫码加入", join_title: "手机扫码加入", close: "关闭",
    join_rotate: "换新链接（旧链接作废）", join_takeover: "允许另一台手机接替", join_takeover_on: "已允许接替：下一台扫码的手机将替换当前手机",
    empty_outputs: "节目单里没有推流", empty_log: "暂无记录",
    linked: "联动", linked_sub: "LINKED", unlinked: "已分开", unlinked_sub: "UNLINKED",
    link_title: "联动：一次切换所有画布。点击分开，可单独切换某个画布",
    unlink_title: "已分开：切换只作用于选中的画布。点击重新联动（其他画布立即切到横屏的节目和预监）",
    canvas_both: "两者", canvas_both_sub: "both", canvas_all: "全部", canvas_all_sub: "all",
    canvas_target: "切换作用于", canvas_no_outputs: "这个画布没有推流",
  },
  en: {
    title: "Control room", preview: "Preview", program: "Program", take: "TAKE", auto: "AUTO", take_sub: "", auto_sub: "",
    transition: "Transition", fade: "Fade", cut: "Cut", duration_ms: "ms",
    scenes: "Scenes", sources: "Sources", outputs: "Outputs", audio: "Audio", log: "Event log",
    on_air: "On air", clock: "Time", logout: "Log out", lang_switch: "中文",
    start: "Start", stop: "Stop", start_all: "Start all", stop_all: "Stop all",
    mute: "Mute", muted: "Muted", master: "Master",
    kbps: "kbps", uptime: "Uptime", reconnects: "Reconnects", dropped: "Dropped",
    "src.live": "Live", "src.no_signal": "No signal", "src.connecting": "Connecting", "src.idle": "Idle",
    "out.idle": "Idle", "out.connecting": "Connecting", "out.live": "LIVE", "out.reconnecting": "Reconnecting",
    "out.failed": "Failed", "out.stopping": "Stopping",
    no_signal: "NO SIGNAL",
    connected: "Connected", disconnected: "Disconnected",
    banner_lost: "Connection to the server lost — reconnecting…",
    banner_retry: "Connection to the server lost — reconnect attempt {n}…",
    banner_stale: "What you see is from before the break; do not rely on it",
    confirm_stop_title: "Stop this output?",
    confirm_stop_text: "“{name}” is live. Viewers will see the stream end.",
    confirm_stop_all_title: "Stop all outputs?",
    confirm_stop_all_text: "Every platform and recording stops: {names}.",
    confirm_ok_stop: "Stop output", cancel: "Cancel",
    network_error: "Network error: the command did not arrive",
    keys_hint: "1–9 preview · Space/Enter take · A auto · N next segment",
    rundown: "Rundown", advance: "NEXT", advance_sub: "", rd_next_in: "Next in", rd_overrun: "Overrun",
    rd_first_in: "Starts in", rd_not_started: "Not started", rd_finished: "Rundown finished", rd_on_now: "On now",
    rd_go_title: "Double-click: go to this segment", rd_min: "min",
    "ev.output": "Output {name}: {state}",
    "ph.offer": "Phone “{name}” joined", "ph.replaced": "replaced the previous phone",
    "ph.left": "Phone “{name}” left: {reason}", "ph.refused": "Phone “{name}” refused: {reason}",
    "ph.token_rotated": "Phone “{name}”: new join link, the old one no longer works",
    "ph.token_rotated_kicked": "Phone “{name}”: new join link, the old one no longer works; the phone using it was ended",
    "ph.takeover_on": "Phone “{name}”: another phone may take over", "ph.takeover_off": "Phone “{name}”: takeover no longer allowed",
    "jf.feature_on": "On air: job {job} {title}", "jf.feature_off": "Job off air",
    "jf.segment_on": "Employer segment: {name}", "jf.segment_off": "Employer segment ended",
    fps: "fps", late: "late", engine: "Engine",
    jobfair: "Job fair", feature_job: "Feature a job", start_segment: "Employer segment",
    feature: "Feature", segment: "Segment", off_air: "off air / end", applications: "Applications", viewers: "Viewers",
    visits: "Apply page views {n} ({unique} browsers)",
    apply_service: "Apply service", apply_up: "running", apply_down: "stopped", apply_restarts: "restarted {n}×",
    join_qr: "Join QR", join_title: "Scan to join with a phone", close: "Close",
    join_rotate: "New link (old one revoked)", join_takeover: "Allow another phone to take over", join_takeover_on: "Takeover allowed: the next phone to join replaces this one",
    empty_outputs: "The show has no outputs", empty_log: "Nothing yet",
    linked: "LINKED", linked_sub: "", unlinked: "UNLINKED", unlinked_sub: "",
    link_title: "Linked: one TAKE switches every canvas. Click to unlink and switch a canvas on its own",
    unlink_title: "Unlinked: TAKE and preview act on the chosen canvas. Click to link again (the other canvases cut to the main canvas's program and preview at once)",
    canvas_both: "Both", canvas_both_sub: "", canvas_all: "All", canvas_all_sub: "",
    canvas_target: "Acts on", canvas_no_outputs: "No outputs on this canvas",
  },
};

const KEY = "stream-ops.lang";
let lang = localStorage.getItem(KEY) === "en" ? "en" : "zh";

export function t(key, vars = {}) {
  let text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

export function currentLang() { return lang; }

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem(KEY, lang);
  applyStatic();
}

// Fill every element marked data-i18n (text) or data-i18n-title (tooltip).
export function applyStatic(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}
