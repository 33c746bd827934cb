"""The 27 server -> client events of the preview dialect (``Realtime.RealtimeResponse*Command``)
plus two the service sent although the spec lacks them.

Build them with keywords, e.g.
``ResponseAudioDelta(response_id=r, item_id=i, output_index=0, content_index=0, delta=b64)``;
``type`` is filled in and ``event_id`` is generated when not given. Where the spec and the
service spell a field differently, both spellings are accepted and both are emitted
(see ``docs/protocol-decisions.md``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .types import (
    ApiError,
    Conversation,
    NonNegativeInt,
    RateLimit,
    Response,
    ResponseContentPart,
    ResponseItem,
    Session,
    WireModel,
    new_event_id,
)

__all__ = [
    "EXTRA_SERVER_EVENT_TYPES",
    "SERVER_EVENT_TYPES",
    "SPEC_SERVER_EVENT_TYPES",
    "ConversationCreated",
    "ConversationItemCreated",
    "ConversationItemDeleted",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemTruncated",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "KnownServerEvent",
    "RateLimitsUpdated",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "ResponseAudioTranscriptDelta",
    "ResponseAudioTranscriptDone",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ServerEvent",
    "ServerEventBase",
    "SessionCreated",
    "SessionUpdated",
    "UnknownServerEvent",
]


class ServerEventBase(WireModel):
    # Required by the spec (nullable there); generated so an engine never has to.
    event_id: str | None = Field(default_factory=new_event_id)


# --------------------------------------------------------------------------- session


class SessionCreated(ServerEventBase):
    type: Literal["session.created"] = "session.created"
    session: Session


class SessionUpdated(ServerEventBase):
    type: Literal["session.updated"] = "session.updated"
    session: Session


# --------------------------------------------------------------------------- input audio buffer


class InputAudioBufferCommitted(ServerEventBase):
    # Always emitted, null for the first item: the service's shape, and rtclient requires it.
    _always_emit = frozenset({"previous_item_id"})

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    previous_item_id: str | None = None
    item_id: str


class InputAudioBufferCleared(ServerEventBase):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEventBase):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: NonNegativeInt
    item_id: str


class InputAudioBufferSpeechStopped(ServerEventBase):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: NonNegativeInt
    item_id: str


# --------------------------------------------------------------------------- conversation items


class ConversationCreated(ServerEventBase):
    """Sent by the service first, missing from the spec; clients must tolerate it."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: Conversation = Field(default_factory=Conversation)


class ConversationItemCreated(ServerEventBase):
    # Missing from the spec; the service sends it, null for the first item.
    _always_emit = frozenset({"previous_item_id"})

    type: Literal["conversation.item.created"] = "conversation.item.created"
    previous_item_id: str | None = None
    item: ResponseItem


class ConversationItemDeleted(ServerEventBase):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemTruncated(ServerEventBase):
    """The spec calls the content index ``index``, the service ``content_index``:
    either is accepted, both are emitted (0 when neither is given, the spec's default)."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: NonNegativeInt = 0
    audio_end_ms: NonNegativeInt
    index: NonNegativeInt = 0

    @model_validator(mode="before")
    @classmethod
    def _both_spellings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "content_index" not in data and "index" in data:
                data = {**data, "content_index": data["index"]}
            elif "index" not in data and "content_index" in data:
                data = {**data, "index": data["content_index"]}
        return data


class ConversationItemInputAudioTranscriptionCompleted(ServerEventBase):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: NonNegativeInt
    transcript: str


class ConversationItemInputAudioTranscriptionDelta(ServerEventBase):
    """Streaming user transcription, sent by later service versions; not in the spec."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: NonNegativeInt = 0
    delta: str = ""


class ConversationItemInputAudioTranscriptionFailed(ServerEventBase):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: NonNegativeInt
    error: ApiError


# --------------------------------------------------------------------------- responses


class ResponseCreated(ServerEventBase):
    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(ServerEventBase):
    type: Literal["response.done"] = "response.done"
    response: Response


class ResponseOutputItemAdded(ServerEventBase):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: NonNegativeInt
    item: ResponseItem


class ResponseOutputItemDone(ServerEventBase):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: NonNegativeInt
    item: ResponseItem


class ResponseContentPartAdded(ServerEventBase):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    part: ResponseContentPart


class ResponseContentPartDone(ServerEventBase):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    part: ResponseContentPart


class ResponseTextDelta(ServerEventBase):
    type: Literal["response.text.delta"] = "response.text.delta"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    delta: str


class ResponseTextDone(ServerEventBase):
    """The spec calls the final text ``value``, the service ``text``: either is accepted,
    both are emitted."""

    type: Literal["response.text.done"] = "response.text.done"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    text: str
    value: str = ""  # filled from `text` when absent, so constructors need only `text`

    @model_validator(mode="before")
    @classmethod
    def _both_spellings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "text" not in data and "value" in data:
                data = {**data, "text": data["value"]}
            elif "value" not in data and "text" in data:
                data = {**data, "value": data["text"]}
        return data


class ResponseAudioTranscriptDelta(ServerEventBase):
    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    delta: str


class ResponseAudioTranscriptDone(ServerEventBase):
    """``transcript`` is not in the spec but the service sends it and clients require it:
    an engine must set it. ``None`` (left out of the wire form) only when parsing a
    spec-shaped event without it; use the accumulated deltas then."""

    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    transcript: str | None = None


class ResponseAudioDelta(ServerEventBase):
    """``delta`` is base64 audio in the session's output format (not decoded while parsing)."""

    type: Literal["response.audio.delta"] = "response.audio.delta"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt
    delta: str


class ResponseAudioDone(ServerEventBase):
    type: Literal["response.audio.done"] = "response.audio.done"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    content_index: NonNegativeInt


class ResponseFunctionCallArgumentsDelta(ServerEventBase):
    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEventBase):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: NonNegativeInt
    call_id: str
    name: str
    arguments: str


class RateLimitsUpdated(ServerEventBase):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


class ErrorEvent(ServerEventBase):
    type: Literal["error"] = "error"
    error: ApiError


class UnknownServerEvent(ServerEventBase):
    """An event whose ``type`` this package does not know; every field is kept as sent
    (no ``event_id`` is invented for it)."""

    type: str
    event_id: str | None = None


KnownServerEvent = (
    SessionCreated
    | SessionUpdated
    | ConversationItemCreated
    | ConversationItemDeleted
    | ConversationItemTruncated
    | ResponseCreated
    | ResponseDone
    | RateLimitsUpdated
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseAudioDelta
    | ResponseAudioDone
    | ResponseAudioTranscriptDelta
    | ResponseAudioTranscriptDone
    | ResponseTextDelta
    | ResponseTextDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | ConversationItemInputAudioTranscriptionCompleted
    | ConversationItemInputAudioTranscriptionFailed
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | ErrorEvent
    # sent by the service, not in the spec:
    | ConversationCreated
    | ConversationItemInputAudioTranscriptionDelta
)
#: What ``parse_server_event`` returns.
ServerEvent = KnownServerEvent | UnknownServerEvent

#: Discriminated on ``type``: pydantic looks the tag up instead of trying each model.
DiscriminatedServerEvent = Annotated[KnownServerEvent, Field(discriminator="type")]

#: wire ``type`` -> model class: the spec's 27 events and the 2 extras.
SERVER_EVENT_TYPES: dict[str, type[ServerEventBase]] = {
    cls.model_fields["type"].default: cls for cls in KnownServerEvent.__args__
}
#: Events the service sent that the spec lacks (clients must tolerate unknown types).
EXTRA_SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    {"conversation.created", "conversation.item.input_audio_transcription.delta"}
)
#: The 27 events of the spec's discriminator mapping.
SPEC_SERVER_EVENT_TYPES: frozenset[str] = frozenset(SERVER_EVENT_TYPES) - EXTRA_SERVER_EVENT_TYPES
