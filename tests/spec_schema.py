"""Validate wire events against the spec, ``tests/data/realtime-openapi3.yml``.

Usage (from any test)::

    from spec_schema import validate_server_event, validate_client_event

    validate_server_event(event.to_dict())   # raises SpecValidationError when invalid

How the OpenAPI 3.0 document becomes JSON Schema (Draft 2020-12, checked with
``jsonschema``):

* ``$ref: '#/components/schemas/X'`` -> ``$ref: '#/$defs/X'``;
* ``nullable: true`` -> ``anyOf: [{type: 'null'}, <the schema>]``;
* a schema with a ``discriminator`` dispatches on the discriminator property: for each
  ``mapping`` entry ``if {prop: const value} then <mapped schema>``; values not in the
  mapping are checked against the parent schema only (the spec's enums are open
  strings, ``anyOf: [string, enum]``, so such values are allowed);
* a component's own top-level ``allOf: [$ref Parent]`` is inheritance: it refers to the
  parent *without* its dispatch (``X~base``), otherwise parent and child would recurse;
* ``format`` is not checked (``int32``, ``float``, ``base64`` and ``duration`` are
  OpenAPI annotations; ``duration`` would reject the service's integers anyway).

The spec contradicts the service and its own clients in a few places. ``ERRATA`` lists
the patches applied by default, each tied to a row of ``docs/protocol-decisions.md``;
pass ``strict=True`` to validate against the spec exactly as written. Events the
service sent but the spec lacks are checked against ``EXTRA_EVENT_SCHEMAS`` (shapes
from the ``openai`` SDK), combined with the spec's base server event schema.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

__all__ = [
    "ERRATA",
    "EXTRA_EVENT_SCHEMAS",
    "SPEC_PATH",
    "Erratum",
    "SpecValidationError",
    "client_event_schemas",
    "example",
    "server_event_schemas",
    "spec_violations",
    "validate",
    "validate_client_event",
    "validate_server_event",
]

SPEC_PATH = Path(__file__).parent / "data" / "realtime-openapi3.yml"
_REF_PREFIX = "#/components/schemas/"
_CLIENT_BASE = "Realtime.RealtimeRequestCommand"
_SERVER_BASE = "Realtime.RealtimeResponseCommand"


class SpecValidationError(AssertionError):
    """An instance the spec's schema rejects; ``errors`` lists ``(path, message)``."""

    def __init__(self, schema: str, errors: list[tuple[str, str]]) -> None:
        self.schema = schema
        self.errors = errors
        lines = "\n".join(f"  {path or '<root>'}: {message}" for path, message in errors)
        super().__init__(f"not valid against {schema}:\n{lines}")


@dataclass(frozen=True)
class Erratum:
    """Patch the schema at ``pointer`` inside component ``schema``: make it nullable
    (``replacement=None``) or replace it."""

    schema: str
    pointer: tuple[str, ...]
    decision: str  # the row id in docs/protocol-decisions.md
    reason: str
    replacement: dict[str, Any] | None = None

    def apply(self, node: dict[str, Any]) -> dict[str, Any]:
        if self.replacement is not None:
            return copy.deepcopy(self.replacement)
        if "$ref" in node:  # OpenAPI 3.0 ignores siblings of $ref
            return {"allOf": [node], "nullable": True}
        return {**node, "nullable": True}


_SESSION_UPDATE = ("properties", "session", "properties")
_MILLISECONDS = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
_INT_OR_INF = {
    "anyOf": [{"type": "integer"}, {"type": "string", "enum": ["inf"]}],
    "nullable": True,
}

ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "Realtime.RealtimeResponseSession",
        ("properties", "max_response_output_tokens"),
        "D9",
        "the service reports 'inf'; the spec's own session.update schema allows it",
        _INT_OR_INF,
    ),
    Erratum(
        "Realtime.RealtimeResponseSession",
        ("properties", "turn_detection"),
        "D7",
        "turn detection off is null (OpenAI) or {'type': 'none'} (Azure), echoed as set",
    ),
    Erratum(
        "Realtime.RealtimeRequestSessionUpdateCommand",
        (*_SESSION_UPDATE, "turn_detection"),
        "D7",
        "OpenAI clients turn detection off with null",
    ),
    Erratum(
        "Realtime.RealtimeRequestSessionUpdateCommand",
        (*_SESSION_UPDATE, "input_audio_transcription"),
        "D15",
        "clients turn transcription off with null (the response session allows null)",
    ),
    Erratum(
        "Realtime.RealtimeRequestSessionUpdateCommand",
        (*_SESSION_UPDATE, "max_response_output_tokens"),
        "D9",
        "null is accepted as 'no limit' (the response session allows null)",
    ),
    Erratum(
        "Realtime.RealtimeServerVadTurnDetection",
        ("properties", "prefix_padding_ms"),
        "D8",
        "the service sends integers (the spec says string/duration)",
        _MILLISECONDS,
    ),
    Erratum(
        "Realtime.RealtimeServerVadTurnDetection",
        ("properties", "silence_duration_ms"),
        "D8",
        "the service sends integers (the spec says string/duration)",
        _MILLISECONDS,
    ),
    Erratum(
        "Realtime.RealtimeRequestAudioContentPart",
        ("properties", "transcript"),
        "D13",
        "the service reports user audio parts with transcript null until transcribed",
    ),
    Erratum(
        "Realtime.RealtimeResponse",
        ("properties", "usage"),
        "D16",
        "the service sent usage null in response.created (our default is all zeros)",
    ),
    Erratum(
        "Realtime.RealtimeResponseInputAudioBufferCommittedCommand",
        ("properties", "previous_item_id"),
        "D14",
        "null for the first item (service), and rtclient requires the key",
    ),
)

# Events the service sent that the spec lacks (D12); shapes from the openai SDK.
EXTRA_EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "conversation.created": {
        "type": "object",
        "required": ["type", "conversation"],
        "properties": {
            "type": {"const": "conversation.created"},
            "conversation": {
                "type": "object",
                "properties": {
                    "id": {"type": ["string", "null"]},
                    "object": {"const": "realtime.conversation"},
                },
            },
        },
    },
    "conversation.item.input_audio_transcription.delta": {
        "type": "object",
        "required": ["type", "item_id"],
        "properties": {
            "type": {"const": "conversation.item.input_audio_transcription.delta"},
            "item_id": {"type": "string"},
            "content_index": {"type": "integer", "minimum": 0},
            "delta": {"type": "string"},
        },
    },
}


# --------------------------------------------------------------------------- loading


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.safe_load(f)  # type: ignore[no-any-return]


def required_fields(schema: str) -> set[str]:
    """The ``required`` list of a spec schema, e.g.
    ``required_fields("RealtimeResponseSession")``."""
    return set(load_spec()["components"]["schemas"]["Realtime." + schema]["required"])


def _components(strict: bool) -> dict[str, Any]:
    schemas = copy.deepcopy(load_spec()["components"]["schemas"])
    if not strict:
        for erratum in ERRATA:
            parent = schemas[erratum.schema]
            for key in erratum.pointer[:-1]:
                parent = parent[key]
            if erratum.pointer[-1] not in parent:
                raise KeyError(f"erratum {erratum} points at nothing: the spec changed?")
            parent[erratum.pointer[-1]] = erratum.apply(parent[erratum.pointer[-1]])
    return schemas  # type: ignore[no-any-return]


def _ref_name(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}")
    return ref[len(_REF_PREFIX) :]


def _convert(node: Any, schemas: dict[str, Any], *, inherit: bool = False) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12 (see the module docstring).
    ``inherit``: this is a component's top level, whose allOf means "extends"."""
    if isinstance(node, list):
        return [_convert(x, schemas) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": "#/$defs/" + _ref_name(node["$ref"])}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "discriminator"):
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, schemas) for name, sub in value.items()}
        elif key == "allOf" and inherit:
            out[key] = [_parent_ref(sub, schemas) for sub in value]
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties"):
            out[key] = _convert(value, schemas)
        else:
            out[key] = copy.deepcopy(value)
    if node.get("nullable"):
        out = {"anyOf": [{"type": "null"}, out]}
    return out


def _parent_ref(sub: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    name = _ref_name(sub["$ref"])
    suffix = "~base" if "discriminator" in schemas[name] else ""
    return {"$ref": f"#/$defs/{name}{suffix}"}


def _defs(schemas: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name, node in schemas.items():
        converted = _convert(node, schemas, inherit=True)
        disc = node.get("discriminator")
        if not disc:
            defs[name] = converted
            continue
        prop = disc["propertyName"]
        defs[name + "~base"] = converted
        branches: list[dict[str, Any]] = [{"$ref": f"#/$defs/{name}~base"}]
        for value, ref in disc.get("mapping", {}).items():
            branches.append(
                {
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": {"$ref": "#/$defs/" + _ref_name(ref)},
                }
            )
        defs[name] = {"allOf": branches}
    for event_type, schema in EXTRA_EVENT_SCHEMAS.items():
        defs["extra:" + event_type] = {"allOf": [{"$ref": f"#/$defs/{_SERVER_BASE}~base"}, schema]}
    return defs


@cache
def _root(strict: bool) -> dict[str, Any]:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": _defs(_components(strict)),
    }
    jsonschema.Draft202012Validator.check_schema(root)  # once: it is the slow part
    return root


@cache
def _validator(name: str, strict: bool) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**_root(strict), "$ref": f"#/$defs/{name}"})


# --------------------------------------------------------------------------- validating


def _leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    # anyOf / if-then failures carry the interesting errors in their context.
    if error.context:
        for sub in error.context:
            yield from _leaf_errors(sub)
    else:
        yield error


def _format_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def spec_violations(instance: Any, schema: str, *, strict: bool = False) -> list[tuple[str, str]]:
    """``(path, message)`` for each way ``instance`` violates component ``schema``."""
    found = []
    for error in _validator(schema, strict).iter_errors(instance):
        for leaf in _leaf_errors(error):
            found.append((_format_path(leaf.absolute_path), leaf.message))
    return sorted(set(found))


def validate(instance: Any, schema: str, *, strict: bool = False) -> None:
    """Raise ``SpecValidationError`` unless ``instance`` is valid for component ``schema``."""
    if not _validator(schema, strict).is_valid(instance):
        raise SpecValidationError(schema, spec_violations(instance, schema, strict=strict))


@cache
def server_event_schemas() -> dict[str, str]:
    """event type -> component name, from the spec's discriminator mapping (27 events)."""
    mapping = load_spec()["components"]["schemas"][_SERVER_BASE]["discriminator"]["mapping"]
    return {event_type: _ref_name(ref) for event_type, ref in mapping.items()}


@cache
def client_event_schemas() -> dict[str, str]:
    """event type -> component name, from the spec's discriminator mapping (9 events)."""
    mapping = load_spec()["components"]["schemas"][_CLIENT_BASE]["discriminator"]["mapping"]
    return {event_type: _ref_name(ref) for event_type, ref in mapping.items()}


def _event_schema(event: Any, mapping: dict[str, str], side: str, extras: bool) -> str:
    if not isinstance(event, dict):
        raise SpecValidationError(
            f"a {side} event", [("", f"expected an object, got {type(event).__name__}")]
        )
    event_type = event.get("type")
    if event_type in mapping:
        return mapping[event_type]
    if extras and event_type in EXTRA_EVENT_SCHEMAS:
        return "extra:" + event_type
    raise SpecValidationError(
        f"a {side} event", [("type", f"{event_type!r} is not a {side} event of the spec")]
    )


def validate_server_event(event: dict[str, Any], *, strict: bool = False) -> None:
    """Validate a server event (wire dict) against the schema its ``type`` maps to.
    ``strict=True``: the spec exactly as written (no errata, no extra event types)."""
    schema = _event_schema(event, server_event_schemas(), "server", extras=not strict)
    validate(event, schema, strict=strict)


def validate_client_event(event: dict[str, Any], *, strict: bool = False) -> None:
    """Validate a client event (wire dict) against the schema its ``type`` maps to."""
    validate(
        event, _event_schema(event, client_event_schemas(), "client", extras=False), strict=strict
    )


# --------------------------------------------------------------------------- examples

_AUDIO_20MS = base64.b64encode(bytes(960)).decode("ascii")  # 20 ms of 24 kHz PCM16 silence


def _flatten(name: str) -> dict[str, Any]:
    """A component with its inherited (top-level allOf) properties merged in."""
    node = load_spec()["components"]["schemas"][name]
    merged: dict[str, Any] = {"properties": {}, "required": []}
    for parent in node.get("allOf", []):
        base = _flatten(_ref_name(parent["$ref"]))
        merged["properties"].update(base["properties"])
        merged["required"] += base["required"]
    merged["properties"].update(node.get("properties", {}))  # the child's are more specific
    merged["required"] += node.get("required", [])
    merged["type"] = "object"
    return merged


def _variants(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The concrete alternatives of a schema: its discriminator's mapped schemas
    (recursively) or its anyOf branches; else the schema itself."""
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        disc = load_spec()["components"]["schemas"][name].get("discriminator")
        if disc and disc.get("mapping"):
            out = []
            for ref in disc["mapping"].values():
                out.extend(_variants({"$ref": ref}))
            return out
        target = load_spec()["components"]["schemas"][name]
        if "properties" in target or "allOf" in target:
            return [_flatten(name)]
        return _variants(target)  # an alias such as Realtime.RealtimeVoice
    if "anyOf" in node and not _is_open_enum(node):
        return [v for branch in node["anyOf"] for v in _variants(branch)]
    return [node]


def _is_open_enum(node: dict[str, Any]) -> bool:
    # The spec's `anyOf: [{type: string}, {type: string, enum: [...]}]` idiom.
    return (
        "anyOf" in node
        and any("enum" in b for b in node["anyOf"])
        and all(b.get("type") == "string" for b in node["anyOf"])
    )


def example(schema: str, mode: Literal["min", "max"] = "min") -> dict[str, Any]:
    """A spec-valid instance of component ``schema`` built from the schema alone.

    ``min``: only required properties, first enum value / first alternative, ``null``
    where nullable. ``max``: every property, last enum value / last alternative, and
    arrays holding one element per alternative (every item and content part kind)."""
    return _generate({"$ref": _REF_PREFIX + schema}, mode, "")  # type: ignore[no-any-return]


def _generate(node: dict[str, Any], mode: str, key: str) -> Any:
    pick = 0 if mode == "min" else -1
    if node.get("nullable") and mode == "min":
        return None
    if "$ref" in node or ("anyOf" in node and not _is_open_enum(node)):
        return _generate(_variants(node)[pick], mode, key)
    if _is_open_enum(node):
        return next(b for b in node["anyOf"] if "enum" in b)["enum"][pick]
    if "allOf" in node and "properties" not in node:
        return _generate(node["allOf"][0], mode, key)
    if "enum" in node:
        return node["enum"][pick]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        names = node.get("required", []) if mode == "min" else list(props)
        return {name: _generate(props[name], mode, name) for name in dict.fromkeys(names)}
    if kind == "array":
        if mode == "min":
            return []
        return [_generate(v, mode, key) for v in _variants(node["items"])]
    if kind == "string":
        if node.get("format") == "base64":
            return _AUDIO_20MS
        if node.get("format") == "duration":
            return "500"  # spec-valid string that the service's integer reading accepts
        return f"{key or 'value'}_1"
    if kind == "integer":
        return 0 if mode == "min" else 1
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return mode == "min"
    return {}  # `{}` (any value): an empty object fits both `parameters` and `error`
