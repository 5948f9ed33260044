"""The app chat (APP 内聊天): Rasa's Socket.IO channel, named `app`, with the chat page
the project serves and a photo upload.

- The page: GET /webhooks/app/chat (`?shopper=<id>` picks who is chatting; the shop's app
  passes its own user id the same way). It speaks the Socket.IO protocol of Rasa's
  SocketIO channel (`session_request` / `user_uttered` / `bot_uttered`), so common Rasa
  web-chat widgets work against it too.
- Photos: POST /webhooks/app/upload (multipart, field `photo`) checks the file like any
  photo (bot/media: a real image, ≤ 10 MB, ≤ 40 megapixels), stores it and returns an
  attachment `{"type": "image", "url": "media:<sha256>.<ext>"}` that the page sends with
  the next message, in `metadata.attachments`, where the complaint form finds it.
- Agent replies reach the page live: the console appends them to the conversation with
  `output_channel=latest`, which comes back here and is emitted to the shopper's room.

Rasa 3.6 joins a socket to its session's room with `sio.enter_room(...)` unawaited,
which does nothing with the python-socketio it pins (RasaHQ/rasa#13027): pushed messages
then never arrive. `session_request` is handled here instead.
"""
from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rest import DEFAULT_MAX_MESSAGE_CHARS, MAX_SENDER_CHARS, PHOTO_ONLY_TEXT, too_long_reply
from bot.media import MediaStore, media_store_from_env
from bot.media.store import PhotoRejected

logger = logging.getLogger(__name__)

FILES = Path(__file__).resolve().parent / "app_chat_files"
STATIC = {"chat.js": "text/javascript", "chat.css": "text/css",
          "socket.io.min.js": "text/javascript"}
# The upload's body limit: the photo limit plus room for the multipart envelope.
MAX_UPLOAD_BYTES = 11 * 1024 * 1024
SESSION_ID = re.compile(r"^[\w\-.@:]{1,%d}$" % MAX_SENDER_CHARS)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
}


def valid_session_id(value: Any) -> Optional[str]:
    """A conversation id a client may ask for: a short plain token (no spaces, no
    slashes), so it is also addressable through Rasa's HTTP API."""
    return value if isinstance(value, str) and SESSION_ID.match(value) else None


class AppChatInput(SocketIOInput):
    """Rasa's SocketIO channel with session persistence (the shopper's id is the
    conversation id), the chat page, photo upload and a message-length limit."""

    @classmethod
    def name(cls) -> Text:
        return "app"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(max_message_chars=int(credentials.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)),
                   socketio_path=credentials.get("socketio_path", "/socket.io"))

    def __init__(self, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
                 socketio_path: str = "/socket.io", media: Optional[MediaStore] = None) -> None:
        super().__init__(user_message_evt="user_uttered", bot_message_evt="bot_uttered",
                         namespace=None, session_persistence=True, socketio_path=socketio_path,
                         metadata_key="metadata")
        self.max_message_chars = max_message_chars
        self._media = media

    @property
    def media(self) -> MediaStore:
        if self._media is None:
            self._media = media_store_from_env()
        return self._media

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def checked(message: UserMessage) -> None:
            text = message.text or ""
            if not valid_session_id(message.sender_id):
                return
            if len(text) > self.max_message_chars:
                # Refused before NLU; the conversation keeps everything said before.
                await message.output_channel.send_text_message(
                    message.sender_id, too_long_reply(len(text), self.max_message_chars))
                return
            if not text.strip():
                if not (message.metadata or {}).get("attachments"):
                    return
                message.text = PHOTO_ONLY_TEXT
            await on_new_message(message)

        webhook = super().blueprint(checked)
        sio = self.sio

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            asked = valid_session_id((data or {}).get("session_id"))
            session_id = asked or f"app-{uuid.uuid4().hex}"
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @webhook.route("/chat", methods=["GET"])
        async def chat_page(request: Request) -> HTTPResponse:
            page = (FILES / "chat.html").read_text(encoding="utf-8")
            return response.html(page, headers=PAGE_HEADERS)

        @webhook.route("/files/<name:str>", methods=["GET"])
        async def chat_file(request: Request, name: str) -> HTTPResponse:
            if name not in STATIC:
                return response.json({"error": "找不到该文件"}, status=404)
            return await response.file(FILES / name, mime_type=STATIC[name],
                                       headers={"Cache-Control": "max-age=300"})

        @webhook.route("/upload", methods=["POST"])
        async def upload(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_UPLOAD_BYTES:
                return response.json({"error": "图片太大了，请上传10MB以内的照片"}, status=413)
            photo = (request.files or {}).get("photo")
            if photo is None or not photo.body:
                return response.json({"error": "请选择一张照片再上传（表单字段 photo）"}, status=400)
            try:
                stored = await asyncio.to_thread(self.media.save_bytes, photo.body)
            except PhotoRejected as rejected:
                logger.info("app chat upload refused: %s", rejected.detail or rejected.reason)
                return response.json({"error": rejected.message}, status=422)
            return response.json({"type": "image", "url": self.media.stored_reference(stored),
                                  "preview": f"photos/{stored.filename}"})

        @webhook.route("/photos/<filename:str>", methods=["GET"])
        async def photo(request: Request, filename: str) -> HTTPResponse:
            # The shopper's own upload, shown in their chat. Names are sha256 digests:
            # only someone who has the picture can name it.
            path = self.media.path_of(filename)
            if path is None:
                return response.json({"error": "图片不存在"}, status=404)
            return await response.file(path, mime_type=self.media.mime_type(filename),
                                       headers={"X-Content-Type-Options": "nosniff"})

        return webhook
