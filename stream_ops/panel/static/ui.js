// Toasts (refused commands, network errors) and the in-page confirmation dialog.
import { h, $ } from "./dom.js";
import { t } from "./i18n.js";

export function toast(message, level = "error") {
  const el = h("div", { class: `toast toast-${level}`, role: "alert" }, message);
  $("#toasts").append(el);
  setTimeout(() => el.classList.add("toast-out"), level === "error" ? 7000 : 3500);
  setTimeout(() => el.remove(), level === "error" ? 7600 : 4100);
}

let pending = null;   // resolve() of the open dialog

export function modalOpen() { return pending !== null; }

function close(answer) {
  const modal = $("#modal");
  modal.hidden = true;
  const resolve = pending;
  pending = null;
  if (resolve) resolve(answer);
}

// Resolves true only when the operator presses the dangerous button; Escape,
// the backdrop and Cancel (which has the focus, so a stray Enter is harmless) say no.
export function confirmDialog({ title, text, ok, body = null, danger = true }) {
  if (pending) close(false);
  const modal = $("#modal");
  $("#modal-title").textContent = title;
  $("#modal-text").textContent = text || "";
  const extra = $("#modal-body");
  extra.replaceChildren(...(body ? [body] : []));
  const okBtn = $("#modal-ok");
  okBtn.hidden = !ok;
  okBtn.textContent = ok || "";
  okBtn.className = danger ? "btn danger" : "btn";
  $("#modal-cancel").textContent = ok ? t("cancel") : t("close");
  modal.hidden = false;
  $("#modal-cancel").focus();
  return new Promise((resolve) => { pending = resolve; });
}

export function initModal() {
  $("#modal-ok").addEventListener("click", () => close(true));
  $("#modal-cancel").addEventListener("click", () => close(false));
  $("#modal").addEventListener("click", (e) => { if (e.target.id === "modal") close(false); });
  document.addEventListener("keydown", (e) => {
    if (pending && e.key === "Escape") { e.preventDefault(); close(false); }
  }, true);
}
