"""``%realtime_replay SOURCE [--option value ...]``: :func:`realtime_widget.replay` from a
notebook line. SOURCE is what ``%realtime_events`` takes (a notebook variable holding a
Session, widget or SessionFrames; a name these magics opened; a session id or a stored
session's directory). The new session becomes the magics' current session, under its name.
"""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import UsageError

from .args import Option, parse_args, usage

__all__ = ["REPLAY_OPTIONS", "replay_magic"]

REPLAY_OPTIONS = (
    Option("speed", ("--speed",), help="turns (default: each turn, then its answer) or realtime"),
    Option("provider", ("--provider",), help="local, openai, azure or url (default: the source's)"),
    Option("model", ("--model",), help="model, or the Azure deployment (default: the source's)"),
    Option("voice", ("--voice",), help="voice of the spoken answers"),
    Option("instructions", ("--instructions",), help="instructions for the new session"),
    Option(
        "turn_detection",
        ("--turn-detection",),
        help="none, server_vad or semantic_vad, or a JSON object",
    ),
    Option("modalities", ("--modalities",), help="text or text,audio"),
    Option("tools", ("--tools",), help="functions of the notebook that answer tool calls: f,g"),
    Option("config", ("--config",), help="more session fields, as a JSON object"),
    Option("name", ("-n", "--name"), help="name of the new session (default: 'replay of ...')"),
    Option("no_progress", ("--no-progress",), takes_value=False, help="no progress bar"),
)
MAGIC = "%realtime_replay"


def _json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{option}: not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: a JSON object, got {text!r}")
    return value


def replay_arguments(opts: dict[str, Any], tools: list[Any]) -> dict[str, Any]:
    """The keyword arguments of ``replay`` for the parsed options."""
    kwargs: dict[str, Any] = {}
    if opts.get("config"):
        kwargs.update(_json_object("--config", opts["config"]))
    for key in ("speed", "provider", "model", "voice", "instructions", "name"):
        if opts.get(key) is not None:
            kwargs[key] = opts[key]
    td = opts.get("turn_detection")
    if td is not None:
        if td.strip().startswith("{"):
            kwargs["turn_detection"] = _json_object("--turn-detection", td)
        elif td in ("none", "null", "off"):
            kwargs["turn_detection"] = None
        elif td in ("server_vad", "semantic_vad"):
            kwargs["turn_detection"] = {"type": td}
        else:
            raise UsageError(
                f"--turn-detection: none, server_vad, semantic_vad or a JSON object, got {td!r}"
            )
    if opts.get("modalities") is not None:
        mods = [m.strip() for m in opts["modalities"].split(",") if m.strip()]
        if not mods or any(m not in ("text", "audio") for m in mods):
            raise UsageError(f"--modalities: 'text' or 'text,audio', got {opts['modalities']!r}")
        kwargs["modalities"] = mods if "text" in mods else ["text", *mods]
    if kwargs.get("speed") not in (None, "turns", "realtime"):
        raise UsageError(f"--speed: turns or realtime, got {kwargs['speed']!r}")
    if tools:
        kwargs["tools"] = tools
    if opts.get("no_progress"):
        kwargs["progress"] = False
    return kwargs


def replay_magic(magics: Any, line: str) -> Any:
    """Run ``%realtime_replay`` for ``magics`` (a ``RealtimeMagics``); returns the Session."""
    from ..replay import ReplayError, replay

    opts, words = parse_args(line, REPLAY_OPTIONS, magic=MAGIC, positional="SOURCE")
    if len(words) != 1:
        raise UsageError(
            f"{MAGIC}: one SOURCE (a session variable, name, id or directory), got "
            f"{' '.join(words) or 'none'}\n" + usage(MAGIC, REPLAY_OPTIONS, "SOURCE")
        )
    kwargs = replay_arguments(opts, magics._tools(opts.get("tools")))
    source = magics._resolve_frames(words[0])
    try:
        session = replay(source, **kwargs)
    except ReplayError as exc:
        raise UsageError(f"{MAGIC}: {exc}") from None
    name = kwargs.get("name") or session.id
    magics.sessions[name] = session
    magics.current, magics.current_session = name, session
    return session
