"""Argument parsing for the magics.

Not ``shlex`` on the whole line: a one-line ``%realtime What's the time?`` must keep its
apostrophe. Options come first (``-s NAME``, ``--voice=V``, quoted values allowed);
``--`` ends them; the rest of the line is the message, verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "COMPARE_OPTIONS",
    "CONFIG_OPTIONS",
    "EVENTS_OPTIONS",
    "TURN_OPTIONS",
    "Option",
    "parse_options",
]


@dataclass(frozen=True)
class Option:
    dest: str
    flags: tuple[str, ...]
    takes_value: bool = True
    help: str = ""


TURN_OPTIONS = (
    Option(
        "session", ("-s", "--session"), help="session name, a Session variable, or a hub session id"
    ),
    Option(
        "provider",
        ("--provider",),
        help="local (default), openai, azure or url (when the session is created)",
    ),
    Option(
        "model", ("--model",), help="model, or the Azure deployment (when the session is created)"
    ),
    Option("voice", ("--voice",), help="voice of the spoken answer"),
    Option("modalities", ("--modalities",), help="text or text,audio"),
    Option("instructions", ("--instructions",), help="instructions for the answer"),
    Option("tools", ("--tools",), help="functions of the notebook the model may call: f,g"),
    Option("no_audio", ("--no-audio",), takes_value=False, help="a text-only answer (no player)"),
    Option("timeout", ("--timeout",), help="seconds to wait for the answer (default 120)"),
)
EVENTS_OPTIONS = (
    Option("type", ("-t", "--type"), help="event type glob(s): 'response.*' or 'error,*.done'"),
    Option("last", ("-n", "--last"), help="only the last N events"),
    Option("direction", ("--direction",), help="client or server"),
)
COMPARE_OPTIONS = (
    Option("names", ("--names",), help="a column label per session: a,b"),
    Option("prices", ("--prices",), help="a notebook dict of USD per 1M tokens (adds cost)"),
)
CONFIG_OPTIONS: tuple[Option, ...] = ()

_VALUE = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'([^']*)'|(\S+)")


def _unquote_double(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def usage(magic: str, options: tuple[Option, ...], positional: str = "") -> str:
    flags = " ".join(
        f"[{o.flags[0]}{' ' + o.dest.upper() if o.takes_value else ''}]" for o in options
    )
    lines = [f"usage: {magic} {flags} {positional}".rstrip()]
    for o in options:
        lines.append(f"  {', '.join(o.flags):<22} {o.help}")
    return "\n".join(lines)


def parse_options(
    line: str, options: tuple[Option, ...], *, magic: str, positional: str = ""
) -> tuple[dict[str, Any], str]:
    """(options by dest, the rest of the line). Raises ``UsageError`` for an unknown
    option or a missing value."""
    by_flag = {f: o for o in options for f in o.flags}
    values: dict[str, Any] = {}
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if pos >= n or line[pos] != "-":
            break
        m = re.match(r"(--?[A-Za-z][\w-]*|--)(=)?", line[pos:])
        if m is None:
            break  # "-5 degrees": not an option, the message starts here
        flag = m.group(1)
        if flag == "--":
            pos += 2
            break
        option = by_flag.get(flag)
        if option is None:
            known = ", ".join(f for o in options for f in o.flags)
            raise UsageError(
                f"{magic}: unknown option {flag} (known: {known}; '--' ends the options)\n"
                + usage(magic, options, positional)
            )
        pos += m.end()
        if not option.takes_value:
            if m.group(2):
                raise UsageError(f"{magic}: {flag} takes no value")
            values[option.dest] = True
            continue
        if not m.group(2):
            while pos < n and line[pos].isspace():
                pos += 1
        v = _VALUE.match(line, pos)
        if v is None or pos >= n:
            raise UsageError(f"{magic}: {flag} needs a value\n" + usage(magic, options, positional))
        if v.group(1) is not None:
            value = _unquote_double(v.group(1))
        elif v.group(2) is not None:
            value = v.group(2)
        else:
            value = v.group(3)
        values[option.dest] = value
        pos = v.end()
    return values, line[pos:].strip()


def parse_args(
    line: str, options: tuple[Option, ...], *, magic: str, positional: str = ""
) -> tuple[dict[str, Any], list[str]]:
    """Options and positional words in any order (for the query magics, whose arguments
    are words, not free text)."""
    import shlex

    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{magic}: {exc}\n" + usage(magic, options, positional)) from None
    by_flag = {f: o for o in options for f in o.flags}
    values: dict[str, Any] = {}
    words: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        flag, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if token.startswith("-") and len(token) > 1 and not re.match(r"^-\d", token):
            option = by_flag.get(flag)
            if option is None:
                raise UsageError(
                    f"{magic}: unknown option {flag}\n" + usage(magic, options, positional)
                )
            if not option.takes_value:
                values[option.dest] = True
            elif eq:
                values[option.dest] = inline
            else:
                if i + 1 >= len(tokens):
                    raise UsageError(
                        f"{magic}: {flag} needs a value\n" + usage(magic, options, positional)
                    )
                i += 1
                values[option.dest] = tokens[i]
        else:
            words.append(token)
        i += 1
    return values, words
