"""``RealtimeWidget``: a realtime speech session in a notebook cell.

>>> from realtime_widget import RealtimeWidget
>>> w = RealtimeWidget()          # the local engine; click Connect, then the mic
>>> w                             # (the last expression of a cell shows it)
>>> w.session.transcript()        # the kernel sees the same conversation (a DataFrame)

The widget attaches to a session of the Jupyter server's hub: the kernel holds a
:class:`realtime_widget.Session` (created when Connect is clicked, or by
:meth:`RealtimeWidget.connect`) and the browser attaches its own WebSocket to the same
hub session, so audio never goes through the kernel and every event reaches both.
Where the browser cannot reach the hub (VS Code, Colab, a kernel in direct mode) the
widget relays events through its comm instead.

Status traitlets (``connected``, ``listening``, ``user_speaking``, ``response_active``,
``input_level``, ``output_level``, ``last_error``, ``mic_available``) are set by the
front end and can be observed (``w.observe(cb, "user_speaking")``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any, Callable

import anywidget
import traitlets as t

log = logging.getLogger(__name__)

__all__ = ["RealtimeWidget"]

_STATIC = Path(__file__).resolve().parent.parent / "static"
MODES = ("hands-free", "push-to-talk")
TRANSCRIPTION_MODEL = "whisper-1"
RELAY_BATCH = 200  # events per comm message when many arrive at once (a catch-up)


def _turn_detection(
    turn_detection: Any,
    vad_threshold: float | None,
    silence_duration_ms: int | None,
    prefix_padding_ms: int | None,
    eagerness: str | None,
) -> dict[str, Any] | None:
    """The session's ``turn_detection`` from the widget's arguments (None: push-to-talk)."""
    if turn_detection is None or turn_detection in ("none", "push-to-talk", False):
        return None
    if isinstance(turn_detection, dict):
        td = dict(turn_detection)
    elif turn_detection in ("server_vad", "semantic_vad"):
        td = {"type": turn_detection}
    else:
        raise ValueError(
            "turn_detection: 'server_vad', 'semantic_vad', None (push-to-talk) or a dict"
        )
    if td.get("type") == "server_vad":
        for key, value in (
            ("threshold", vad_threshold),
            ("silence_duration_ms", silence_duration_ms),
            ("prefix_padding_ms", prefix_padding_ms),
        ):
            if value is not None:
                td[key] = value
    elif td.get("type") == "semantic_vad" and eagerness is not None:
        td["eagerness"] = eagerness
    return td


_prewarmed = threading.Event()


def _prewarm_client() -> None:
    """Import the kernel's client and what finds the Jupyter server (jupyter_server's
    serverapp: 1-3 s) in the background, once per kernel, so that Connect does not wait
    for them."""
    if _prewarmed.is_set():
        return
    _prewarmed.set()

    def run() -> None:
        try:
            from ..client import Session  # noqa: F401
            from ..client.discovery import find_server

            find_server()
        except Exception:  # only a head start: connect() reports real problems
            log.debug("realtime-widget: warming up the client failed", exc_info=True)

    threading.Thread(target=run, name="realtime-widget-prewarm", daemon=True).start()


class RealtimeWidget(anywidget.AnyWidget):
    """A realtime voice (and text) conversation in the notebook.

    Parameters (all optional): ``provider`` (``"local"``, ``"openai"``, ``"azure"``,
    ``"url"``), ``model``, ``voice``, ``instructions``, ``modalities`` (e.g.
    ``["text", "audio"]``), ``turn_detection`` (``"server_vad"`` (default),
    ``"semantic_vad"``, a dict, or ``None`` for push-to-talk), ``vad_threshold``,
    ``silence_duration_ms``, ``prefix_padding_ms``, ``eagerness``,
    ``input_transcription`` (transcribe what the user says; on by default),
    ``input_audio_format`` / ``output_audio_format`` (``"pcm16"``, ``"g711_ulaw"``,
    ``"g711_alaw"``), ``tools`` (Python callables the model may call; they run in this
    kernel), ``session_config`` (more preview session fields), ``name``, ``url`` (for
    ``provider="url"``), ``session`` (an existing :class:`realtime_widget.Session`, or a
    hub session id, to attach to), ``frame_ms`` (microphone frame length, 20-100),
    ``echo_cancellation`` / ``noise_suppression`` / ``auto_gain_control`` (the
    browser's microphone processing; echo cancellation is on by default),
    ``prebuffer_ms`` (playback jitter buffer), ``connect`` (create the session now
    instead of on the first click of Connect), ``show_stats`` (the line with the last
    turn's latency, the tokens used and, with ``prices`` (USD per 1M tokens, as for
    ``Session.usage(prices)``), the cost), ``idle_timeout`` (seconds: the hub closes the
    session when no view of the widget is attached and nothing happens for this long,
    e.g. after its tab was closed; ``None``: never).
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"
    _relay_off: Callable[[], None] | None = None
    session: Any = None

    # -- set by Python, read by the front end
    session_id = t.Unicode("").tag(sync=True)
    ws_path = t.Unicode("").tag(sync=True)
    hub_mode = t.Bool(False).tag(sync=True)
    starting = t.Bool(False).tag(sync=True)
    autoattach = t.Bool(False).tag(sync=True)
    frame_ms = t.Int(40).tag(sync=True)
    echo_cancellation = t.Bool(True).tag(sync=True)
    noise_suppression = t.Bool(True).tag(sync=True)
    auto_gain_control = t.Bool(True).tag(sync=True)
    prebuffer_ms = t.Int(60).tag(sync=True)
    vad = t.Dict().tag(sync=True)  # turn_detection used in hands-free mode
    provider = t.Unicode("local").tag(sync=True)
    input_format = t.Unicode("pcm16").tag(
        sync=True
    )  # what the microphone captures before the session says
    show_stats = t.Bool(True).tag(
        sync=True
    )  # the line with the last turn's latency, tokens and cost
    prices = t.Dict().tag(
        sync=True
    )  # USD per 1M tokens by kind (frames.PRICE_KEYS); empty: no cost shown
    # -- both ways
    mode = t.Enum(MODES, default_value="hands-free").tag(sync=True)
    # -- set by the front end
    connected = t.Bool(False).tag(sync=True)
    listening = t.Bool(False).tag(sync=True)
    user_speaking = t.Bool(False).tag(sync=True)
    response_active = t.Bool(False).tag(sync=True)
    input_level = t.Float(0.0).tag(sync=True)
    output_level = t.Float(0.0).tag(sync=True)
    mic_available = t.Bool(True).tag(sync=True)
    mic_message = t.Unicode("").tag(sync=True)
    events_received = t.Int(0).tag(sync=True)
    last_error = t.Unicode("").tag(sync=True)

    @t.validate("frame_ms")
    def _check_frame_ms(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not 20 <= value <= 100:
            raise t.TraitError("frame_ms: between 20 and 100 (ms)")
        return value

    def __init__(
        self,
        provider: str = "local",
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
        modalities: list[str] | None = None,
        turn_detection: Any = "server_vad",
        vad_threshold: float | None = None,
        silence_duration_ms: int | None = None,
        prefix_padding_ms: int | None = None,
        eagerness: str | None = None,
        input_transcription: bool = True,
        input_audio_format: str | None = None,
        output_audio_format: str | None = None,
        tools: list[Callable[..., Any]] | None = None,
        session_config: dict[str, Any] | None = None,
        name: str | None = None,
        url: str | None = None,
        session: Any = None,
        frame_ms: int = 40,
        echo_cancellation: bool = True,
        noise_suppression: bool = True,
        auto_gain_control: bool = True,
        prebuffer_ms: int = 60,
        connect: bool = False,
        show_stats: bool = True,
        prices: dict[str, float] | None = None,
        idle_timeout: float | None = 600.0,
        **kwargs: Any,
    ):
        td = _turn_detection(
            turn_detection, vad_threshold, silence_duration_ms, prefix_padding_ms, eagerness
        )
        if prices is not None:
            from ..frames.columns import price_table

            prices = price_table(prices)  # the same table (and errors) as Session.usage(prices)
        fmt = input_audio_format or (session_config or {}).get("input_audio_format") or "pcm16"
        super().__init__(
            provider=provider,
            input_format=str(fmt).replace("-", "_"),
            show_stats=show_stats,
            prices=prices or {},
            frame_ms=frame_ms,
            echo_cancellation=echo_cancellation,
            noise_suppression=noise_suppression,
            auto_gain_control=auto_gain_control,
            prebuffer_ms=prebuffer_ms,
            mode="hands-free" if td is not None else "push-to-talk",
            vad=td or {"type": "server_vad"},
            **kwargs,
        )
        config: dict[str, Any] = dict(session_config or {})
        for key, value in (
            ("voice", voice),
            ("instructions", instructions),
            ("modalities", modalities),
            ("input_audio_format", input_audio_format),
            ("output_audio_format", output_audio_format),
        ):
            if value is not None:
                config[key] = value
        config["turn_detection"] = td
        if input_transcription:
            config.setdefault("input_audio_transcription", {"model": TRANSCRIPTION_MODEL})
        else:
            config.setdefault("input_audio_transcription", None)
        self._create_args: dict[str, Any] = {
            "provider": provider,
            "model": model,
            "session": config,
            "name": name,
            "url": url,
            "tools": list(tools or []),
            "idle_timeout": idle_timeout,
        }
        self._existing = session
        self.session: Any = None  # the kernel-side realtime_widget.Session, once connected
        self._lock = threading.Lock()
        self._connecting: threading.Thread | None = None
        self._relay_off: Callable[[], None] | None = None
        self.on_msg(self._on_front_end_msg)
        if connect or session is not None:
            self.connect()
        else:
            _prewarm_client()

    # ------------------------------------------------------------------ the session

    def connect(self, timeout: float = 180.0) -> Any:
        """Create (or attach to) the hub session now; returns the kernel's ``Session``.
        The widget's views attach to it at once."""
        with self._lock:
            if self.session is not None and not self.session.closed:
                return self.session
            self.starting = True
        try:
            session = self._open_session(timeout)
        except Exception as exc:
            self.starting = False
            self.last_error = f"Could not start the realtime session: {exc}"
            raise
        self._adopt(session)
        return session

    def _open_session(self, timeout: float) -> Any:
        from ..client import Session

        existing = self._existing
        if existing is not None and not isinstance(existing, str):
            return existing
        args = dict(self._create_args)
        # the mode may have changed (UI or Python) since the widget was made
        args["session"] = {
            **args["session"],
            "turn_detection": None if self.mode == "push-to-talk" else dict(self.vad),
        }
        if isinstance(existing, str):
            return Session(id=existing, tools=args["tools"] or None, timeout=timeout)
        return Session(
            args["provider"],
            model=args["model"],
            session=args["session"],
            name=args["name"],
            url=args["url"],
            tools=args["tools"] or None,
            timeout=timeout,
            idle_timeout=args["idle_timeout"],
        )

    def _adopt(self, session: Any) -> None:
        with self._lock:
            self.session = session
        hub = session.mode == "hub"
        summary = session.transport.summary
        with self.hold_sync():
            self.hub_mode = hub
            self.ws_path = str(summary.get("ws_path") or f"realtime/sessions/{session.id}/ws")
            self.autoattach = True
            self.starting = False
            self.last_error = ""
            self.session_id = session.id

    def _connect_in_background(self) -> None:
        if self._connecting is not None and self._connecting.is_alive():
            return
        if self.session is not None and not self.session.closed:
            # already open: make sure the views know it (a view created later asks again)
            self.send({"type": "session", "session_id": self.session_id})
            return

        def run() -> None:
            try:
                self.connect()
            except Exception as exc:  # reported in the widget (last_error)
                log.warning("realtime-widget: connecting failed: %s", exc)
                try:
                    self.send({"type": "error", "message": self.last_error})
                except Exception:
                    pass

        self._connecting = threading.Thread(target=run, name="realtime-widget-connect", daemon=True)
        self._connecting.start()

    def close(self, *, end: bool = True) -> None:  # type: ignore[override]
        """Close the widget; with ``end`` (default) also end the hub session."""
        self._stop_relay()
        session, self.session = self.session, None
        if session is not None and not session.closed and session is not self._existing:
            # in a daemon thread: close() also runs from __del__ and at interpreter exit
            def end_session() -> None:
                try:
                    session.close(end=end)
                except Exception as exc:
                    log.info("realtime-widget: closing the session failed: %s", exc)

            threading.Thread(target=end_session, name="realtime-widget-close", daemon=True).start()
        super().close()

    # ------------------------------------------------------------------ messages from the front end

    def _on_front_end_msg(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "connect":
            self._connect_in_background()
        elif kind == "relay_attach":
            self._start_relay(int(content.get("after") or 0))
        elif kind == "relay_detach":
            self._stop_relay()
        elif kind == "client_event":
            event = content.get("event")
            if isinstance(event, dict) and self.session is not None and not self.session.closed:
                self.session.send(event)

    # ------------------------------------------------------------------ the comm relay

    def _start_relay(self, after: int) -> None:
        """Forward the session's events to the front end over the comm (for browsers
        that cannot reach the hub). The relay attaches to the hub like a browser's
        WebSocket (:meth:`Session.follow`), so the hub's own catch-up (the logged events,
        then ``x_hub.ready``, then live ones) is what the front end gets either way."""
        session = self.session
        if session is None:
            return
        self._stop_relay()
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            events, batch[:] = list(batch), []
            for start in range(0, len(events), RELAY_BATCH):
                self._relay_send(events[start : start + RELAY_BATCH])

        def forward(event: dict[str, Any]) -> None:
            # on the session's loop: events arriving together (a catch-up) share a message
            batch.append(event)
            if len(batch) == 1:
                asyncio.get_running_loop().call_soon(flush)

        try:
            self._relay_off = session.follow(after, forward)
        except Exception as exc:
            log.warning("realtime-widget: cannot relay the session's events: %s", exc)

    def _relay_send(self, events: list[dict[str, Any]]) -> None:
        try:
            self.send({"type": "relay", "events": events})
        except Exception:
            log.debug("realtime-widget: relaying to the front end failed", exc_info=True)

    def _stop_relay(self) -> None:
        off, self._relay_off = self._relay_off, None
        if off is not None:
            off()
