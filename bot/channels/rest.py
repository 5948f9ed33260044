"""The REST channel (POST /webhooks/rest/webhook) with checks on what shoppers send.

Rasa's RestInput hands anything to the bot: a missing sender, a number as the message or
a 5 MB paste all reach NLU. Here a malformed request gets a 400 with a clear reason, and
an over-long message gets a friendly reply without touching the conversation, so nothing
the shopper already told us is lost.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
# Sent as the text of a message that only carries photos, so NLU and forms see a turn.
PHOTO_ONLY_TEXT = "[图片]"


class RequestError(ValueError):
    """The request cannot be handled; the message says why, for the caller."""


def too_long_reply(length: int, limit: int) -> str:
    return (f"您的消息有{length}字，太长了，我一次最多能看{limit}字😥 "
            "麻烦分几条发，或者先用一两句话说说遇到了什么问题，我马上帮您处理。")


def parse_request(body: bytes) -> Dict[str, Any]:
    """Check the JSON body: sender, message and optional metadata, or raise RequestError."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        raise RequestError("request body must be JSON: {\"sender\": …, \"message\": …}")
    if not isinstance(data, dict):
        raise RequestError("request body must be a JSON object")
    sender = data.get("sender")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise RequestError(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters")
    message = data.get("message", "")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise RequestError("'message' must be a string")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RequestError("'metadata' must be a JSON object")
    attachments = (metadata or {}).get("attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise RequestError("'metadata.attachments' must be a list")
    if not message.strip():
        if not attachments:
            raise RequestError("'message' is empty and there are no attachments")
        message = PHOTO_ONLY_TEXT
    return {"sender": sender, "message": message, "metadata": metadata}


class ShopRestInput(RestInput):
    """Rasa's REST channel, named `rest`, with request checks and a message-length limit."""

    def __init__(self, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS) -> None:
        self.max_message_chars = max_message_chars

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(int(credentials.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("shop_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                data = parse_request(request.body)
            except RequestError as error:
                return response.json({"error": str(error)}, status=400)
            text = data["message"]
            if len(text) > self.max_message_chars:
                logger.info("refused a message of %d characters", len(text))
                return response.json([{"recipient_id": data["sender"],
                                       "text": too_long_reply(len(text), self.max_message_chars)}])
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(
                text, collector, data["sender"], input_channel=self.name(),
                metadata=data["metadata"]))
            return response.json(collector.messages)

        return webhook
