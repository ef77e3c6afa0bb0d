"""What a Matrix event means for Lotse: which events are input, and the words of a message."""

from __future__ import annotations

import re
from typing import Any

from nio import (
    MegolmEvent,
    RoomEncryptedMedia,
    RoomInfo,
    RoomMemberEvent,
    RoomMessageMedia,
    RoomMessageText,
)

SYNC_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {"ephemeral": {"types": []}, "account_data": {"types": []},
             "timeline": {"limit": 50}},
}
"""No presence, typing, receipts or account data: nothing Lotse acts on."""

INPUT = (RoomMessageText, RoomMessageMedia, RoomEncryptedMedia, MegolmEvent)
"""Events from the person that get an answer; notices, emotes and state events do not."""

_REPLY_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n")


def said_text(event: RoomMessageText) -> str | None:
    """The words of a text message; None for an edit (it would answer a question gone by)."""
    content = event.source.get("content", {})
    relation = content.get("m.relates_to") or {}
    if relation.get("rel_type") == "m.replace":
        return None
    body = str(event.body)
    if "m.in_reply_to" in relation:
        body = _REPLY_FALLBACK.sub("", body, count=1)
    return body


def server_of(user_id: str) -> str:
    return user_id.partition(":")[2]


def joined_now(info: RoomInfo, me: str) -> str | None:
    """The id of our own join in this sync's timeline, if Lotse joined just now."""
    for event in info.timeline.events:
        if (isinstance(event, RoomMemberEvent) and event.state_key == me
                and event.membership == "join" and event.prev_membership != "join"):
            return str(event.event_id)
    return None
