// The console's live parts: SLA countdowns, the queue's refresh, canned replies, and the
// conversation's live transcript (server-sent events). Text is always set with
// textContent, never parsed as HTML.
"use strict";

function formatLeft(ms) {
  const late = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const text = (h ? h + "小时" : "") + m + "分" + String(s).padStart(2, "0") + "秒";
  return late ? "已超时 " + text : "剩余 " + text;
}

function tickCountdowns() {
  const now = Date.now();
  document.querySelectorAll(".countdown[data-due]").forEach((el) => {
    const due = Date.parse(el.dataset.due);
    if (!isNaN(due)) {
      el.textContent = formatLeft(due - now);
      el.classList.toggle("late", due < now);
    }
  });
}

function refreshQueue(box) {
  fetch(box.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((fragment) => { box.innerHTML = fragment; tickCountdowns(); })  // escaped by the server
    .catch(() => {});
}

const WHO = { shopper: "顾客", bot: "机器人", agent: "客服 ", system: "系统" };

function appendItem(list, item) {
  if (list.querySelector('[data-index="' + item.index + '"]')) return;
  const li = document.createElement("li");
  li.className = "msg " + item.who;
  li.dataset.index = item.index;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = WHO[item.who] + (item.who === "agent" ? (item.agent || "") : "");
  const time = document.createElement("time");
  time.textContent = (item.at || "").slice(11, 19);
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = item.text;
  li.append(who, " ", time, " ", text);
  (item.photos || []).forEach((p) => {
    if (!p.filename || !/^[0-9a-f]{64}\.(jpg|jpeg|png|webp|gif)$/.test(p.filename)) return;
    const a = document.createElement("a");
    a.href = "/media/" + p.filename; a.target = "_blank"; a.rel = "noopener";
    const img = document.createElement("img");
    img.className = "thumb"; img.src = a.href; img.alt = "顾客上传的照片";
    a.append(img); li.append(a);
  });
  list.append(li);
  li.scrollIntoView({ block: "nearest" });
}

function followConversation(list) {
  const source = new EventSource(list.dataset.live + "?after=" + encodeURIComponent(list.dataset.after));
  source.addEventListener("transcript", (e) => {
    JSON.parse(e.data).forEach((item) => appendItem(list, item));
  });
  source.addEventListener("handoff", (e) => {
    const h = JSON.parse(e.data);
    const el = document.getElementById("handoff-state");
    if (el && el.dataset.state !== h.state) {
      el.dataset.state = h.state;
      el.textContent = { waiting: "等待接入", taken: "处理中", returned: "已交还机器人" }[h.state] +
        (h.taken_by ? "（" + h.taken_by + "）" : "");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  tickCountdowns();
  setInterval(tickCountdowns, 1000);
  const box = document.getElementById("queue");
  if (box) setInterval(() => refreshQueue(box), 5000);
  const list = document.getElementById("transcript");
  if (list) followConversation(list);
  const canned = document.getElementById("canned");
  const reply = document.getElementById("reply-text");
  if (canned && reply) canned.addEventListener("change", () => { if (canned.value) reply.value = canned.value; reply.focus(); });
});
