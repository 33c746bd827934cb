"""Token accounting for ``response.done.response.usage`` and ``rate_limits.updated``.

The local engine has no billing tokenizer (tiktoken downloads its vocabularies at run
time, which fails offline), so counts are a documented, deterministic estimate:

* text: one token per 4 UTF-8 bytes, rounded up, per item (OpenAI's rule of thumb);
* user (input) audio: one token per 100 ms, assistant (output) audio: one per 50 ms,
  the rates the hosted realtime models bill;
* every response re-reads the whole conversation (that is how realtime billing works):
  input tokens = instructions + every item before the response;
* cached tokens: the part of this response's input that the previous response already
  read (the unchanged conversation prefix), so ``cached_tokens <= input_tokens`` always.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

USER_AUDIO_MS_PER_TOKEN = 100
ASSISTANT_AUDIO_MS_PER_TOKEN = 50


def text_tokens(text: str | None) -> int:
    if not text:
        return 0
    return math.ceil(len(text.encode("utf-8")) / 4)


def audio_tokens(audio_ms: float, *, assistant: bool) -> int:
    per = ASSISTANT_AUDIO_MS_PER_TOKEN if assistant else USER_AUDIO_MS_PER_TOKEN
    return math.ceil(max(audio_ms, 0.0) / per)


@dataclass
class TokenCount:
    text: int = 0
    audio: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio

    def __add__(self, other: "TokenCount") -> "TokenCount":
        return TokenCount(self.text + other.text, self.audio + other.audio)


def usage_payload(input_: TokenCount, output: TokenCount, cached: int) -> dict:
    """The spec's usage object; ``cached`` is clamped into ``[0, input tokens]``."""
    cached = max(0, min(cached, input_.total))
    return {
        "total_tokens": input_.total + output.total,
        "input_tokens": input_.total,
        "output_tokens": output.total,
        "input_token_details": {
            "cached_tokens": cached,
            "text_tokens": input_.text,
            "audio_tokens": input_.audio,
        },
        "output_token_details": {"text_tokens": output.text, "audio_tokens": output.audio},
    }


class RateLimiter:
    """Local limits reported in ``rate_limits.updated`` (requests and tokens per minute).

    The engine does not throttle; it reports a budget the way the service does so that
    clients that display or react to rate limits have real numbers to work with.
    """

    def __init__(self, requests_per_min: int = 10_000, tokens_per_min: int = 10_000_000):
        self.requests_limit = requests_per_min
        self.tokens_limit = tokens_per_min
        self._requests: list[tuple[float, int]] = []  # (monotonic time, tokens)

    def record(self, now: float, tokens: int) -> list[dict]:
        self._requests = [(t, n) for t, n in self._requests if now - t < 60.0]
        self._requests.append((now, tokens))
        oldest = self._requests[0][0]
        reset = max(0.0, 60.0 - (now - oldest))
        used_tokens = sum(n for _, n in self._requests)
        return [
            {
                "name": "requests",
                "limit": self.requests_limit,
                "remaining": max(0, self.requests_limit - len(self._requests)),
                "reset_seconds": round(reset, 3),
            },
            {
                "name": "tokens",
                "limit": self.tokens_limit,
                "remaining": max(0, self.tokens_limit - used_tokens),
                "reset_seconds": round(reset, 3),
            },
        ]
