"""The default offline brain: deterministic, documented rules (no language model).

* It answers from the conversation: the reply acknowledges what the user last said
  ("You said: ..."), so a spoken turn visibly round-trips through ASR and TTS.
* After a tool result (``role: tool``) it reports the result: "get_weather says: ...".
* Function calling: it calls a tool when ``tool_choice`` names one, when
  ``tool_choice == "required"``, or (``auto``) when the user's words name a tool (any
  word of four letters or more from the tool's name, e.g. "weather" for ``get_weather``).
  Arguments are taken from the user's words by the tool's JSON schema: numbers for
  number/integer properties, a mentioned value for enums, true/false words for
  booleans, and for strings the words after "in/for/of/about/to/at/called/named"
  (else the whole utterance).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator

from .base import BrainRequest, ReplyPiece, TextDelta, ToolCallDelta

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_STRING_CUE = re.compile(
    r"\b(?:in|for|of|about|to|at|called|named)\s+(?:the\s+)?([^.,!?;]+)", re.IGNORECASE
)
_NAME_WORD = re.compile(r"[A-Za-z][a-z]*|[A-Z]+(?![a-z])")
_STOP_NAME_WORDS = {"get", "set", "the", "and", "for", "with", "from", "tool", "func", "function"}


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _name_words(name: str) -> set[str]:
    words = {w.lower() for w in _NAME_WORD.findall(name.replace("_", " ").replace("-", " "))}
    return {w for w in words if len(w) >= 4 and w not in _STOP_NAME_WORDS}


def choose_tool(request: BrainRequest, user_text: str) -> dict[str, Any] | None:
    """The tool to call for this turn, or None to answer in words."""
    tools = [t for t in request.tools if t.get("type", "function") == "function"]
    choice = request.tool_choice
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        function = choice.get("function")  # {"name": f} (spec), f (rtclient) or absent (OpenAI)
        wanted = (function.get("name") if isinstance(function, dict) else function) or choice.get(
            "name"
        )
        return next((t for t in tools if t.get("name") == wanted), None)
    said = {w.lower() for w in re.findall(r"[A-Za-z]+", user_text)}
    for tool in tools:
        if _name_words(tool.get("name", "")) & said:
            return tool
    return tools[0] if choice == "required" else None


def _string_argument(user_text: str) -> str:
    # the last cue is usually the object ("weather in Paris")
    cues = list(_STRING_CUE.finditer(user_text))
    value = cues[-1].group(1) if cues else user_text
    return value.strip().strip("'\"").strip()


def extract_arguments(tool: dict[str, Any], user_text: str) -> dict[str, Any]:
    """JSON arguments for ``tool`` taken from the user's words (see module docstring)."""
    # The engine checks these types when the tool is set (engine/config.check_tools).
    schema = tool.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    numbers = _NUMBER.findall(user_text)
    lowered = user_text.lower()
    args: dict[str, Any] = {}
    for name, prop in properties.items():
        kind = prop.get("type")
        if "enum" in prop:
            mentioned = [v for v in prop["enum"] if str(v).lower() in lowered]
            if mentioned or name in required:
                args[name] = mentioned[0] if mentioned else prop["enum"][0]
        elif kind in ("number", "integer"):
            if numbers:
                value = float(numbers.pop(0))
                args[name] = int(value) if kind == "integer" else value
            elif name in required:
                args[name] = 0
        elif kind == "boolean":
            args[name] = not re.search(r"\b(no|not|false|off|don't)\b", lowered)
        elif kind == "string" or kind is None:
            if name in required or len(properties) == 1:
                args[name] = _string_argument(user_text)
    return args


def _last(messages: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("role") == role), None)


def compose_reply(request: BrainRequest) -> tuple[str, dict[str, Any] | None]:
    """(text to say, tool call or None), decided from the conversation."""
    messages = request.messages
    last = messages[-1] if messages else None
    if last is not None and last.get("role") == "tool":
        name = last.get("name") or "The tool"
        return (
            f"{name} says: {_text_of(last).strip().rstrip('.') or 'nothing'}.",
            None,
        )  # one final "."
    user = _last(messages, "user")
    user_text = _text_of(user).strip() if user else ""
    tool = choose_tool(request, user_text)
    if tool is not None:
        return "", {"name": tool["name"], "arguments": extract_arguments(tool, user_text)}
    if not user_text:
        return "I didn't catch that. Could you say it again?", None
    return f"You said: {user_text.rstrip('.!?')}.", None


class RuleBrain:
    """Streams :func:`compose_reply` word by word, like a model streams tokens."""

    def __init__(self, *, call_id_factory=None):
        from ..ids import new_id

        self._new_call_id = call_id_factory or (lambda: new_id("call", 16))

    async def reply(self, request: BrainRequest) -> AsyncIterator[ReplyPiece]:
        text, call = compose_reply(request)
        if call is not None:
            yield ToolCallDelta(index=0, name=call["name"], call_id=self._new_call_id())
            for piece in _chunks(json.dumps(call["arguments"]), 8):
                yield ToolCallDelta(index=0, arguments=piece)
            return
        for word in re.finditer(
            r"\S+\s*", text
        ):  # lazily: a 1 MiB echo is 200k words, cut at the reply cap
            await asyncio.sleep(0)  # let cancellation and other sessions in between tokens
            yield TextDelta(word.group())


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
