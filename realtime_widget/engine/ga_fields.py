"""Session fields of the GA dialect beyond the preview spec: checked, kept and echoed.

GA clients send these on every connect (the ``openai`` SDK's ``RealtimeSessionCreateRequest``
types; openai-agents sends ``tracing`` and ``audio.input.transcription`` with GA
models), so refusing them would throw away the client's whole ``session.update``. They
arrive here in the preview spelling ``protocol.ga`` gives them (``speed``,
``input_audio_noise_reduction``; the rest keep their GA names).

The engine honours ``speed`` (the synthesiser's speaking rate) and
``input_audio_noise_reduction`` (what the recogniser hears is denoised, see
``engine/noise_reduction.py``). ``tracing``,
``truncation``, ``include``, ``prompt``, ``reasoning`` and ``parallel_tool_calls`` mean
nothing to a local engine: they are checked against the SDK's types, stored and echoed.
"""

from __future__ import annotations

from typing import Any, Callable

from ..protocol import ProtocolError

SPEED_RANGE = (0.25, 1.5)  # the GA service's range for audio.output.speed
NOISE_REDUCTION_TYPES = ("near_field", "far_field")
INCLUDABLE = ("item.input_audio_transcription.logprobs",)
REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


def _invalid(param: str, message: str, code: str = "invalid_value") -> ProtocolError:
    return ProtocolError(f"{param}: {message}", code=code, param=param)


def _object(value: Any, param: str, *, nullable: bool = False) -> dict[str, Any] | None:
    if value is None and nullable:
        return None
    if not isinstance(value, dict):
        raise _invalid(
            param,
            f"expected an object{' or null' if nullable else ''}, got {value!r}",
            "invalid_type",
        )
    return value


def _string_fields(value: dict[str, Any], param: str, *names: str) -> None:
    for name in names:
        if name in value and not isinstance(value[name], str):
            raise _invalid(
                f"{param}.{name}", f"expected a string, got {value[name]!r}", "invalid_type"
            )


def check_speed(value: Any, param: str) -> float:
    low, high = SPEED_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _invalid(param, f"expected a number between {low} and {high}, got {value!r}")
    return float(value)


def check_noise_reduction(value: Any, param: str) -> dict[str, Any] | None:
    reduction = _object(value, param, nullable=True)
    if reduction is None:
        return None
    if reduction.get("type") not in NOISE_REDUCTION_TYPES:
        raise _invalid(
            f"{param}.type", f"expected 'near_field' or 'far_field', got {reduction.get('type')!r}"
        )
    strength = reduction.get("strength")
    if strength is not None and (
        isinstance(strength, bool)
        or not isinstance(strength, (int, float))
        or not 0 <= strength <= 1
    ):
        raise _invalid(f"{param}.strength", f"expected a number between 0 and 1, got {strength!r}")
    return reduction


def check_tracing(value: Any, param: str) -> Any:
    if value is None or value == "auto":
        return value
    tracing = _object(value, param)
    _string_fields(tracing, param, "workflow_name", "group_id")
    return tracing


def check_truncation(value: Any, param: str) -> Any:
    if value in ("auto", "disabled"):
        return value
    truncation = _object(value, param)
    if truncation.get("type") != "retention_ratio":
        raise _invalid(
            f"{param}.type", f"expected 'retention_ratio', got {truncation.get('type')!r}"
        )
    ratio = truncation.get("retention_ratio")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        raise _invalid(
            f"{param}.retention_ratio", f"expected a number between 0 and 1, got {ratio!r}"
        )
    return truncation


def check_include(value: Any, param: str) -> list[str]:
    if not isinstance(value, list):
        raise _invalid(param, f"expected an array, got {value!r}", "invalid_type")
    for i, entry in enumerate(value):
        if entry not in INCLUDABLE:
            raise _invalid(
                f"{param}[{i}]", f"expected one of {', '.join(INCLUDABLE)}, got {entry!r}"
            )
    return list(value)


def check_prompt(value: Any, param: str) -> dict[str, Any] | None:
    prompt = _object(value, param, nullable=True)
    if prompt is not None:
        if not isinstance(prompt.get("id"), str):
            raise _invalid(
                f"{param}.id", "missing required parameter", "missing_required_parameter"
            )
        _string_fields(prompt, param, "version")
    return prompt


def check_reasoning(value: Any, param: str) -> dict[str, Any]:
    reasoning = _object(value, param)
    if "effort" in reasoning and reasoning["effort"] not in REASONING_EFFORTS:
        raise _invalid(
            f"{param}.effort",
            f"expected one of {', '.join(REASONING_EFFORTS)}, got {reasoning['effort']!r}",
        )
    return reasoning


def check_parallel_tool_calls(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(param, f"expected a boolean, got {value!r}", "invalid_type")
    return value


#: session key (as ``protocol.ga`` flattens it) -> its check
GA_SESSION_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "speed": check_speed,
    "input_audio_noise_reduction": check_noise_reduction,
    "tracing": check_tracing,
    "truncation": check_truncation,
    "include": check_include,
    "prompt": check_prompt,
    "reasoning": check_reasoning,
    "parallel_tool_calls": check_parallel_tool_calls,
}


def first_leaf(value: Any, param: str) -> str:
    """The dotted path of the first leaf under ``value`` (names a nested unknown field,
    e.g. ``session.audio.input.bogus`` left over after the GA session was flattened)."""
    while isinstance(value, dict) and value:
        key, value = next(iter(value.items()))
        param = f"{param}.{key}"
    return param
