"""A brain backed by any OpenAI-compatible chat-completions endpoint.

Ollama, llama.cpp's server, vLLM and LM Studio all speak ``POST /v1/chat/completions``
with ``stream: true``; the reply is relayed token by token, and realtime function tools
are passed through as chat tools (and tool calls streamed back as argument deltas).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from .base import BrainError, BrainRequest, ReplyPiece, TextDelta, ToolCallDelta


def chat_tools(realtime_tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Realtime tools are flat (``{type, name, description, parameters}``); chat nests them."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for tool in realtime_tools
        if tool.get("type", "function") == "function"
    ]


def chat_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return {"type": "function", "function": {"name": name}}
    return choice


class ChatCompletionsBrain:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60):
        try:
            from openai import AsyncOpenAI
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BrainError(
                "ChatCompletionsBrain needs the openai package: pip install 'realtime-widget[llm]'"
            ) from exc
        self.model = model
        # Local servers ignore the key, but the SDK insists on one.
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or "local", timeout=timeout)

    async def aclose(self) -> None:
        await self._client.close()

    async def reply(self, request: BrainRequest) -> AsyncIterator[ReplyPiece]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "stream": True,
        }
        tools = chat_tools(request.tools)
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = chat_tool_choice(request.tool_choice)
        if request.max_output_tokens is not None:
            kwargs["max_tokens"] = request.max_output_tokens
        try:
            stream = await self._client.chat.completions.create(**kwargs)
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    yield TextDelta(delta.content)
                for call in delta.tool_calls or []:
                    fn = call.function
                    yield ToolCallDelta(
                        index=call.index,
                        name=fn.name if fn else None,
                        call_id=call.id,
                        arguments=(fn.arguments or "") if fn else "",
                    )
        except BrainError:
            raise
        except Exception as exc:  # the SDK's errors: connection, HTTP status, bad stream
            raise BrainError(f"chat-completions endpoint failed: {exc}") from exc
