"""Shared types of the preview dialect: sessions, items, content parts, responses, usage,
rate limits, errors, tools, tool choice, turn detection, voices and audio formats.

Every model derives from :class:`WireModel`, which fixes the wire rules once:

* unknown fields are kept and re-emitted (forward compatibility);
* validation is strict (``"3"`` is not an integer) except where
  ``docs/protocol-decisions.md`` says otherwise;
* ``None`` in an optional field means "not given" and is left out of the wire form,
  except for fields that are required-but-nullable on the wire (``_always_emit``) and
  fields whose explicit ``null`` means something (``_null_if_set``, e.g.
  ``session.turn_detection: null`` = "turn detection off").

Names of request-side shapes start with ``Request`` where the response-side shape
differs (the spec does the same).
"""

from __future__ import annotations

import os
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "AUDIO_FORMATS",
    "KNOWN_VOICES",
    "ApiError",
    "AudioFormat",
    "AudioPart",
    "CancelledStatusDetails",
    "ContentPartType",
    "Conversation",
    "FailedStatusDetails",
    "FunctionRef",
    "FunctionTool",
    "IncompleteStatusDetails",
    "InputAudioPart",
    "InputTextPart",
    "InputTokenDetails",
    "ItemStatus",
    "MaxTokens",
    "Milliseconds",
    "Modality",
    "NoTurnDetection",
    "NonNegativeInt",
    "OutputTokenDetails",
    "RateLimit",
    "RequestContentPart",
    "RequestFunctionCallItem",
    "RequestFunctionCallOutputItem",
    "RequestItem",
    "RequestMessageItem",
    "Response",
    "ResponseContentPart",
    "ResponseCreateParams",
    "ResponseFunctionCallItem",
    "ResponseFunctionCallOutputItem",
    "ResponseInputAudioPart",
    "ResponseItem",
    "ResponseMessageItem",
    "ResponseStatus",
    "Role",
    "ServerVad",
    "Session",
    "SessionUpdateParams",
    "StatusDetails",
    "TextPart",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolChoiceMode",
    "TranscriptionSettings",
    "TurnDetection",
    "Usage",
    "Voice",
    "WireModel",
    "new_event_id",
]


def new_event_id() -> str:
    """``event_`` + 20 random hex digits: unique, cheap, shaped like the service's ids."""
    return "event_" + os.urandom(10).hex()


# --------------------------------------------------------------------------- base model


class WireModel(BaseModel):
    """Base of every protocol model: strict, extra fields kept, sparse wire form."""

    model_config = ConfigDict(
        extra="allow",  # forward compatibility: unknown fields survive parse -> emit
        strict=True,  # "3" is not an int; errors name the field instead of coercing
        allow_inf_nan=False,  # NaN/Infinity are not JSON
        # Field names are the wire names; none starts with model_ but `model` is one.
        protected_namespaces=(),
    )

    # Optional fields (default None) that are nevertheless always emitted, as null:
    # required-but-nullable fields of the spec or of the clients (e.g. `previous_item_id`).
    _always_emit: ClassVar[frozenset[str]] = frozenset()
    # Optional fields whose explicit null is meaningful and re-emitted when it was given.
    _null_if_set: ClassVar[frozenset[str]] = frozenset()
    # Computed per class: optional fields to drop from the wire form when they are None.
    _omit_if_none: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._omit_if_none = tuple(
            name
            for name, field in cls.model_fields.items()
            if not field.is_required() and field.default is None and name not in cls._always_emit
        )

    @model_serializer(mode="wrap")
    def _wire_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        omit = self._omit_if_none
        if omit:  # the hot audio events have nothing to omit and skip this loop
            keep, given = self._null_if_set, self.model_fields_set
            for name in omit:
                if name in data and data[name] is None and not (name in keep and name in given):
                    del data[name]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The wire form as plain JSON-compatible Python values."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The wire form as compact JSON text."""
        return self.model_dump_json()


# --------------------------------------------------------------------------- scalars

NonNegativeInt = Annotated[int, Field(ge=0)]

#: Voices the preview service offered. Any string is accepted (the spec's voice type is
#: an open string and the list kept growing); the engine rejects voices it cannot speak.
KNOWN_VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
)
Voice = str

#: OpenAI spells G.711 with an underscore, Azure's rtclient with a dash; both are accepted
#: and echoed back exactly as the client set them.
AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw", "g711-ulaw", "g711-alaw"]
AUDIO_FORMATS: tuple[str, ...] = ("pcm16", "g711_ulaw", "g711_alaw", "g711-ulaw", "g711-alaw")

Modality = Literal["text", "audio"]
Role = Literal["system", "user", "assistant"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]
ResponseStatus = Literal["in_progress", "completed", "cancelled", "incomplete", "failed"]
ContentPartType = Literal["input_text", "input_audio", "text", "audio"]
ToolChoiceMode = Literal["auto", "none", "required"]
#: A token limit: an integer, or "inf" for the model's maximum.
MaxTokens = int | Literal["inf"]


def _milliseconds(value: Any) -> Any:
    # The spec types server_vad durations as strings, the service sends integers:
    # integers are canonical, numeric strings ("300") are accepted and normalised.
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        raise PydanticCustomError("invalid_type", "an integer number of milliseconds")
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("invalid_type", "an integer number of milliseconds")
    if value < 0:
        raise PydanticCustomError("invalid_value", "a non-negative integer number of milliseconds")
    return value


Milliseconds = Annotated[int, BeforeValidator(_milliseconds)]


def _unit_interval(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # One readable message for "not a number" and "out of range" alike.
    try:
        return handler(value)
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        code = "invalid_type" if kind.endswith("_type") else "invalid_value"
        raise PydanticCustomError(code, "a number between 0 and 1") from None


UnitInterval = Annotated[float, Field(ge=0.0, le=1.0), WrapValidator(_unit_interval)]


# --------------------------------------------------------------------------- turn detection


class ServerVad(WireModel):
    """Voice activity detection by the server (the only real mode of the preview)."""

    type: Literal["server_vad"] = "server_vad"
    threshold: UnitInterval | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Milliseconds | None = None


class NoTurnDetection(WireModel):
    """Azure's spelling of "turn detection off"; OpenAI's is ``null``. Both are accepted."""

    type: Literal["none"] = "none"


class SemanticVad(WireModel):
    """GA clients' ``semantic_vad`` (after translation). The local engine runs it as
    server VAD whose silence duration follows ``eagerness`` (docs/protocol-decisions.md)."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None


TurnDetection = Annotated[ServerVad | SemanticVad | NoTurnDetection, Field(discriminator="type")]


class TranscriptionSettings(WireModel):
    """``input_audio_transcription``: which model transcribes the user's audio."""

    model: str = "whisper-1"


# --------------------------------------------------------------------------- tools


class FunctionTool(WireModel):
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    type: Literal["function"] = "function"
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class FunctionRef(WireModel):
    name: str


class ToolChoiceFunction(WireModel):
    """Force one function. Three spellings exist and all are kept as given:
    spec ``{"function": {"name": f}}``, rtclient ``{"function": f}``, OpenAI ``{"name": f}``."""

    type: Literal["function"] = "function"
    function: FunctionRef | str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _has_a_name(self) -> ToolChoiceFunction:
        if self.function is None and self.name is None:
            raise PydanticCustomError(
                "missing_required_parameter",
                "a function tool choice needs 'function': {'name': ...}",
            )
        return self

    @property
    def function_name(self) -> str:
        """The chosen function's name, whichever spelling carried it."""
        if isinstance(self.function, FunctionRef):
            return self.function.name
        return self.function if self.function is not None else str(self.name)


ToolChoice = ToolChoiceMode | ToolChoiceFunction


# --------------------------------------------------------------------------- content parts


class InputTextPart(WireModel):
    type: Literal["input_text"] = "input_text"
    text: str


class InputAudioPart(WireModel):
    """User audio sent by a client. ``audio`` (base64, not decoded here) is what clients
    send although the spec only lists ``transcript``."""

    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    transcript: str | None = None


class ResponseInputAudioPart(WireModel):
    """User audio as the server reports it: ``transcript`` is always present, ``null``
    until transcribed (the service's shape; rtclient requires the key)."""

    _always_emit = frozenset({"transcript"})

    type: Literal["input_audio"] = "input_audio"
    transcript: str | None = None
    audio: str | None = None


class TextPart(WireModel):
    type: Literal["text"] = "text"
    text: str


class AudioPart(WireModel):
    """Assistant audio; the audio itself travels in ``response.audio.delta`` events."""

    _always_emit = frozenset({"transcript"})  # required and nullable in the spec

    type: Literal["audio"] = "audio"
    transcript: str | None = None
    audio: str | None = None


RequestContentPart = Annotated[
    InputTextPart | InputAudioPart | TextPart | AudioPart, Field(discriminator="type")
]
ResponseContentPart = Annotated[
    InputTextPart | ResponseInputAudioPart | TextPart | AudioPart, Field(discriminator="type")
]


# --------------------------------------------------------------------------- items


class RequestMessageItem(WireModel):
    """A message a client adds (``conversation.item.create``, ``response.create``)."""

    id: str | None = None
    type: Literal["message"] = "message"
    role: Role
    content: list[RequestContentPart]
    status: ItemStatus | None = None


class RequestFunctionCallItem(WireModel):
    id: str | None = None
    type: Literal["function_call"] = "function_call"
    name: str
    call_id: str
    arguments: str
    status: ItemStatus | None = None


class RequestFunctionCallOutputItem(WireModel):
    """The result of a function call, sent back by the client."""

    id: str | None = None
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    status: ItemStatus | None = None


RequestItem = Annotated[
    RequestMessageItem | RequestFunctionCallItem | RequestFunctionCallOutputItem,
    Field(discriminator="type"),
]


class RequestItemReference(WireModel):
    """``{"type": "message", "id": ...}``: an item already in the conversation, used as
    response input (the spec's ``RealtimeRequestMessageReferenceItem``; GA ``item_reference``)."""

    type: Literal["message"]  # required (the spec): an item without a type is not a reference
    id: str


# A full item first; a bare reference only when that fails (both have type "message").
ResponseInputItem = Annotated[RequestItem | RequestItemReference, Field(union_mode="left_to_right")]


class ResponseMessageItem(WireModel):
    """A message as the server reports it (``object`` and ``id`` always present)."""

    _always_emit = frozenset({"id"})  # required and nullable in the spec

    id: str | None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    role: Role
    content: list[ResponseContentPart] = Field(default_factory=list)
    status: ItemStatus = "completed"


class ResponseFunctionCallItem(WireModel):
    _always_emit = frozenset({"id"})

    id: str | None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call"] = "function_call"
    name: str
    call_id: str
    arguments: str
    status: ItemStatus = "completed"


class ResponseFunctionCallOutputItem(WireModel):
    _always_emit = frozenset({"id"})

    id: str | None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    status: ItemStatus | None = None


ResponseItem = Annotated[
    ResponseMessageItem | ResponseFunctionCallItem | ResponseFunctionCallOutputItem,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- sessions


class SessionUpdateParams(WireModel):
    """The ``session`` of ``session.update``: a partial update, so nothing has a default.
    ``turn_detection``, ``input_audio_transcription`` and ``max_response_output_tokens``
    may be ``null`` ("off" / "no limit"); that null is kept."""

    _null_if_set = frozenset(
        {"turn_detection", "input_audio_transcription", "max_response_output_tokens"}
    )

    model: str | None = None
    modalities: list[Modality] | None = None
    voice: Voice | None = None
    instructions: str | None = None
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    input_audio_transcription: TranscriptionSettings | None = None
    turn_detection: TurnDetection | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    max_response_output_tokens: MaxTokens | None = None


def _default_modalities() -> list[Modality]:
    return ["text", "audio"]


def _default_vad() -> ServerVad:
    return ServerVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)


class Session(WireModel):
    """The full session the server reports in ``session.created`` / ``session.updated``.
    Defaults are the service's documented defaults."""

    _always_emit = frozenset(
        {"input_audio_transcription", "turn_detection", "max_response_output_tokens"}
    )

    object: Literal["realtime.session"] = "realtime.session"
    id: str
    model: str
    modalities: list[Modality] = Field(default_factory=_default_modalities)
    instructions: str = ""
    voice: Voice = "alloy"
    input_audio_format: AudioFormat = "pcm16"
    output_audio_format: AudioFormat = "pcm16"
    input_audio_transcription: TranscriptionSettings | None = None
    turn_detection: TurnDetection | None = Field(default_factory=_default_vad)
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    temperature: float = 0.8
    max_response_output_tokens: MaxTokens | None = "inf"


# --------------------------------------------------------------------------- response.create


class ResponseCreateParams(WireModel):
    """The ``response`` of ``response.create``, per the spec's schema (its prose about
    ``conversation_label`` / ``append_messages`` is stale). ``commit`` and
    ``cancel_previous`` are required by the spec and default to true; whether a client
    sent them is visible in ``model_fields_set``."""

    _null_if_set = frozenset({"max_output_tokens"})  # nullable in the spec

    commit: bool = True
    cancel_previous: bool = True
    append_input_items: list[RequestItem] | None = None
    input_items: list[ResponseInputItem] | None = None
    instructions: str | None = None
    modalities: list[Modality] | None = None
    voice: Voice | None = None
    temperature: float | None = None
    max_output_tokens: MaxTokens | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    output_audio_format: AudioFormat | None = None


# --------------------------------------------------------------------------- responses


class CancelledStatusDetails(WireModel):
    type: Literal["cancelled"] = "cancelled"
    reason: Literal["turn_detected", "client_cancelled"]


class IncompleteStatusDetails(WireModel):
    type: Literal["incomplete"] = "incomplete"
    reason: Literal["max_output_tokens", "content_filter"]


class FailedStatusDetails(WireModel):
    type: Literal["failed"] = "failed"
    error: Any  # the spec leaves its shape open; the service sent an ApiError-like object


StatusDetails = Annotated[
    CancelledStatusDetails | IncompleteStatusDetails | FailedStatusDetails,
    Field(discriminator="type"),
]


class InputTokenDetails(WireModel):
    cached_tokens: NonNegativeInt = 0  # a subset of input_tokens, never added to it
    text_tokens: NonNegativeInt = 0
    audio_tokens: NonNegativeInt = 0


class OutputTokenDetails(WireModel):
    text_tokens: NonNegativeInt = 0
    audio_tokens: NonNegativeInt = 0


class Usage(WireModel):
    total_tokens: NonNegativeInt = 0
    input_tokens: NonNegativeInt = 0
    output_tokens: NonNegativeInt = 0
    input_token_details: InputTokenDetails = Field(default_factory=InputTokenDetails)
    output_token_details: OutputTokenDetails = Field(default_factory=OutputTokenDetails)


class Response(WireModel):
    """A model response (``response.created`` / ``response.done``).

    ``usage`` defaults to all zeros, which the spec accepts; the service sent ``null``
    in ``response.created``, which is parsed and kept as ``None``."""

    _always_emit = frozenset({"status_details", "usage"})

    object: Literal["realtime.response"] = "realtime.response"
    id: str
    status: ResponseStatus = "in_progress"
    status_details: StatusDetails | None = None
    output: list[ResponseItem] = Field(default_factory=list)
    usage: Usage | None = Field(default_factory=Usage)


class RateLimit(WireModel):
    name: str
    limit: NonNegativeInt
    remaining: NonNegativeInt
    reset_seconds: float


class ApiError(WireModel):
    """The ``error`` object of ``error`` and of a failed transcription.
    Absent ``code`` / ``param`` / ``event_id`` are left out (the spec does not allow null)."""

    type: str
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None


class Conversation(WireModel):
    """The ``conversation`` of ``conversation.created`` (sent by the service, not in the spec)."""

    id: str | None = None
    object: Literal["realtime.conversation"] = "realtime.conversation"
