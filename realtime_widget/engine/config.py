"""Session configuration: the service's defaults, and ``session.update`` merging.

Values are checked the way the hosted service checks them, and a bad value raises
``ProtocolError`` whose ``param`` names the field (``session.turn_detection.threshold``).
"""

from __future__ import annotations

import copy
from typing import Any

from ..audio import normalize_format
from ..protocol import ProtocolError
from .ga_fields import GA_SESSION_CHECKS, first_leaf

VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)  # GA adds the last two
MODALITY_SETS = ({"text"}, {"text", "audio"}, {"audio"})
TEMPERATURE_RANGE = (0.6, 1.2)  # the service rejects values outside this range
MAX_OUTPUT_TOKENS = 4096
DEFAULT_MODEL = "local-realtime"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant running locally. Keep answers short."
)
# GA semantic_vad's eagerness values (realised in engine/speech/end_of_turn.py, decision D35).
EAGERNESS = ("low", "medium", "high", "auto")
DEFAULT_SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
}


def default_session(session_id: str, model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The session a new connection gets: the hosted service's documented defaults."""
    return {
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "turn_detection": dict(DEFAULT_SERVER_VAD),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


def _invalid(param: str, message: str, code: str = "invalid_value") -> ProtocolError:
    return ProtocolError(f"{param}: {message}", code=code, param=param)


def check_modalities(value: Any, param: str) -> list[str]:
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) for v in value)
        or set(value) not in MODALITY_SETS
        or len(set(value)) != len(value)
    ):
        raise _invalid(param, f"expected ['text'] or ['text', 'audio'], got {value!r}")
    return list(value)


def check_voice(value: Any, param: str) -> str:
    if value not in VOICES:
        raise _invalid(param, f"unknown voice {value!r}; supported: {', '.join(VOICES)}")
    return value


def check_audio_format(value: Any, param: str) -> str:
    try:
        normalize_format(value)
    except (ValueError, TypeError) as exc:
        raise _invalid(param, str(exc)) from None
    return value  # echoed back exactly as the client spelled it


def check_temperature(value: Any, param: str) -> float:
    low, high = TEMPERATURE_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _invalid(param, f"expected a number between {low} and {high}, got {value!r}")
    return float(value)


def check_max_tokens(value: Any, param: str) -> int | str:
    if value == "inf" or value is None:
        return "inf"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise _invalid(
            param, f"expected an integer from 1 to {MAX_OUTPUT_TOKENS} or 'inf', got {value!r}"
        )
    return value


def _milliseconds(value: Any, param: str) -> int:
    # The spec types these as strings, the service as integers: accept numeric strings.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(
            param, f"expected a non-negative integer number of milliseconds, got {value!r}"
        )
    return value


def check_turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(param, f"expected an object or null, got {value!r}", "invalid_type")
    kind = value.get("type")
    if kind == "none":
        return {"type": "none"}  # Azure's spelling of "off"; echoed back as set
    if kind == "semantic_vad":
        eagerness = value.get("eagerness", "auto")
        if not isinstance(eagerness, str) or eagerness not in EAGERNESS:
            raise _invalid(
                f"{param}.eagerness", f"expected one of {', '.join(EAGERNESS)}, got {eagerness!r}"
            )
        return {**value, "eagerness": eagerness}
    if kind != "server_vad":
        raise _invalid(
            f"{param}.type", f"expected 'server_vad', 'semantic_vad' or 'none', got {kind!r}"
        )
    merged = {**DEFAULT_SERVER_VAD, **value}
    threshold = merged["threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        raise _invalid(
            f"{param}.threshold", f"expected a number between 0 and 1, got {threshold!r}"
        )
    merged["threshold"] = float(threshold)
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        merged[key] = _milliseconds(merged[key], f"{param}.{key}")
    return merged


def check_transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(param, f"expected an object or null, got {value!r}", "invalid_type")
    # Any model name is accepted (the local recogniser serves them all); keep what was sent.
    return {"model": value.get("model") or "whisper-1", **value}


def check_tools(value: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _invalid(param, f"expected an array of tools, got {value!r}", "invalid_type")
    names = set()
    for i, tool in enumerate(value):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise _invalid(f"{param}[{i}].type", "only 'function' tools are supported")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(
                f"{param}[{i}].name", "a function tool needs a name", "missing_required_parameter"
            )
        if name in names:
            raise _invalid(f"{param}[{i}].name", f"duplicate tool name {name!r}")
        names.add(name)
        if tool.get("parameters") is not None:
            check_tool_parameters(tool["parameters"], f"{param}[{i}].parameters")
    return [dict(tool, type="function") for tool in value]


def check_tool_parameters(schema: Any, param: str) -> None:
    """The parts of a tool's JSON schema that the engine reads (``properties``, each
    property's ``type`` and ``enum``, ``required``) have the JSON types JSON Schema
    gives them; the rest is the client's business and kept as sent."""
    if not isinstance(schema, dict):
        raise _invalid(param, f"expected a JSON schema object, got {_kind(schema)}", "invalid_type")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise _invalid(
                f"{param}.properties",
                f"expected an object, got {_kind(properties)}",
                "invalid_type",
            )
        for name, prop in properties.items():
            where = f"{param}.properties.{name}"
            if not isinstance(prop, dict):
                raise _invalid(
                    where, f"expected a JSON schema object, got {_kind(prop)}", "invalid_type"
                )
            if "type" in prop and not isinstance(prop["type"], (str, list)):
                raise _invalid(
                    f"{where}.type",
                    f"expected a string or an array, got {_kind(prop['type'])}",
                    "invalid_type",
                )
            if "enum" in prop and (not isinstance(prop["enum"], list) or not prop["enum"]):
                raise _invalid(
                    f"{where}.enum",
                    f"expected a non-empty array, got {_kind(prop['enum'])}",
                    "invalid_type",
                )
    required = schema.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(r, str) for r in required)
    ):
        raise _invalid(
            f"{param}.required",
            f"expected an array of strings, got {_kind(required)}",
            "invalid_type",
        )


def _kind(value: Any) -> str:
    """A value's JSON type, for messages (never the value itself: it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check_tool_choice(value: Any, tools: list[dict[str, Any]], param: str) -> str | dict[str, Any]:
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        name = tool_choice_name(value)
        if name not in {t["name"] for t in tools}:
            raise _invalid(param, f"tool_choice names {name!r}, which is not among the tools")
        return value
    raise _invalid(
        param, f"expected 'auto', 'none', 'required' or a function object, got {value!r}"
    )


def tool_choice_name(choice: dict[str, Any]) -> Any:
    """The function a ``tool_choice`` object names, in any of its three spellings (D23)."""
    function = choice.get("function")
    if isinstance(function, dict):
        return function.get("name") or choice.get("name")
    return function or choice.get("name")


def merge_session(
    current: dict[str, Any], update: dict[str, Any], param: str = "session"
) -> dict[str, Any]:
    """``current`` with ``update`` applied; raises ``ProtocolError`` and changes nothing on a
    bad value."""
    merged = copy.deepcopy(current)
    checks = {
        "modalities": check_modalities,
        "voice": check_voice,
        "input_audio_format": check_audio_format,
        "output_audio_format": check_audio_format,
        "temperature": check_temperature,
        "max_response_output_tokens": check_max_tokens,
        "turn_detection": check_turn_detection,
        "input_audio_transcription": check_transcription,
        "tools": check_tools,
        **GA_SESSION_CHECKS,  # GA fields: speed and noise reduction honoured, the rest kept
    }
    for key, value in update.items():
        if key not in checks and key not in ("instructions", "model", "tool_choice"):
            unknown = first_leaf(value, f"{param}.{key}") if key == "audio" else f"{param}.{key}"
            raise _invalid(
                unknown, f"unknown parameter {unknown.rsplit('.', 1)[-1]!r}", "unknown_parameter"
            )
        if key in checks:
            merged[key] = checks[key](value, f"{param}.{key}")
        elif key == "instructions":
            if not isinstance(value, str):
                raise _invalid(f"{param}.instructions", "expected a string", "invalid_type")
            merged[key] = value
        elif key == "model":
            merged[key] = str(value)
        # tool_choice is checked after tools so that both may change in one update
    if "tool_choice" in update:
        merged["tool_choice"] = check_tool_choice(
            update["tool_choice"], merged["tools"], f"{param}.tool_choice"
        )
    return merged


def turn_detection_enabled(session: dict[str, Any]) -> bool:
    td = session.get("turn_detection")
    return bool(td) and td.get("type") in ("server_vad", "semantic_vad")


def vad_parameters(td: dict[str, Any]) -> dict[str, Any]:
    """Segmenter parameters: server VAD's own, or ``{"eagerness": ...}`` for ``semantic_vad``
    (the local end-of-turn model, engine/speech/end_of_turn.py)."""
    if td.get("type") == "semantic_vad":
        return {"eagerness": td.get("eagerness", "auto")}
    return {k: td[k] for k in ("threshold", "prefix_padding_ms", "silence_duration_ms")}
