// The shopper's chat: Socket.IO events as Rasa's SocketIO channel speaks them
// (session_request / session_confirm / user_uttered / bot_uttered). Text is always set
// with textContent, never parsed as HTML.
"use strict";

const params = new URLSearchParams(location.search);
const STORAGE_KEY = "shouhou-chat-session";
let sessionId = params.get("shopper") || localStorage.getItem(STORAGE_KEY) || null;
const list = document.getElementById("messages");
const statusEl = document.getElementById("status");
const textInput = document.getElementById("text");
const photoInput = document.getElementById("photo");

function add(who, text, extra) {
  const li = document.createElement("li");
  li.className = "msg " + who;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text || "";
  li.append(bubble);
  if (extra) li.append(extra);
  list.append(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

function buttons(replies) {
  const box = document.createElement("div");
  box.className = "buttons";
  replies.forEach((r) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = r.title;
    b.addEventListener("click", () => send(r.payload, r.title));
    box.append(b);
  });
  return box;
}

const socket = io({ path: "/socket.io", transports: ["websocket", "polling"] });

socket.on("connect", () => {
  statusEl.textContent = "连接中…";
  socket.emit("session_request", { session_id: sessionId });
});
socket.on("session_confirm", (id) => {
  sessionId = typeof id === "string" ? id : (id && id.session_id) || sessionId;
  if (!params.get("shopper")) localStorage.setItem(STORAGE_KEY, sessionId);
  statusEl.textContent = "在线";
  document.body.dataset.session = sessionId;
});
socket.on("disconnect", () => { statusEl.textContent = "连接已断开，正在重连…"; });
socket.on("bot_uttered", (message) => {
  const text = message.text || "";
  const who = text.startsWith("【人工客服") ? "agent" : "bot";
  const replies = message.quick_replies || message.buttons || [];
  add(who, text, replies.length ? buttons(replies) : null);
  if (message.attachment && message.attachment.payload && message.attachment.payload.src) {
    const img = document.createElement("img");
    img.src = message.attachment.payload.src; img.className = "photo";
    add(who, "", img);
  }
});

function send(message, shown, attachments) {
  if (!sessionId) return;
  const data = { message: message, session_id: sessionId };
  if (attachments && attachments.length) data.metadata = { attachments: attachments };
  socket.emit("user_uttered", data);
  return add("shopper", shown === undefined ? message : shown);
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (!text) return;
  send(text);
  textInput.value = "";
});

photoInput.addEventListener("change", async () => {
  const file = photoInput.files[0];
  photoInput.value = "";
  if (!file) return;
  const form = new FormData();
  form.append("photo", file);
  statusEl.textContent = "照片上传中…";
  try {
    const response = await fetch("upload", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    statusEl.textContent = "在线";
    if (!response.ok) {
      add("notice", body.error || "照片没有上传成功，请重试");
      return;
    }
    const caption = textInput.value.trim();
    textInput.value = "";
    const li = send(caption, caption || "[图片]", [{ type: body.type, url: body.url }]);
    if (li && body.preview) {
      const img = document.createElement("img");
      img.src = body.preview; img.className = "photo"; img.alt = "已发送的照片";
      li.append(img);
    }
  } catch (error) {
    statusEl.textContent = "在线";
    add("notice", "网络不太好，照片没有发出去，请重试");
  }
});
