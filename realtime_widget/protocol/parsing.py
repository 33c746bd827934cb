"""``parse_client_event`` / ``parse_server_event``: wire text, bytes or mappings -> models.

The happy path is one call into pydantic-core (JSON parsing, tag lookup and validation
in Rust). Only when that fails does Python look at the input again, to tell an unknown
event type (-> ``Unknown*Event``) from a bad event (-> ``ProtocolError`` naming the field).
No other exception type escapes, whatever the input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from .client_events import (
    CLIENT_EVENT_TYPES,
    ClientEvent,
    DiscriminatedClientEvent,
    InputAudioBufferAppend,
    UnknownClientEvent,
)
from .errors import (
    INVALID_JSON,
    INVALID_TYPE,
    INVALID_VALUE,
    MISSING_REQUIRED_PARAMETER,
    PAYLOAD_TOO_LARGE,
    ProtocolError,
)
from .server_events import (
    SERVER_EVENT_TYPES,
    DiscriminatedServerEvent,
    ResponseAudioDelta,
    ServerEvent,
    UnknownServerEvent,
)
from .types import WireModel

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_APPEND_AUDIO_BYTES",
    "MAX_JSON_DEPTH",
    "check_json_value",
    "dumps_json",
    "load_json_event",
    "loads_json",
    "sniff_event_id",
    "parse_client_event",
    "parse_server_event",
]

#: The service's limit for the audio of one ``input_audio_buffer.append`` (decoded).
MAX_APPEND_AUDIO_BYTES: Final = 15 * 1024 * 1024
#: Default ``max_bytes``: 15 MiB of audio is 20 MiB of base64; plus 1 MiB for the rest of
#: the event. The engine enforces the 15 MiB audio limit itself after decoding.
DEFAULT_MAX_BYTES: Final = (MAX_APPEND_AUDIO_BYTES * 4 + 2) // 3 + 1024 * 1024

#: The deepest nesting of objects and arrays accepted: pydantic-core's JSON parser refuses
#: deeper text, and mappings are held to the same limit (``check_json_value``).
MAX_JSON_DEPTH: Final = 201

E = TypeVar("E", bound=WireModel)

_TEXT_LIKE = (str, bytes, bytearray, memoryview)
# event_id of an event we will not parse (too large, broken JSON): sniff the first bytes.
_EVENT_ID_RE = re.compile(rb'"event_id"\s*:\s*"([^"\\]{1,128})"')
_SNIFF_BYTES = 4096
_SURROGATE = re.compile("[\ud800-\udfff]")

# Set by the tests: re-raise internal bugs instead of reporting them as ProtocolError.
_RAISE_INTERNAL_ERRORS = False


#: ``json.dumps`` as the wire and the log want it: compact (no spaces) and ASCII-only, so a
#: lone surrogate or a U+2028 cannot break a log line. The bound encoder skips ``json.dumps``'
#: argument handling on the hot path (one call per audio frame).
dumps_json: Final = json.JSONEncoder(separators=(",", ":")).encode


def loads_json(text: str | bytes) -> Any:
    """``json.loads``, same results and same errors, about twice as fast on the relay's
    hot path (pydantic-core's parser; the standard library takes over for what that one
    refuses: lone surrogates, and every error, so the messages stay the familiar ones)."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def load_json_event(
    raw: str | bytes | bytearray | memoryview, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """One event's JSON text -> dict, refused exactly where ``parse_client_event`` refuses
    it at the JSON level, with the same ``ProtocolError``: ``payload_too_large``,
    ``invalid_json`` (broken JSON, bytes that are not UTF-8, lone surrogates, NaN or
    Infinity, nesting deeper than ``MAX_JSON_DEPTH``; ``event_id`` sniffed from the text),
    ``invalid_type`` (not an object). For relays (the hub, the engine's GA route) that
    need the dict, not the model: as fast as ``loads_json`` on good input."""
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    _check_size(raw, max_bytes)
    try:
        data = from_json(raw, allow_inf_nan=False)  # NaN refused by the parse itself: no extra cost
    except ValueError as exc:
        _check_finite_text(raw)  # a clearer message when NaN / Infinity was the problem
        raise ProtocolError(
            _json_error_message(str(exc)), INVALID_JSON, event_id=sniff_event_id(raw)
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {_json_kind(data)}", INVALID_TYPE)
    return data


def check_json_value(data: Any, event_id: str | None = None) -> None:
    """Refuse a Python value that JSON text could not have carried (what the text parser
    refuses): lone surrogates in strings, NaN / Infinity, nesting deeper than
    ``MAX_JSON_DEPTH``. ``ProtocolError`` ``invalid_json``, as for text. Iterative (no
    recursion limit) and cheap: an ASCII string is checked in constant time."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ProtocolError(
                _json_error_message("recursion limit exceeded"), INVALID_JSON, event_id=event_id
            )
        if isinstance(value, Mapping):
            for key in value:
                if type(key) is str and not key.isascii() and _SURROGATE.search(key):
                    raise ProtocolError(_SURROGATE_MESSAGE, INVALID_JSON, event_id=event_id)
            children: Any = value.values()
        else:
            children = value
        for child in children:
            kind = type(child)
            if kind is str:  # the usual case first: an ASCII string is checked in O(1)
                if child.isascii():
                    continue
            elif kind is int or kind is bool or child is None:
                continue
            if isinstance(child, str):
                if not child.isascii() and _SURROGATE.search(child):
                    raise ProtocolError(_SURROGATE_MESSAGE, INVALID_JSON, event_id=event_id)
            elif isinstance(child, float):
                if not math.isfinite(child):
                    raise ProtocolError(_NOT_FINITE_MESSAGE, INVALID_JSON, event_id=event_id)
            elif isinstance(child, (Mapping, list, tuple)):
                stack.append((child, depth + 1))


_SURROGATE_MESSAGE: Final = (
    "invalid JSON: the text is not valid Unicode (a lone surrogate in a string)"
)
_NOT_FINITE_MESSAGE: Final = "invalid JSON: NaN and Infinity are not JSON numbers"


def _check_finite_text(raw: str | bytes | bytearray) -> None:
    """NaN / Infinity parsed (JSON has no such numbers): re-parse strictly, only when the
    text contains those words at all. (The searches cost ~2 ns a character: not for the
    audio events, whose typed fields cannot hold NaN; see ``_check_finite``.)"""
    if isinstance(raw, str):
        suspicious = "NaN" in raw or "Infinity" in raw
    else:
        suspicious = b"NaN" in raw or b"Infinity" in raw
    if suspicious:
        try:
            from_json(raw, allow_inf_nan=False)
        except ValueError as exc:
            raise ProtocolError(
                f"{_NOT_FINITE_MESSAGE} ({exc})", INVALID_JSON, event_id=sniff_event_id(raw)
            ) from None


def _json_error_message(detail: str) -> str:
    if "recursion limit exceeded" in detail:
        return (
            f"invalid JSON: objects and arrays nested more than {MAX_JSON_DEPTH} levels deep "
            f"({detail})"
        )
    return f"invalid JSON: {detail}"


class _Side(Generic[E]):
    """Everything needed to parse one direction's events."""

    def __init__(
        self,
        name: str,
        union: Any,
        types: Mapping[str, type[WireModel]],
        unknown: type[E],
        hot: type[WireModel],
    ) -> None:
        self.name = name
        self.hot = hot  # the audio event that comes 50 times a second
        self.adapter: TypeAdapter[Any] = TypeAdapter(union)  # built once, at import
        self.types = types
        self.unknown = unknown


_CLIENT: Final = _Side(
    "client",
    DiscriminatedClientEvent,
    CLIENT_EVENT_TYPES,
    UnknownClientEvent,
    InputAudioBufferAppend,
)
_SERVER: Final = _Side(
    "server", DiscriminatedServerEvent, SERVER_EVENT_TYPES, UnknownServerEvent, ResponseAudioDelta
)


def parse_client_event(
    raw: str | bytes | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ClientEvent:
    """Parse one client event. Unknown ``type`` -> ``UnknownClientEvent``; anything
    else wrong -> ``ProtocolError``. ``max_bytes`` bounds text/bytes input."""
    return _parse(raw, _CLIENT, max_bytes)  # type: ignore[no-any-return]


def parse_server_event(
    raw: str | bytes | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ServerEvent:
    """Parse one server event. Unknown ``type`` -> ``UnknownServerEvent``; anything
    else wrong -> ``ProtocolError``. ``max_bytes`` bounds text/bytes input."""
    return _parse(raw, _SERVER, max_bytes)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- dispatch


def _parse(raw: Any, side: _Side[Any], max_bytes: int) -> Any:
    try:
        if isinstance(raw, _TEXT_LIKE):
            return _parse_text(raw, side, max_bytes)
        if isinstance(raw, Mapping):
            data = raw if isinstance(raw, dict) else dict(raw)
            event_id = data.get("event_id")
            check_json_value(data, event_id if isinstance(event_id, str) else None)
            try:
                return side.adapter.validate_python(data)
            except ValidationError as exc:
                return _recover(data, exc, side)
        raise ProtocolError(
            f"expected a JSON object (as str, bytes or a mapping), got {type(raw).__name__}",
            INVALID_TYPE,
        )
    except ProtocolError:
        raise
    except Exception as exc:  # never let anything else out (contract); tests re-raise
        if _RAISE_INTERNAL_ERRORS:
            raise
        raise ProtocolError(f"could not parse the event: {exc}", INVALID_VALUE) from None


def _parse_text(raw: str | bytes | bytearray | memoryview, side: _Side[Any], max_bytes: int) -> Any:
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    _check_size(raw, max_bytes)
    try:
        event = side.adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] in ("json_invalid", "string_unicode") and not first["loc"]:
            raise ProtocolError(
                _json_message(first), INVALID_JSON, event_id=sniff_event_id(raw)
            ) from None
        try:
            data = from_json(raw)  # same parser as above, so it agrees on what is valid JSON
        except ValueError as json_exc:
            raise ProtocolError(
                _json_error_message(str(json_exc)), INVALID_JSON, event_id=sniff_event_id(raw)
            ) from None
        _check_finite_text(raw)
        return _recover(data, exc, side)
    _check_finite(event, raw, side)
    return event


def _check_finite(event: Any, raw: str | bytes | bytearray, side: _Side[Any]) -> None:
    """NaN / Infinity in a field the models keep as given (extra fields, tool schemas,
    metadata). The audio events (the hot path) have only typed fields besides their
    extras, so only the extras are looked at; other events get the text searched."""
    if type(event) is side.hot:
        extra = event.__pydantic_extra__
        if extra:
            check_json_value(extra, getattr(event, "event_id", None))
    else:
        _check_finite_text(raw)


def _check_size(raw: str | bytes | bytearray, max_bytes: int) -> None:
    n = len(raw)
    # A str's UTF-8 size is between len and 4*len; encode only when that is undecided.
    if n * (4 if isinstance(raw, str) else 1) <= max_bytes:
        return
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else n
    if size > max_bytes:
        raise ProtocolError(
            f"event is {size:,} bytes; the limit is {max_bytes:,} bytes "
            f"(one input_audio_buffer.append may carry at most 15 MiB of audio)",
            PAYLOAD_TOO_LARGE,
            event_id=sniff_event_id(raw),
        )


def sniff_event_id(raw: str | bytes | bytearray) -> str | None:
    """The ``event_id`` of an event that will not parse (broken, too large), read from its
    first 4 KiB when it is there as a plain string; else None."""
    head = raw[:_SNIFF_BYTES]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    match = _EVENT_ID_RE.search(head)
    return match.group(1).decode("utf-8", "replace") if match else None


def _json_message(error: Mapping[str, Any]) -> str:
    detail = (error.get("ctx") or {}).get("error")
    if error["type"] == "string_unicode":
        detail = "the text is not valid Unicode"
    return _json_error_message(str(detail or error["msg"]))


def _recover(data: Any, exc: ValidationError, side: _Side[Any]) -> Any:
    """The slow path: explain the failure, or build an Unknown*Event."""
    if not isinstance(data, Mapping):
        raise ProtocolError(
            f"expected a JSON object, got {_json_kind(data)}", INVALID_TYPE
        ) from None
    event_id = data.get("event_id")
    event_id = event_id if isinstance(event_id, str) else None
    if "type" not in data:
        raise ProtocolError(
            "type: missing required parameter", MISSING_REQUIRED_PARAMETER, "type", event_id
        )
    kind = data["type"]
    if not isinstance(kind, str):
        raise ProtocolError(
            f"type: expected a string, got {_show(kind)}", INVALID_TYPE, "type", event_id
        )
    if kind not in side.types:
        try:
            return side.unknown.model_validate(dict(data))
        except ValidationError as unknown_exc:
            raise _explain(
                unknown_exc.errors(include_url=False), data, event_id, strip_tag=None
            ) from None
    raise _explain(exc.errors(include_url=False), data, event_id, strip_tag=kind) from None


# --------------------------------------------------------------------------- error messages

# pydantic error type -> what was expected (code invalid_type)
_TYPE_PHRASES: Final[dict[str, str]] = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dataclass_type": "an object",
    "none_required": "null",
}
# pydantic error type -> what was expected (code invalid_value)
_BOUND_PHRASES: Final[dict[str, str]] = {
    "greater_than_equal": "a value >= {ge}",
    "greater_than": "a value > {gt}",
    "less_than_equal": "a value <= {le}",
    "less_than": "a value < {lt}",
    "finite_number": "a finite number",
    "string_too_short": "a string of at least {min_length} characters",
    "string_too_long": "a string of at most {max_length} characters",
    "too_short": "at least {min_length} elements",
    "too_long": "at most {max_length} elements",
}
_OUR_CODES: Final = frozenset({INVALID_TYPE, INVALID_VALUE, MISSING_REQUIRED_PARAMETER})


class _Problem:
    """One pydantic error, translated: a path in the input, a code and a phrase."""

    __slots__ = ("code", "input", "path", "phrase", "shallow")

    def __init__(self, error: Mapping[str, Any], data: Any, loc: tuple[Any, ...]) -> None:
        kind: str = error["type"]
        ctx = error.get("ctx") or {}
        self.input = error.get("input")
        self.path, ended_on_label = _walk(loc, data, kind)
        if kind in ("missing", "union_tag_not_found"):
            if kind == "union_tag_not_found":
                self.path.append(str(ctx.get("discriminator", "'type'")).strip("'"))
            self.code, self.phrase = MISSING_REQUIRED_PARAMETER, ""
        elif kind == "union_tag_invalid":
            tag = (
                self.input.get(str(ctx.get("discriminator", "'type'")).strip("'"))
                if isinstance(self.input, Mapping)
                else None
            )
            self.path.append(str(ctx.get("discriminator", "'type'")).strip("'"))
            self.input = tag
            self.code = INVALID_VALUE if isinstance(tag, str) else INVALID_TYPE
            self.phrase = _one_of(str(ctx.get("expected_tags", "")).split(", "))
        elif kind in _OUR_CODES:  # raised by our own validators with a ready phrase
            self.code, self.phrase = kind, str(error["msg"])
        elif kind in _TYPE_PHRASES:
            self.code, self.phrase = INVALID_TYPE, _TYPE_PHRASES[kind]
        elif kind in ("literal_error", "enum"):
            expected = str(ctx.get("expected", ""))  # pydantic's "'a', 'b' or 'c'"
            self.phrase = _one_of(expected.replace(" or ", ", ").split(", "))
            # All our literals are strings: a non-string is the wrong type, not value.
            self.code = INVALID_VALUE if isinstance(self.input, str) else INVALID_TYPE
        elif kind in _BOUND_PHRASES:
            self.code, self.phrase = INVALID_VALUE, _BOUND_PHRASES[kind].format(**ctx)
        else:
            self.code, self.phrase = INVALID_VALUE, str(error.get("msg", "a valid value")).lower()
        # A union member that rejected the input's JSON type outright (e.g. the
        # "auto"/"none" branch of tool_choice given an object).
        self.shallow = ended_on_label and self.code == INVALID_TYPE

    @property
    def param(self) -> str:
        return _format_path(self.path)


def _walk(loc: tuple[Any, ...], data: Any, kind: str) -> tuple[list[str | int], bool]:
    """Follow pydantic's error location through the input, dropping the union-member
    labels pydantic inserts (a tag value, or names like ``int`` / ``literal['inf']``).
    Returns the path and whether the location ended on such a label."""
    path: list[str | int] = []
    current = data
    ended_on_label = False
    last = len(loc) - 1
    for i, part in enumerate(loc):
        following = loc[i + 1] if i < last else None
        if _navigable(current, part):
            # A key equal to the union tag ({"type": "text", "text": ...}) is the tag
            # label when the rest of the location fits the object and not the key's value.
            is_label = (
                i < last
                and isinstance(current, Mapping)
                and part == current.get("type")
                and _navigable(current, following)
                and not _navigable(current[part], following)
            )
            if not is_label:
                path.append(part)
                current = current[part]
                ended_on_label = False
            continue
        if (
            i == last
            and kind == "missing"
            and isinstance(part, str)
            and isinstance(current, Mapping)
        ):
            path.append(part)  # the missing field itself
            continue
        ended_on_label = True  # a union member's label: not part of the input's path
    return path, ended_on_label


def _navigable(container: Any, part: Any) -> bool:
    if isinstance(container, Mapping):
        return isinstance(part, str) and part in container
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return False


def _format_path(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _explain(
    errors: list[Any], data: Mapping[str, Any], event_id: str | None, *, strip_tag: str | None
) -> ProtocolError:
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        if strip_tag is not None and loc and loc[0] == strip_tag:
            loc = loc[1:]  # the event's own tag, added by the top-level union
        problems.append(_Problem(error, data, loc))
    # Prefer the branch that matched the input's type and failed deeper inside it.
    deep = [p for p in problems if not p.shallow]
    if deep:
        problems = [p for p in problems if not p.shallow or not any(_deeper(d, p) for d in deep)]
    first = problems[0]
    group = [p for p in problems if p.param == first.param]
    param = first.param or None
    prefix = f"{param}: " if param else ""
    if any(p.code == MISSING_REQUIRED_PARAMETER for p in group):
        missing = next(p for p in group if p.code == MISSING_REQUIRED_PARAMETER)
        message = f"{prefix}{missing.phrase or 'missing required parameter'}"
        code = MISSING_REQUIRED_PARAMETER
    else:
        phrases = list(dict.fromkeys(p.phrase for p in group))  # de-duplicated, in order
        code = INVALID_VALUE if any(p.code == INVALID_VALUE for p in group) else INVALID_TYPE
        message = f"{prefix}expected {_combine(phrases)}, got {_show(first.input)}"
    others = len({p.param for p in problems}) - 1
    if others > 0:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return ProtocolError(message, code, param, event_id)


def _one_of(options: list[str]) -> str:
    """['a'] -> "a"; ['a', 'b'] -> "a or b"; more -> "one of a, b or c"."""
    options = [o for o in options if o]
    if len(options) <= 2:
        return " or ".join(options)
    return "one of " + ", ".join(options[:-1]) + " or " + options[-1]


def _combine(phrases: list[str]) -> str:
    """What several union members expected, as one phrase: "an integer or 'inf'"."""
    if len(phrases) == 1:
        return phrases[0]
    options: list[str] = []
    for phrase in phrases:
        phrase = phrase.removeprefix("one of ")
        options.extend(
            phrase.replace(" or ", ", ").split(", ") if phrase.startswith("'") else [phrase]
        )
    return ", ".join(options[:-1]) + " or " + options[-1]


def _deeper(deep: _Problem, shallow: _Problem) -> bool:
    n = len(shallow.path)
    return len(deep.path) > n and deep.path[:n] == shallow.path


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return _show(value)


def _show(value: Any) -> str:
    """A short, JSON-flavoured rendering of an offending value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"{value[:32]!r}... ({len(value)} characters)"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 40 else text[:32] + "..."
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"
