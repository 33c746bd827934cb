"""Translation of wire dicts between the preview dialect (our spec) and the GA dialect.

Every public translator is a pure function ``dict -> list[dict]`` (zero, one or several
events out; the input is never changed). An event with no counterpart in the target
dialect passes through marked ``MARKER: "<source dialect>"``; a marked event coming back
to its own dialect loses the marker. ``LOSSY_FIELDS`` and ``NORMALISATIONS`` list what a
round trip cannot keep or makes canonical.

The mapping, event by event and field by field, with the reasons: docs/protocol-decisions.md,
section "Preview <-> GA translation".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "CLIENT_SHARED_EVENTS",
    "GA_ONLY_CLIENT_EVENTS",
    "GA_ONLY_SERVER_EVENTS",
    "LOSSY_FIELDS",
    "MARKER",
    "NORMALISATIONS",
    "PREVIEW_SESSION_DEFAULTS",
    "SERVER_RENAMES",
    "SERVER_SHARED_EVENTS",
    "client_ga_to_preview",
    "client_preview_to_ga",
    "format_ga_to_preview",
    "format_preview_to_ga",
    "modalities_ga_to_preview",
    "modalities_preview_to_ga",
    "param_ga_to_preview",
    "param_preview_to_ga",
    "server_ga_to_preview",
    "server_preview_to_ga",
    "session_ga_to_preview",
    "session_preview_to_ga",
    "turn_detection_preview_to_ga",
]

Event = dict[str, Any]

MARKER = "x_untranslated"
_PREVIEW = "preview"
_GA = "ga"

LOSSY_FIELDS: dict[str, str] = {
    "session.temperature": (
        "GA has no temperature. It is dropped going to GA (GA servers reject unknown "
        "parameters), and session.created/updated coming from GA report the default 0.8."
    ),
    "response.create.temperature / response.temperature": (
        "GA has no per-response temperature. It is dropped going to GA."
    ),
    "response.create.cancel_previous": (
        "GA has no counterpart (a second response.create while one is active is an "
        "error). It is dropped going to GA, and is always false coming from GA."
    ),
    "response.create.append_input_items with commit=false": (
        "GA has no 'append, then discard' mode. The items are sent as "
        "conversation.item.create before the response, so they stay in the conversation."
    ),
    "response.create.conversation (values other than auto/none)": (
        "preview only knows commit true/false; an unknown value is kept as an "
        "extra 'conversation' key."
    ),
    "conversation.item.done (synthesised from response.output_item.done)": (
        "the stateless translator does not know previous_item_id, so it is left out."
    ),
    "G.711 spelling": (
        "GA has one name per format; 'g711-ulaw'/'g711-alaw' come back as "
        "'g711_ulaw'/'g711_alaw' (a relay that must echo the client's spelling has to "
        "remember it)."
    ),
    "GA session type 'transcription'": (
        "no preview counterpart; such session.update/created/updated events are passed "
        "through marked x_untranslated='ga'."
    ),
}

NORMALISATIONS: dict[str, str] = {
    "modalities": "['audio'] and ['text','audio'] -> GA ['audio'] -> preview ['text','audio']",
    "turn_detection": "{'type':'none'} -> null; numeric-string *_ms -> int",
    "max_response_output_tokens / max_output_tokens": "null -> 'inf'",
    "tool_choice": (
        "{'type':'function','name':N} (GA) <-> {'type':'function','function':{'name':N}}"
    ),
    "response.text.done": "preview gets both 'text' and 'value'; GA gets 'text' only",
    "conversation.item.truncated": "preview gets both 'content_index' and 'index'",
    "conversation.item.created": "previous_item_id is null when GA leaves it out",
    "assistant request parts": "'input_text' -> GA 'output_text' -> preview 'text'",
    "content_part events": "part type 'output_text'/'output_audio' -> 'text'/'audio'",
    "server items from GA": "'object': 'realtime.item' added when missing",
    "response objects from GA": "missing required keys filled (object, status, ...)",
    "response.create from GA": "commit/cancel_previous always present",
}

# --------------------------------------------------------------------------------------
# event name tables
# --------------------------------------------------------------------------------------

SERVER_RENAMES: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}
"""preview server event name -> GA name (pure renames)."""

_SERVER_RENAMES_TO_PREVIEW = {ga: pv for pv, ga in SERVER_RENAMES.items()}

SERVER_SHARED_EVENTS = frozenset(
    {
        "error",
        "rate_limits.updated",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        # not in the spec, but part of our preview dialect (NOTES.md; the protocol
        # package models them), and identical in GA
        "conversation.created",
        "conversation.item.input_audio_transcription.delta",
    }
)
"""Server events that are identical in both dialects."""

GA_ONLY_SERVER_EVENTS = frozenset(
    {
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)
"""GA server events with no counterpart in the preview dialect."""

CLIENT_SHARED_EVENTS = frozenset(
    {
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.delete",
        "conversation.item.truncate",
        "response.cancel",
    }
)
"""Client events that are identical in both dialects."""

GA_ONLY_CLIENT_EVENTS = frozenset({"conversation.item.retrieve", "output_audio_buffer.clear"})
"""GA client events with no counterpart among the spec's 9 client events."""

# --------------------------------------------------------------------------------------
# small generic helpers
# --------------------------------------------------------------------------------------

_MISSING: Any = object()


def _clone(obj: Any) -> Any:
    """Copy a JSON-like value (dicts and lists recursively; everything else is shared)."""
    if isinstance(obj, Mapping):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    return obj


def _same(value: Any) -> Any:
    return value


def _mark(ev: Event, dialect: str) -> list[Event]:
    ev[MARKER] = dialect
    return [ev]


def _derived_event_id(ev: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """``{"event_id": "<id>_<suffix>"}`` for a synthesised event, or ``{}``."""
    if "event_id" not in ev:
        return {}
    eid = ev["event_id"]
    return {"event_id": f"{eid}_{suffix}" if isinstance(eid, str) and eid else eid}


def _set_path(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        nxt = d.get(key)
        if not isinstance(nxt, dict):
            nxt = d[key] = {}
        d = nxt
    d[path[-1]] = value


def _pop_path(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Pop ``path`` from ``d``; containers along it that are (left) empty are removed."""
    parents = []
    for key in path[:-1]:
        nxt = d.get(key)
        if not isinstance(nxt, dict):
            return _MISSING
        parents.append((d, key))
        d = nxt
    value = d.pop(path[-1], _MISSING)
    for parent, key in reversed(parents):
        if parent[key]:
            break
        del parent[key]
    return value


def _merge_missing(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """Add ``src``'s keys to ``dst``; on conflicts ``dst`` wins (dicts are merged)."""
    for key, value in src.items():
        if key not in dst:
            dst[key] = value
        elif isinstance(dst[key], dict) and isinstance(value, Mapping):
            _merge_missing(dst[key], value)


# A field table row: (preview key, GA path, preview->GA converter, GA->preview converter)
_Field = tuple[str, tuple[str, ...], Callable[[Any], Any], Callable[[Any], Any]]


def _nest(flat: dict[str, Any], fields: tuple[_Field, ...], dropped: tuple[str, ...]) -> Event:
    """Preview (flat) -> GA (nested) with a field table; unknown keys pass through."""
    out: Event = {}
    rest = dict(flat)
    for key in dropped:
        rest.pop(key, None)
    for pkey, path, to_ga, _ in fields:
        if pkey in rest:
            _set_path(out, path, to_ga(rest.pop(pkey)))
    _merge_missing(out, rest)
    return out


def _flatten(nested: dict[str, Any], fields: tuple[_Field, ...]) -> Event:
    """GA (nested) -> preview (flat) with a field table; unknown keys pass through."""
    out: Event = {}
    for pkey, path, _, to_preview in fields:
        value = _pop_path(nested, path)
        if value is not _MISSING:
            out[pkey] = to_preview(value)
    for key, value in nested.items():
        out.setdefault(key, value)
    return out


# --------------------------------------------------------------------------------------
# value helpers: formats, modalities, turn detection, tokens, tool choice
# --------------------------------------------------------------------------------------

_FORMAT_TO_GA: dict[str, tuple[str, int | None]] = {
    "pcm16": ("audio/pcm", 24000),
    "g711_ulaw": ("audio/pcmu", None),
    "g711-ulaw": ("audio/pcmu", None),
    "g711_alaw": ("audio/pcma", None),
    "g711-alaw": ("audio/pcma", None),
}
_FORMAT_TO_PREVIEW = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}


def format_preview_to_ga(fmt: Any) -> dict[str, Any]:
    """``"pcm16"`` -> ``{"type": "audio/pcm", "rate": 24000}``; G.711 (either spelling)
    -> ``{"type": "audio/pcmu"}`` / ``{"type": "audio/pcma"}``. A GA format dict is
    checked and copied. Raises ``ValueError`` for anything else."""
    if isinstance(fmt, Mapping):
        format_ga_to_preview(fmt)
        return _clone(fmt)
    if isinstance(fmt, str) and fmt.strip().lower() in _FORMAT_TO_GA:
        mime, rate = _FORMAT_TO_GA[fmt.strip().lower()]
        return {"type": mime, "rate": rate} if rate else {"type": mime}
    raise ValueError(f"unknown preview audio format {fmt!r}")


def format_ga_to_preview(fmt: Any) -> str:
    """``{"type": "audio/pcm", "rate": 24000}`` -> ``"pcm16"``, ``audio/pcmu`` ->
    ``"g711_ulaw"``, ``audio/pcma`` -> ``"g711_alaw"``. Bare MIME strings and preview
    names (either G.711 spelling) are accepted too. Raises ``ValueError`` otherwise."""
    if isinstance(fmt, str):
        key = fmt.strip().lower()
        if key in _FORMAT_TO_PREVIEW:
            return _FORMAT_TO_PREVIEW[key]
        if key in _FORMAT_TO_GA:
            return _FORMAT_TO_PREVIEW[_FORMAT_TO_GA[key][0]]
    elif isinstance(fmt, Mapping):
        name = _FORMAT_TO_PREVIEW.get(fmt.get("type"))  # type: ignore[arg-type]
        rate = fmt.get("rate")
        if name == "pcm16" and rate not in (None, 24000):
            raise ValueError(f"audio/pcm is only supported at 24000 Hz, not {rate!r}")
        if name is not None:
            return name
    raise ValueError(f"unknown GA audio format {fmt!r}")


def _lenient(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a converter so that values it rejects pass through (the peer reports them)."""

    def convert(value: Any) -> Any:
        try:
            return fn(value)
        except ValueError:
            return value

    return convert


_format_to_ga = _lenient(format_preview_to_ga)
_format_to_preview = _lenient(format_ga_to_preview)


def modalities_preview_to_ga(modalities: Any) -> Any:
    """GA allows exactly one output modality, and GA audio output always carries its
    transcript. So any list with ``"audio"`` -> ``["audio"]``, otherwise ``["text"]``."""
    if not isinstance(modalities, (list, tuple)) or not modalities:
        return _clone(modalities)
    return ["audio"] if "audio" in modalities else ["text"]


def modalities_ga_to_preview(modalities: Any) -> Any:
    """``["audio"]`` (audio plus transcript) -> ``["text", "audio"]``."""
    if not isinstance(modalities, (list, tuple)):
        return modalities
    return ["text", "audio"] if "audio" in modalities else list(modalities)


_MS_FIELDS = ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
_MS_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:ms)?\s*$", re.IGNORECASE)
_ISO_SECONDS_RE = re.compile(r"^\s*PT(\d+(?:\.\d*)?)S\s*$", re.IGNORECASE)


def _to_ms(value: Any) -> Any:
    """``300``, ``300.0``, ``"300"``, ``"300ms"``, ``"PT0.3S"`` -> ``300``; else unchanged."""
    if isinstance(value, float):
        return round(value) if math.isfinite(value) else value
    if isinstance(value, str):
        match = _MS_RE.match(value)
        if match:
            return round(float(match.group(1)))
        match = _ISO_SECONDS_RE.match(value)
        if match:
            return round(float(match.group(1)) * 1000)
    return value


def turn_detection_preview_to_ga(turn_detection: Any) -> Any:
    """``null`` and Azure's ``{"type": "none"}`` -> ``None`` (off); numeric-string
    millisecond fields -> ints; everything else is copied."""
    if turn_detection is None:
        return None
    if not isinstance(turn_detection, Mapping):
        return turn_detection
    if turn_detection.get("type") == "none":
        return None
    out = _clone(turn_detection)
    for key in _MS_FIELDS:
        if key in out:
            out[key] = _to_ms(out[key])
    return out


def _max_tokens_to_ga(value: Any) -> Any:
    if value is None:
        return "inf"
    if isinstance(value, str):
        stripped = value.strip().lower()
        if stripped == "inf":
            return "inf"
        if stripped.isdigit():
            return int(stripped)
    return value


def _tool_choice_to_ga(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, Mapping):
            out = {k: v for k, v in choice.items() if k != "function"}
            out.setdefault("name", function.get("name"))
            return out
    return choice


def _tool_choice_to_preview(choice: Any) -> Any:
    is_function = isinstance(choice, dict) and choice.get("type") == "function"
    if is_function and "name" in choice and "function" not in choice:
        out = {k: v for k, v in choice.items() if k != "name"}
        out["function"] = {"name": choice["name"]}
        return out
    return choice


# --------------------------------------------------------------------------------------
# items and content parts
# --------------------------------------------------------------------------------------

_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
_PART_TO_PREVIEW = {"output_text": "text", "output_audio": "audio"}


def _item_to_ga(item: Any, *, in_input: bool = False) -> Any:
    """Change an item's content part types in place (``item`` is already a copy)."""
    if not isinstance(item, dict):
        return item
    if in_input and _is_preview_reference(item):
        return {"type": "item_reference", "id": item["id"]}
    content = item.get("content")
    if item.get("type", "message") == "message" and isinstance(content, list):
        assistant = item.get("role") == "assistant"
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in _PART_TO_GA:
                part["type"] = _PART_TO_GA[kind]
            elif assistant and kind == "input_text":
                part["type"] = "output_text"
    return item


def _is_preview_reference(item: Mapping[str, Any]) -> bool:
    return (
        item.get("type") == "message"
        and "id" in item
        and "role" not in item
        and "content" not in item
    )


def _item_to_preview(item: Any, *, server: bool = False, in_input: bool = False) -> Any:
    if not isinstance(item, dict):
        return item
    if in_input and item.get("type") == "item_reference" and "id" in item:
        return {"type": "message", "id": item["id"]}
    content = item.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in _PART_TO_PREVIEW:
                part["type"] = _PART_TO_PREVIEW[part["type"]]
    if server:
        item.setdefault("object", "realtime.item")
    return item


def _items_to_ga(items: Any) -> Any:
    return [_item_to_ga(i) for i in items] if isinstance(items, list) else items


def _input_items_to_ga(items: Any) -> Any:
    return [_item_to_ga(i, in_input=True) for i in items] if isinstance(items, list) else items


def _server_items_to_preview(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [_item_to_preview(i, server=True) for i in items]


def _input_items_to_preview(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [_item_to_preview(i, in_input=True) for i in items]


def _part_to_plain(ev: Event) -> list[Event]:
    """Content part events use ``text``/``audio`` in both dialects (GA included)."""
    part = ev.get("part")
    if isinstance(part, dict) and part.get("type") in _PART_TO_PREVIEW:
        part["type"] = _PART_TO_PREVIEW[part["type"]]
    return [ev]


def _item_is_complete(item: Mapping[str, Any]) -> bool:
    if item.get("status") != "in_progress":
        return True
    if item.get("type") == "function_call_output":
        return True
    return item.get("type", "message") == "message" and item.get("role") in ("user", "system")


# --------------------------------------------------------------------------------------
# sessions and responses
# --------------------------------------------------------------------------------------

_SESSION_FIELDS: tuple[_Field, ...] = (
    ("modalities", ("output_modalities",), modalities_preview_to_ga, modalities_ga_to_preview),
    ("input_audio_format", ("audio", "input", "format"), _format_to_ga, _format_to_preview),
    ("input_audio_transcription", ("audio", "input", "transcription"), _same, _same),
    ("turn_detection", ("audio", "input", "turn_detection"), turn_detection_preview_to_ga, _same),
    ("input_audio_noise_reduction", ("audio", "input", "noise_reduction"), _same, _same),
    ("output_audio_format", ("audio", "output", "format"), _format_to_ga, _format_to_preview),
    ("voice", ("audio", "output", "voice"), _same, _same),
    ("speed", ("audio", "output", "speed"), _same, _same),
    ("tool_choice", ("tool_choice",), _tool_choice_to_ga, _tool_choice_to_preview),
    ("max_response_output_tokens", ("max_output_tokens",), _max_tokens_to_ga, _same),
)
_DROPPED_TO_GA = ("temperature",)

_GA_DEFAULT_TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
}

PREVIEW_SESSION_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("object", "realtime.session"),
    ("id", ""),
    ("model", ""),
    ("modalities", ["text", "audio"]),
    ("instructions", ""),
    ("voice", "alloy"),
    ("input_audio_format", "pcm16"),
    ("output_audio_format", "pcm16"),
    ("input_audio_transcription", None),
    ("turn_detection", _GA_DEFAULT_TURN_DETECTION),
    ("tools", []),
    ("tool_choice", "auto"),
    ("temperature", 0.8),
    ("max_response_output_tokens", "inf"),
)
"""Values for the spec's 14 required session fields when a GA session lacks them."""


def _session_to_ga(session: dict[str, Any]) -> Event:
    out: Event = {"type": "realtime"}
    _merge_missing(out, _nest(session, _SESSION_FIELDS, _DROPPED_TO_GA))
    return out


def _session_to_preview(session: dict[str, Any], fill_defaults: bool) -> Event:
    if session.get("type") == "realtime":
        del session["type"]
    out = _flatten(session, _SESSION_FIELDS)
    if fill_defaults:
        for key, default in PREVIEW_SESSION_DEFAULTS:
            if key not in out:
                out[key] = _clone(default)
    return out


def session_preview_to_ga(session: Mapping[str, Any]) -> Event:
    """A flat preview session (full or a partial ``session.update``) -> a GA session."""
    return _session_to_ga(_clone(session))


def session_ga_to_preview(session: Mapping[str, Any], *, fill_defaults: bool = False) -> Event:
    """A GA session -> a flat preview session. With ``fill_defaults`` the spec's 14
    required fields are completed from ``PREVIEW_SESSION_DEFAULTS`` (server sessions)."""
    return _session_to_preview(_clone(session), fill_defaults)


_RESPONSE_COMMON: tuple[_Field, ...] = (
    ("modalities", ("output_modalities",), modalities_preview_to_ga, modalities_ga_to_preview),
    ("output_audio_format", ("audio", "output", "format"), _format_to_ga, _format_to_preview),
    ("voice", ("audio", "output", "voice"), _same, _same),
    ("tool_choice", ("tool_choice",), _tool_choice_to_ga, _tool_choice_to_preview),
    ("max_output_tokens", ("max_output_tokens",), _max_tokens_to_ga, _same),
)
_RESPONSE_OBJECT_FIELDS = _RESPONSE_COMMON + (
    ("output", ("output",), _items_to_ga, _server_items_to_preview),
)
_RESPONSE_PARAM_FIELDS = _RESPONSE_COMMON + (
    ("input_items", ("input",), _input_items_to_ga, _input_items_to_preview),
)
_RESPONSE_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("object", "realtime.response"),
    ("status", "in_progress"),
    ("status_details", None),
    ("output", []),
    ("usage", None),
)


def _response_object_to_preview(response: dict[str, Any]) -> Event:
    out = _flatten(response, _RESPONSE_OBJECT_FIELDS)
    for key, default in _RESPONSE_DEFAULTS:
        if key not in out:
            out[key] = _clone(default)
    return out


# --------------------------------------------------------------------------------------
# server event handlers
# --------------------------------------------------------------------------------------

_Handler = Callable[[Event], list[Event]]


def _with_session(convert: Callable[[dict[str, Any]], Event], from_ga: bool = False) -> _Handler:
    def handler(ev: Event) -> list[Event]:
        session = ev.get("session")
        if isinstance(session, dict):
            if from_ga and session.get("type", "realtime") != "realtime":
                return _mark(ev, _GA)  # e.g. a GA transcription session
            ev["session"] = convert(session)
        return [ev]

    return handler


def _with_response(convert: Callable[[dict[str, Any]], Event]) -> _Handler:
    def handler(ev: Event) -> list[Event]:
        if isinstance(ev.get("response"), dict):
            ev["response"] = convert(ev["response"])
        return [ev]

    return handler


def _with_item(convert: Callable[[Any], Any]) -> _Handler:
    def handler(ev: Event) -> list[Event]:
        if "item" in ev:
            ev["item"] = convert(ev["item"])
        return [ev]

    return handler


def _rename(new_type: str, fix: Callable[[Event], None] | None = None) -> _Handler:
    def handler(ev: Event) -> list[Event]:
        ev["type"] = new_type
        if fix is not None:
            fix(ev)
        return [ev]

    return handler


def _text_done_to_ga(ev: Event) -> None:
    value = ev.pop("value", None)
    if "text" not in ev:
        ev["text"] = value if value is not None else ""


def _text_done_to_preview(ev: Event) -> None:
    text = ev.get("text", ev.get("value"))
    ev["text"] = ev["value"] = text if text is not None else ""


def _truncated_to_ga(ev: Event) -> list[Event]:
    index = ev.pop("index", None)
    if "content_index" not in ev:
        ev["content_index"] = index if index is not None else 0
    return [ev]


def _truncated_to_preview(ev: Event) -> list[Event]:
    if "content_index" not in ev:
        ev["content_index"] = ev.get("index", 0)
    ev["index"] = ev["content_index"]
    return [ev]


def _item_created_to_ga(ev: Event) -> list[Event]:
    item = _item_to_ga(ev.get("item"))
    ev["item"] = item
    ev["type"] = "conversation.item.added"
    if not isinstance(item, dict) or not _item_is_complete(item):
        return [ev]
    done: Event = {"type": "conversation.item.done", **_derived_event_id(ev, "done")}
    if "previous_item_id" in ev:
        done["previous_item_id"] = ev["previous_item_id"]
    done["item"] = _clone(item)
    return [ev, done]


def _output_item_done_to_ga(ev: Event) -> list[Event]:
    item = _item_to_ga(ev.get("item"))
    ev["item"] = item
    if not isinstance(item, dict):
        return [ev]
    done = {"type": "conversation.item.done", **_derived_event_id(ev, "done"), "item": _clone(item)}
    return [done, ev]


def _item_added_to_preview(ev: Event) -> list[Event]:
    ev["type"] = "conversation.item.created"
    ev.setdefault("previous_item_id", None)
    if "item" in ev:
        ev["item"] = _item_to_preview(ev["item"], server=True)
    return [ev]


def _server_item_to_preview(item: Any) -> Any:
    return _item_to_preview(item, server=True)


# -- error params: the field the client sent, in its own dialect -------------------------

_PARAM_TABLES: dict[str, tuple[_Field, ...]] = {
    "session": _SESSION_FIELDS,
    "response": _RESPONSE_PARAM_FIELDS,
}
_PARAM_HEAD = re.compile(r"^(session|response)\.([A-Za-z_]+)((?:[.\[].*)?)$")


def param_preview_to_ga(param: Any) -> Any:
    """``session.turn_detection.threshold`` -> ``session.audio.input.turn_detection.threshold``
    (an error's ``param`` named the way a GA client spelled the field); others unchanged."""
    match = _PARAM_HEAD.match(param) if isinstance(param, str) else None
    if match is None:
        return param
    head, key, tail = match.groups()
    for pkey, path, _, _ in _PARAM_TABLES[head]:
        if pkey == key:
            return ".".join((head, *path)) + tail
    return param


def param_ga_to_preview(param: Any) -> Any:
    """The inverse of :func:`param_preview_to_ga` (longest GA path first)."""
    if not isinstance(param, str):
        return param
    head, _, rest = param.partition(".")
    best: tuple[int, str] | None = None
    for pkey, path, _, _ in _PARAM_TABLES.get(head, ()):
        dotted = ".".join(path)
        if (rest == dotted or rest.startswith((dotted + ".", dotted + "["))) and (
            best is None or len(dotted) > best[0]
        ):
            best = (len(dotted), f"{head}.{pkey}{rest[len(dotted) :]}")
    return best[1] if best else param


def _error_param(translate: Callable[[Any], Any]) -> _Handler:
    def handler(ev: Event) -> list[Event]:
        error = ev.get("error")
        if isinstance(error, dict) and isinstance(error.get("param"), str):
            old, new = error["param"], translate(error["param"])
            message = error.get("message")
            if isinstance(message, str) and message.startswith(old):
                error["message"] = new + message[len(old) :]  # messages start with the param (D27)
            error["param"] = new
        return [ev]

    return handler


_SERVER_TO_GA: dict[str, _Handler] = {
    "error": _error_param(param_preview_to_ga),
    # an engine answering GA conversation.item.retrieve: assistant part types change
    "conversation.item.retrieved": _with_item(_item_to_ga),
    "session.created": _with_session(_session_to_ga),
    "session.updated": _with_session(_session_to_ga),
    "conversation.item.created": _item_created_to_ga,
    "conversation.item.truncated": _truncated_to_ga,
    "response.created": _with_response(lambda r: _nest(r, _RESPONSE_OBJECT_FIELDS, _DROPPED_TO_GA)),
    "response.done": _with_response(lambda r: _nest(r, _RESPONSE_OBJECT_FIELDS, _DROPPED_TO_GA)),
    "response.output_item.added": _with_item(_item_to_ga),
    "response.output_item.done": _output_item_done_to_ga,
    "response.content_part.added": _part_to_plain,
    "response.content_part.done": _part_to_plain,
    **{pv: _rename(ga) for pv, ga in SERVER_RENAMES.items()},
    "response.text.done": _rename(SERVER_RENAMES["response.text.done"], _text_done_to_ga),
}

_SERVER_TO_PREVIEW: dict[str, _Handler] = {
    "error": _error_param(param_ga_to_preview),
    "session.created": _with_session(lambda s: _session_to_preview(s, True), from_ga=True),
    "session.updated": _with_session(lambda s: _session_to_preview(s, True), from_ga=True),
    "conversation.item.added": _item_added_to_preview,
    "conversation.item.created": _item_added_to_preview,
    "conversation.item.truncated": _truncated_to_preview,
    "response.created": _with_response(_response_object_to_preview),
    "response.done": _with_response(_response_object_to_preview),
    "response.output_item.added": _with_item(_server_item_to_preview),
    "response.output_item.done": _with_item(_server_item_to_preview),
    "response.content_part.added": _part_to_plain,
    "response.content_part.done": _part_to_plain,
    **{ga: _rename(pv) for ga, pv in _SERVER_RENAMES_TO_PREVIEW.items()},
    "response.output_text.done": _rename("response.text.done", _text_done_to_preview),
}


class _Direction:
    """One direction of translation: its handlers, and what passes through unchanged."""

    __slots__ = ("handlers", "source", "target", "unchanged", "dropped_when_back")

    def __init__(
        self,
        handlers: dict[str, _Handler],
        source: str,
        unchanged: frozenset[str],
        dropped_when_back: frozenset[str] = frozenset(),
    ):
        self.handlers = handlers
        self.source = source
        self.target = _GA if source == _PREVIEW else _PREVIEW
        self.unchanged = unchanged
        # marked events of the target dialect that this direction synthesises itself
        self.dropped_when_back = dropped_when_back

    def translate(self, event: Mapping[str, Any]) -> list[Event]:
        ev = _clone(event)
        kind = ev.get("type")
        marker = ev.get(MARKER)
        if marker == self.target:  # an event of the target dialect, coming back
            if isinstance(kind, str) and kind in self.dropped_when_back:
                return []
            del ev[MARKER]
            return [ev]
        if marker is not None:  # marked with the source dialect: stays untranslated
            return [ev]
        handler = self.handlers.get(kind)  # type: ignore[arg-type]
        if handler is not None:
            return handler(ev)
        if kind in self.unchanged:
            return [ev]
        return _mark(ev, self.source)


_SERVER_PREVIEW_TO_GA = _Direction(
    _SERVER_TO_GA,
    _PREVIEW,
    SERVER_SHARED_EVENTS | GA_ONLY_SERVER_EVENTS,
    dropped_when_back=frozenset({"conversation.item.done"}),  # see _output_item_done_to_ga
)
_SERVER_GA_TO_PREVIEW = _Direction(_SERVER_TO_PREVIEW, _GA, SERVER_SHARED_EVENTS)


def server_preview_to_ga(event: Mapping[str, Any]) -> list[Event]:
    """Translate one preview server event (the engine's output) for a GA client."""
    return _SERVER_PREVIEW_TO_GA.translate(event)


def server_ga_to_preview(event: Mapping[str, Any]) -> list[Event]:
    """Translate one GA server event (from a hosted service) into the preview dialect."""
    return _SERVER_GA_TO_PREVIEW.translate(event)


# --------------------------------------------------------------------------------------
# client event handlers
# --------------------------------------------------------------------------------------


def _response_create_to_ga(ev: Event) -> list[Event]:
    response = ev.get("response")
    if not isinstance(response, dict):
        return [ev]
    commit = response.pop("commit", True)
    response.pop("cancel_previous", None)
    if "max_response_output_tokens" in response:
        alias = response.pop("max_response_output_tokens")
        response.setdefault("max_output_tokens", alias)
    appended = response.pop("append_input_items", None) or []
    before: list[Event] = []
    if appended and isinstance(response.get("input_items"), list):
        response["input_items"] = response["input_items"] + appended
    else:
        before = [
            {
                "type": "conversation.item.create",
                **_derived_event_id(ev, f"append{i}"),
                "item": _item_to_ga(item),
            }
            for i, item in enumerate(appended)
        ]
    out = _nest(response, _RESPONSE_PARAM_FIELDS, _DROPPED_TO_GA)
    if commit is False:
        out.setdefault("conversation", "none")
    ev["response"] = out
    return before + [ev]


def _response_create_to_preview(ev: Event) -> list[Event]:
    response = ev.get("response")
    response = response if isinstance(response, dict) else {}
    conversation = response.pop("conversation", None)
    flat = _flatten(response, _RESPONSE_PARAM_FIELDS)
    if conversation not in (None, "auto", "none"):
        flat["conversation"] = conversation
    ev["response"] = {"commit": conversation != "none", "cancel_previous": False, **flat}
    return [ev]


_CLIENT_TO_GA: dict[str, _Handler] = {
    "session.update": _with_session(_session_to_ga),
    "response.create": _response_create_to_ga,
    "conversation.item.create": _with_item(_item_to_ga),
}

_CLIENT_TO_PREVIEW: dict[str, _Handler] = {
    "session.update": _with_session(lambda s: _session_to_preview(s, False), from_ga=True),
    "response.create": _response_create_to_preview,
    "conversation.item.create": _with_item(_item_to_preview),
}


_CLIENT_PREVIEW_TO_GA = _Direction(
    _CLIENT_TO_GA, _PREVIEW, CLIENT_SHARED_EVENTS | GA_ONLY_CLIENT_EVENTS
)
_CLIENT_GA_TO_PREVIEW = _Direction(_CLIENT_TO_PREVIEW, _GA, CLIENT_SHARED_EVENTS)


def client_preview_to_ga(event: Mapping[str, Any]) -> list[Event]:
    """Translate one preview client event for a hosted GA service (the relay side)."""
    return _CLIENT_PREVIEW_TO_GA.translate(event)


def client_ga_to_preview(event: Mapping[str, Any]) -> list[Event]:
    """Translate one GA client event for the local (preview) engine."""
    return _CLIENT_GA_TO_PREVIEW.translate(event)
