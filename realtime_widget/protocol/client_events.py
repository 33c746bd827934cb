"""The 9 client -> server events of the preview dialect (``Realtime.RealtimeRequest*Command``).

Build them with keywords (``InputAudioBufferAppend(audio=b64)``); ``type`` is filled in,
``event_id`` is optional and left out when not given.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .types import NonNegativeInt, RequestItem, ResponseCreateParams, SessionUpdateParams, WireModel

__all__ = [
    "CLIENT_EVENT_TYPES",
    "ClientEvent",
    "ClientEventBase",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "KnownClientEvent",
    "ResponseCancel",
    "ResponseCreate",
    "SessionUpdate",
    "UnknownClientEvent",
]


class ClientEventBase(WireModel):
    event_id: str | None = None  # optional for clients; echoed in error events


class SessionUpdate(ClientEventBase):
    type: Literal["session.update"] = "session.update"
    session: SessionUpdateParams


class InputAudioBufferAppend(ClientEventBase):
    """``audio`` is base64 in the session's input format; it is not decoded while parsing."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommit(ClientEventBase):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEventBase):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ConversationItemCreate(ClientEventBase):
    type: Literal["conversation.item.create"] = "conversation.item.create"
    previous_item_id: str | None = None
    item: RequestItem


class ConversationItemDelete(ClientEventBase):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ConversationItemTruncate(ClientEventBase):
    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: NonNegativeInt
    audio_end_ms: NonNegativeInt


class ResponseCreate(ClientEventBase):
    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None


class ResponseCancel(ClientEventBase):
    type: Literal["response.cancel"] = "response.cancel"


class UnknownClientEvent(ClientEventBase):
    """An event whose ``type`` this package does not know; every field is kept."""

    type: str


KnownClientEvent = (
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemDelete
    | ConversationItemTruncate
    | ResponseCreate
    | ResponseCancel
)
#: What ``parse_client_event`` returns.
ClientEvent = KnownClientEvent | UnknownClientEvent

#: Discriminated on ``type``: pydantic looks the tag up instead of trying each model.
DiscriminatedClientEvent = Annotated[KnownClientEvent, Field(discriminator="type")]

#: wire ``type`` -> model class, for the 9 events of the spec.
CLIENT_EVENT_TYPES: dict[str, type[ClientEventBase]] = {
    cls.model_fields["type"].default: cls for cls in KnownClientEvent.__args__
}
