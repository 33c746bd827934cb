"""The IPython magics: ``%%realtime``, ``%realtime``, ``%realtime_events``,
``%realtime_sessions``, ``%realtime_config``, ``%realtime_replay``, ``%realtime_compare``.
Load them with ``%load_ext realtime_widget``.

Sessions are named. ``-s NAME`` picks, in order: a ``Session`` (or a widget, or anything
with a ``.session``) held by the notebook variable ``NAME``; a session these magics
already opened under that name; a live session of the hub (or of this kernel) whose id
or name is ``NAME`` (attached: the magic, the widget and any ``Session`` then share one
conversation); else a new session called ``NAME``. Without ``-s`` the session used last
(first: a new one called ``default``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from .args import (
    COMPARE_OPTIONS,
    EVENTS_OPTIONS,
    TURN_OPTIONS,
    parse_args,
    parse_options,
    usage,
)
from .cell_turn import run_turn
from .credentials import credentials_help, provider_status

__all__ = ["RealtimeMagics"]

PROVIDERS = ("local", "openai", "azure", "url")
MODALITIES = ("text", "audio")
_ID = re.compile(r"^rts_[0-9a-f]{6,}$")


def _is_session(obj: Any) -> bool:
    return hasattr(obj, "conversation") and hasattr(obj, "transport") and hasattr(obj, "say")


def _session_of(obj: Any, *, connect: bool = False) -> Any:
    """The Session behind a notebook object (a Session, a widget, a SessionFrames, a
    TurnResult). ``connect``: a widget that has no session yet (Connect not clicked)
    is connected now, so the magic and the widget share one conversation."""
    if _is_session(obj):
        return obj
    inner = getattr(obj, "session", None)
    if inner is not None and not callable(inner) and _is_session(inner):
        return inner
    if (
        connect
        and inner is None
        and hasattr(obj, "session")
        and callable(getattr(obj, "connect", None))
    ):
        inner = obj.connect()
        if _is_session(inner) and not getattr(inner, "closed", False):
            return inner
        error = getattr(obj, "last_error", "") or "it has no session"
        raise UsageError(f"could not connect {type(obj).__name__}: {error}")
    return None


@magics_class
class RealtimeMagics(Magics):
    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self.sessions: dict[str, Any] = {}  # name -> Session opened by these magics
        self.current: str | None = None
        self.current_session: Any = None  # the session used last (maybe a notebook variable's)
        self.session_factory: Callable[..., Any] | None = None  # tests may replace Session

    # ------------------------------------------------------------------ sessions

    def _new_session(self, **kwargs: Any) -> Any:
        if self.session_factory is not None:
            return self.session_factory(**kwargs)
        from ..client import Session

        return Session(**kwargs)

    def _hub_sessions(self) -> list[dict[str, Any]]:
        try:
            from ..client import list_sessions

            return list_sessions()
        except Exception:
            return []

    def _known(self) -> str:
        names = [f"{n} ({s.id})" for n, s in self.sessions.items()]
        names += [
            k
            for k, v in self.shell.user_ns.items()
            if not k.startswith("_")
            and (_is_session(v) or type(v).__name__.endswith("Widget"))
            and _session_of(v) is not None
        ]
        return ", ".join(names) if names else "none yet"

    def _find(self, name: str) -> Any:
        """An existing session for ``name`` (no new one), else None."""
        obj = self.shell.user_ns.get(name)
        session = _session_of(obj, connect=True) if obj is not None else None
        if session is not None:
            return session
        sid = getattr(obj, "session_id", None) if obj is not None else None
        if isinstance(sid, str) and sid:  # e.g. a widget that names its hub session
            session = self.sessions.get(f"{name}:{sid}")
            if session is None or getattr(session, "closed", False):
                session = self.sessions[f"{name}:{sid}"] = self._new_session(id=sid)
            return session
        session = self.sessions.get(name)
        if session is not None:
            return session
        for summary in self._hub_sessions():
            if name in (summary.get("id"), summary.get("name")) and summary.get("status") in (
                "open",
                "connecting",
                "reconnecting",
            ):
                session = self._new_session(id=summary["id"])
                self.sessions[name] = session
                return session
        return None

    def _session_for_turn(
        self, opts: dict[str, Any], config: dict[str, Any], tools: list[Callable[..., Any]]
    ) -> tuple[str, Any, bool]:
        """(name, session, created now)."""
        name = opts.get("session") or self.current or "default"
        if opts.get("session"):
            session = self._find(name)
        elif self.current_session is not None and not getattr(
            self.current_session, "closed", False
        ):
            session = self.current_session  # no -s: the session used last
        else:
            session = self.sessions.get(name)
        if session is not None and getattr(session, "closed", False):
            if self.sessions.get(name) is session:
                del self.sessions[name]
                session = None
            else:
                raise UsageError(
                    f"session {name!r} is closed; use another -s name to start a new one"
                )
        if session is not None:
            provider = opts.get("provider")
            current = (getattr(getattr(session, "transport", None), "summary", None) or {}).get(
                "provider"
            )
            if provider and current and provider != current:
                raise UsageError(
                    f"session {name!r} already uses provider {current!r}; pass another -s name "
                    f"for a {provider} session"
                )
            return name, session, False
        if _ID.match(name):
            raise UsageError(
                f"no live session {name!r} (known: {self._known()}; see %realtime_sessions)"
            )
        provider = opts.get("provider") or "local"
        kwargs: dict[str, Any] = {"provider": provider, "name": name}
        if opts.get("model"):
            kwargs["model"] = opts["model"]
        if config:
            kwargs["session"] = config
        if tools:
            kwargs["tools"] = tools
        try:
            session = self._new_session(**kwargs)
        except Exception as exc:
            raise UsageError(self._explain_create_error(provider, exc)) from None
        self.sessions[name] = session
        return name, session, True

    def _explain_create_error(self, provider: str, exc: Exception) -> str:
        message = str(exc)
        text = f"could not start a {provider} session: {message}"
        if (
            "provider_not_configured" in message
            or "not configured" in message
            or "no API key" in message
            or "no endpoint" in message
        ):
            text += "\n\n" + credentials_help(provider)
        elif "deployment name is required" in message:
            text += (
                "\n\nPass the deployment with --model NAME, or set AZURE_OPENAI_DEPLOYMENT / "
                "c.RealtimeWidgetApp.azure_deployment on the server."
            )
        return text

    # ------------------------------------------------------------------ options

    def _tools(self, spec: str | None) -> list[Callable[..., Any]]:
        if not spec:
            return []
        out = []
        for raw in spec.split(","):
            tool_name = raw.strip()
            if not tool_name:
                continue
            fn = self.shell.user_ns.get(tool_name)
            if fn is None:
                raise UsageError(
                    f"--tools: no function named {tool_name!r} in the notebook "
                    "(define it in a cell first)"
                )
            if not callable(fn):
                raise UsageError(f"--tools: {tool_name!r} is a {type(fn).__name__}, not a function")
            out.append(fn)
        return out

    def _response_options(self, opts: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = {}
        modalities = opts.get("modalities")
        if modalities is not None:
            mods = [m.strip() for m in str(modalities).split(",") if m.strip()]
            bad = [m for m in mods if m not in MODALITIES]
            if not mods or bad:
                raise UsageError(f"--modalities: 'text' or 'text,audio', got {modalities!r}")
            if "audio" in mods and "text" not in mods:
                mods.insert(0, "text")  # the protocol has no audio-only answer
            response["modalities"] = mods
        if opts.get("no_audio"):
            if "audio" in (response.get("modalities") or ()):
                raise UsageError("--no-audio contradicts --modalities with audio")
            response["modalities"] = ["text"]
        if opts.get("voice"):
            response["voice"] = opts["voice"]
        if opts.get("instructions"):
            response["instructions"] = opts["instructions"]
        provider = opts.get("provider")
        if provider is not None and provider not in PROVIDERS:
            raise UsageError(f"--provider: one of {', '.join(PROVIDERS)}, got {provider!r}")
        return response

    # ------------------------------------------------------------------ %%realtime

    @line_cell_magic
    def realtime(self, line: str, cell: str | None = None) -> Any:
        """Talk to a realtime model: ``%%realtime [options]`` with the message as the cell
        body, or ``%realtime [options] MESSAGE`` on one line. The answer's text streams
        in as it arrives, a spoken answer gets a player, notebook functions named with
        ``--tools`` run in this kernel when the model calls them. Returns a TurnResult
        (``.text``, ``.audio``, ``.events``, ``.reply``).

        Options: ``-s NAME``, ``--provider local|openai|azure|url``, ``--model M``,
        ``--voice V``, ``--modalities text,audio``, ``--instructions TEXT``,
        ``--tools f,g``, ``--no-audio``, ``--timeout S``. (A one-line message cannot end
        with ``?``: IPython reads that as a help request; use the cell form.) Options that
        configure a session (provider, model; voice, modalities and instructions too) apply
        when it is created; on later cells voice, modalities and instructions apply to that
        answer only.
        """
        opts, rest = parse_options(
            line,
            TURN_OPTIONS,
            magic="%%realtime" if cell is not None else "%realtime",
            positional="" if cell is not None else "MESSAGE",
        )
        if cell is not None:
            if rest:
                raise UsageError(
                    f"%%realtime: unexpected {rest!r} on the magic line "
                    "(the message is the cell body)\n" + usage("%%realtime", TURN_OPTIONS)
                )
            text = cell.strip()
        else:
            text = rest
        if not text:
            raise UsageError(
                "%realtime: no message (%%realtime takes it from the cell body, %realtime from "
                "the rest of the line)"
            )
        response = self._response_options(opts)
        timeout = 120.0
        if opts.get("timeout") is not None:
            try:
                timeout = float(opts["timeout"])
            except ValueError:
                raise UsageError(
                    f"--timeout: a number of seconds, got {opts['timeout']!r}"
                ) from None
            if timeout <= 0:
                raise UsageError("--timeout: must be > 0")
        tools = self._tools(opts.get("tools"))
        config = {k: v for k, v in response.items() if k in ("modalities", "voice", "instructions")}
        name, session, created = self._session_for_turn(opts, config, tools)
        if not created:
            registered = getattr(session, "tools", {}) or {}
            for fn in tools:
                tool_name = getattr(fn, "__name__", None)
                known = registered.get(tool_name)
                if known is None or getattr(known, "fn", None) is not fn:
                    session.add_tool(fn)
        self.current, self.current_session = name, session
        return run_turn(
            session,
            text,
            response if not created else {},
            timeout=timeout,
            show_audio=not opts.get("no_audio"),
        )

    # ------------------------------------------------------------------ queries

    def _resolve_frames(self, name: str | None) -> Any:
        from ..frames import frames, open_session

        if not name:
            if self.current_session is None:
                raise UsageError(
                    "no realtime session yet: run %%realtime first, or pass a session name or id "
                    "(see %realtime_sessions)"
                )
            return frames(self.current_session)
        obj = self.shell.user_ns.get(name)
        if obj is not None:
            from ..frames import SessionFrames

            if isinstance(obj, SessionFrames):
                return obj
            session = _session_of(obj)
            if session is not None:
                return frames(session)
            if hasattr(obj, "session") and callable(getattr(obj, "connect", None)):
                raise UsageError(
                    f"{name} has no session yet: click its Connect button, "
                    f"or run %%realtime -s {name}"
                )
        if name in self.sessions:
            return frames(self.sessions[name])
        for summary in self._hub_sessions():
            if name in (summary.get("id"), summary.get("name")):
                try:
                    return open_session(summary["id"])
                except FileNotFoundError:
                    return frames(self._new_session(id=summary["id"]))
        try:
            return open_session(name)
        except FileNotFoundError:
            pass
        raise UsageError(
            f"unknown realtime session {name!r} (known: {self._known()}; see %realtime_sessions)"
        )

    @line_magic
    def realtime_events(self, line: str) -> Any:
        """``%realtime_events [NAME] [--type PATTERN] [--last N] [--direction client|server]``:
        the session's events as a DataFrame (one row per event, both directions)."""
        opts, words = parse_args(
            line, EVENTS_OPTIONS, magic="%realtime_events", positional="[NAME]"
        )
        if len(words) > 1:
            raise UsageError(
                f"%realtime_events: one session name at most, got {' '.join(words)!r}\n"
                + usage("%realtime_events", EVENTS_OPTIONS, "[NAME]")
            )
        rest = words[0] if words else ""
        last = None
        if opts.get("last") is not None:
            try:
                last = int(opts["last"])
            except ValueError:
                raise UsageError(f"--last: a number of events, got {opts['last']!r}") from None
            if last < 0:
                raise UsageError("--last: must be >= 0")
        direction = opts.get("direction")
        if direction is not None and direction not in ("client", "server"):
            raise UsageError(f"--direction: client or server, got {direction!r}")
        f = self._resolve_frames(rest or None)
        return f.events(opts.get("type"), last=last, direction=direction)

    @line_magic
    def realtime_replay(self, line: str) -> Any:
        """``%realtime_replay SOURCE [--speed turns|realtime] [--provider P] [--model M]
        [--voice V] [--instructions TEXT] [--turn-detection none|server_vad|JSON]
        [--modalities text,audio] [--tools f,g] [--config JSON] [--name N]``: the user side
        of SOURCE replayed in a new session (see ``realtime_widget.replay``), returned."""
        from .replay import replay_magic

        return replay_magic(self, line)

    @line_magic
    def realtime_sessions(self, line: str) -> Any:
        """``%realtime_sessions``: every session this kernel can see (live and stored)."""
        if line.strip():
            raise UsageError("%realtime_sessions takes no arguments")
        import pandas as pd

        rows = {s.get("id"): dict(s) for s in self._hub_sessions()}
        for name, session in self.sessions.items():
            rows.setdefault(session.id, {"id": session.id, "name": name})
            rows[session.id].setdefault("magic_names", [])
        for name, session in self.sessions.items():
            rows[session.id].setdefault("magic_names", []).append(name)
        for var, obj in self.shell.user_ns.items():
            holder = not var.startswith("_") and (
                _is_session(obj) or type(obj).__name__.endswith("Widget")
            )
            session = _session_of(obj) if holder else None
            if session is not None and getattr(session, "id", None) in rows:
                rows[session.id].setdefault("variables", []).append(var)
        df = pd.DataFrame(list(rows.values()))
        cols = [
            "name",
            "id",
            "provider",
            "model",
            "status",
            "created_at",
            "n_events",
            "n_clients",
            "magic_names",
            "variables",
        ]
        for c in cols:
            if c not in df.columns:
                df[c] = None
        df = df[cols]
        df["created"] = pd.to_datetime(df["created_at"], unit="s", utc=True, errors="coerce")
        df = df.drop(columns=["created_at"])
        for c in ("magic_names", "variables"):
            df[c] = df[c].map(lambda v: ", ".join(v) if isinstance(v, list) else "")
        return df.sort_values("created", na_position="first").reset_index(drop=True)

    @line_magic
    def realtime_config(self, line: str) -> Any:
        """``%realtime_config [NAME]``: the session's configuration, the providers this
        server offers, and where each provider's credentials are read from."""
        name = line.strip() or None
        session = None
        if name or self.current_session is not None:
            f = self._resolve_frames(name)
            session = f.session
            cfg = dict(f.conversation.session or {})
            meta = f.meta()
        else:
            cfg, meta = {}, {}
        status = provider_status(session)
        return RealtimeConfig(meta, cfg, status, getattr(session, "mode", None))

    @line_magic
    def realtime_compare(self, line: str) -> Any:
        """``%realtime_compare A B [C ...] [--names a,b] [--prices VAR]``: the sessions
        side by side, one row per user turn (``realtime_widget.compare``); a session is
        a name, a notebook variable or a session id, as for ``%realtime_events``."""
        opts, words = parse_args(
            line, COMPARE_OPTIONS, magic="%realtime_compare", positional="A B [C ...]"
        )
        if not words:
            raise UsageError(
                "%realtime_compare: which sessions? e.g. %realtime_compare original replayed\n"
                + usage("%realtime_compare", COMPARE_OPTIONS, "A B [C ...]")
            )
        names = None
        if opts.get("names"):
            names = [n.strip() for n in str(opts["names"]).split(",")]
            if len(names) != len(words):
                raise UsageError(
                    f"--names: {len(names)} names for {len(words)} sessions ({' '.join(words)})"
                )
        prices = None
        if opts.get("prices"):
            prices = self.shell.user_ns.get(opts["prices"])
            if not isinstance(prices, dict):
                raise UsageError(
                    f"--prices: {opts['prices']!r} is not a notebook dict of USD per 1M tokens "
                    "(e.g. prices = {'input_text': 4, 'input_audio': 32, 'output_text': 16, "
                    "'output_audio': 64})"
                )
        from ..replay import compare

        tables = [self._resolve_frames(word) for word in words]
        try:
            return compare(*tables, names=names or words, prices=prices)
        except ValueError as exc:
            raise UsageError(f"%realtime_compare: {exc}") from None


class RealtimeConfig(dict):
    """``%realtime_config``'s answer: a dict (``session``, ``config``, ``providers``) with
    an HTML view."""

    def __init__(
        self,
        meta: dict[str, Any],
        config: dict[str, Any],
        providers: dict[str, Any],
        mode: str | None,
    ):
        super().__init__(session=meta, config=config, providers=providers, mode=mode)

    def _repr_html_(self) -> str:
        from ..frames.display import STYLE, esc
        from .credentials import CREDENTIALS

        meta, cfg, providers = self["session"], self["config"], self["providers"]
        parts = [STYLE, "<div class='rtw-card'>"]
        if meta:
            parts.append(f"<h4>session {esc(meta.get('name') or meta.get('id'))}</h4><table>")
            for key in ("id", "provider", "model", "status", "mode"):
                if meta.get(key) is not None:
                    parts.append(
                        f"<tr><td class='rtw-muted'>{key}</td><td>{esc(meta.get(key))}</td></tr>"
                    )
            for key in (
                "modalities",
                "voice",
                "instructions",
                "turn_detection",
                "input_audio_transcription",
                "input_audio_format",
                "output_audio_format",
                "temperature",
            ):
                if key in cfg:
                    parts.append(
                        f"<tr><td class='rtw-muted'>{key}</td><td>{esc(cfg[key])}</td></tr>"
                    )
            tools = [t.get("name") for t in cfg.get("tools") or [] if isinstance(t, dict)]
            parts.append(
                "<tr><td class='rtw-muted'>tools</td>"
                f"<td>{esc(', '.join(tools) or '-')}</td></tr></table>"
            )
        parts.append("<h4 style='margin-top:8px'>providers</h4><table>")
        for provider, info in providers.items():
            ok = "available" if (info or {}).get("available") else "not configured"
            where = "; ".join(
                f"{what}: {env if env != '-' else trait}"
                for what, env, trait in CREDENTIALS.get(provider, [])
            )
            parts.append(
                f"<tr><td><b>{esc(provider)}</b></td><td>{ok}</td>"
                f"<td class='rtw-muted'>{esc(where)}</td></tr>"
            )
        parts.append(
            "</table><div class='rtw-muted' style='margin-top:6px'>"
            "Credentials live on the Jupyter server (its environment or "
            "jupyter_server_config.py), never in a notebook.</div></div>"
        )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"RealtimeConfig({dict(self)!r})"


def session_html(session: Any) -> str | None:
    """The HTML card of a ``Session`` (registered for the Session type by the extension)."""
    try:
        from ..frames import frames

        return frames(session)._repr_html_()
    except Exception as exc:  # a repr never raises
        return f"<pre>{html.escape(repr(session))} ({html.escape(str(exc))})</pre>"
