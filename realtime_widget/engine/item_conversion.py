"""Conversation items on the engine's side.

* ``accept_request_item``: checks an item a client sends (``conversation.item.create``,
  ``response.create.{input_items,append_input_items}``) and turns it into the item the
  server announces in ``conversation.item.created``, plus the audio it carried.
* ``chat_messages``: the conversation as chat-completions messages for the brain, with
  spoken user turns replaced by what the recogniser heard.
* ``retrieved_item``: an item as ``conversation.item.retrieved`` (GA) reports it, with
  its audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pydantic import TypeAdapter

from ..audio import b64decode_audio, b64encode_audio, from_pcm16
from ..protocol import ProtocolError, ResponseItem

_RESPONSE_ITEM = TypeAdapter(ResponseItem)

# Which content part types each role may send. Assistant items are spelled ``text`` by the
# service and ``input_text`` by the spec: accept both, announce ``text``.
_PART_TYPES = {
    "user": {"input_text", "input_audio"},
    "system": {"input_text"},
    "assistant": {"text", "input_text"},
}


@dataclass
class AcceptedItem:
    item: dict[str, Any]  # as announced in conversation.item.created
    audio: dict[int, bytes]  # content_index -> encoded audio the client sent (input format)


def _require(value: Any, kind: type, param: str) -> Any:
    if value is None:
        raise ProtocolError(
            f"{param}: missing required parameter", code="missing_required_parameter", param=param
        )
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(
            f"{param}: expected {kind.__name__}, got {type(value).__name__}",
            code="invalid_type",
            param=param,
        )
    return value


def _message(item: dict[str, Any], item_id: str, param: str) -> AcceptedItem:
    role = item.get("role")
    if role not in _PART_TYPES:
        raise ProtocolError(
            f"{param}.role: expected 'user', 'assistant' or 'system', got {role!r}",
            code="invalid_value",
            param=f"{param}.role",
        )
    content = _require(item.get("content"), list, f"{param}.content")
    parts: list[dict[str, Any]] = []
    audio: dict[int, bytes] = {}
    for i, part in enumerate(content):
        where = f"{param}.content[{i}]"
        part = _require(part, dict, where)
        kind = part.get("type")
        if kind not in _PART_TYPES[role]:
            allowed = ", ".join(sorted(_PART_TYPES[role]))
            raise ProtocolError(
                f"{where}.type: a {role} message takes {allowed}, got {kind!r}",
                code="invalid_value",
                param=f"{where}.type",
            )
        if kind == "input_audio":
            out: dict[str, Any] = {"type": "input_audio"}
            if part.get("audio") is not None:
                audio[i] = b64decode_audio(
                    _require(part["audio"], str, f"{where}.audio"), param=f"{where}.audio"
                )
            if part.get("transcript") is not None:
                out["transcript"] = _require(part["transcript"], str, f"{where}.transcript")
            if i not in audio and "transcript" not in out:
                raise ProtocolError(
                    f"{where}: an input_audio part needs 'audio' or 'transcript'",
                    code="missing_required_parameter",
                    param=f"{where}.audio",
                )
            parts.append(out)
        else:
            text = _require(part.get("text"), str, f"{where}.text")
            parts.append({"type": "text" if role == "assistant" else "input_text", "text": text})
    announced = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": role,
        "content": parts,
    }
    return AcceptedItem(announced, audio)


def accept_request_item(item: Any, item_id: str, param: str = "item") -> AcceptedItem:
    """Validate a client item; raise ``ProtocolError`` naming the bad field."""
    item = _require(item, dict, param)
    kind = item.get("type")
    base = {"id": item_id, "object": "realtime.item"}
    if kind == "message":
        return _message(item, item_id, param)
    if kind == "function_call":
        announced = {
            **base,
            "type": "function_call",
            "status": "completed",
            "name": _require(item.get("name"), str, f"{param}.name"),
            "call_id": _require(item.get("call_id"), str, f"{param}.call_id"),
            "arguments": _require(item.get("arguments"), str, f"{param}.arguments"),
        }
        return AcceptedItem(announced, {})
    if kind == "function_call_output":
        announced = {
            **base,
            "type": "function_call_output",
            "call_id": _require(item.get("call_id"), str, f"{param}.call_id"),
            "output": _require(item.get("output"), str, f"{param}.output"),
        }
        return AcceptedItem(announced, {})
    raise ProtocolError(
        f"{param}.type: expected 'message', 'function_call' or 'function_call_output', "
        f"got {kind!r}",
        code="invalid_value",
        param=f"{param}.type",
    )


def _part_text(part: Any) -> str:
    return (getattr(part, "text", None) or getattr(part, "transcript", None) or "").strip()


def chat_messages(
    instructions: str, items: Iterable[Any], heard: dict[str, str]
) -> list[dict[str, Any]]:
    """Conversation items (``realtime_widget.conversation`` items) -> chat messages.

    ``heard`` maps a user item id to what the recogniser heard in its audio; the brain
    reads that instead of the (possibly still missing) input transcription.
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
    call_names: dict[str, str] = {}
    for item in items:
        if item.type == "message":
            text = heard.get(item.id) or " ".join(
                filter(None, (_part_text(p) for p in item.content))
            )
            messages.append({"role": item.role, "content": text})
        elif item.type == "function_call":
            call_names[item.call_id] = item.name
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": item.call_id,
                            "type": "function",
                            "function": {"name": item.name, "arguments": item.arguments or ""},
                        }
                    ],
                }
            )
        elif item.type == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.call_id,
                    "name": call_names.get(item.call_id, "tool"),
                    "content": item.output or "",
                }
            )
    return messages


def _retrieved_part(part: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": part.type}
    if part.is_audio:
        out["transcript"] = part.transcript
        if part.audio and part.format:  # in the format it came in / went out in
            out["audio"] = b64encode_audio(from_pcm16(bytes(part.audio), part.format))
    else:
        out["text"] = part.text or ""
    return out


def retrieved_item(item: Any) -> dict[str, Any]:
    """A conversation item (``realtime_widget.conversation``) as the service reports it in
    ``conversation.item.retrieved``: the announced shape plus each audio part's audio
    (base64, in the session format it was sent or spoken in). Built through the
    protocol's ``ResponseItem`` model, which owns the wire shape."""
    wire: dict[str, Any] = {"id": item.id, "object": "realtime.item", "type": item.type}
    if item.status is not None:
        wire["status"] = item.status
    if item.type == "message":
        wire.update(role=item.role, content=[_retrieved_part(p) for p in item.content])
    elif item.type == "function_call":
        wire.update(
            name=item.name or "", call_id=item.call_id or "", arguments=item.arguments or ""
        )
    else:
        wire.update(call_id=item.call_id or "", output=item.output or "")
    return _RESPONSE_ITEM.validate_python(wire).to_dict()
