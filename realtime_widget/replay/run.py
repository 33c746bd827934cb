"""``replay(source, ...)``: the user side of a recorded session, sent again to a new session.

The new session is an ordinary :class:`realtime_widget.Session` (hub or direct mode, as
``Session()`` chooses), so it is live and logged like any other. Its turns are driven by
:class:`_Replayer` on the session's own event loop thread; the calling thread only shows
progress and takes Ctrl-C.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import audio as _audio
from .errors import ReplayError, ReplayInterrupted
from .source import Interrupt, Turn, UserSide, read_log, user_side

__all__ = ["ReplayInterrupted", "replay"]

SPEEDS = ("turns", "realtime")
# Session() options that may be given among the overrides (everything else is a session field)
SESSION_OPTIONS = ("name", "mode", "server", "token", "url", "speech", "timeout")
PAD_CHUNK_MS = 100
MAX_PAD_MS = 10_000  # silence after a turn before the replay decides the VAD heard nothing


class _RecordedTool:
    """A function of the source that no registered tool answers: the source's recorded
    output for the same function (the one with the same arguments, else the next one in
    order), or an error output when the source never called it."""

    def __init__(self, name: str, definition: dict[str, Any], recorded: list[tuple[str, str]]):
        self.name = name
        self._definition = definition
        self.recorded = list(recorded)
        self._next = 0

    def definition(self) -> dict[str, Any]:
        return self._definition

    def output_for(self, arguments: Any) -> str:
        if not self.recorded:
            return json.dumps(
                {
                    "error": f"replay: the function {self.name!r} has no tool in this session "
                    "and the source never called it"
                }
            )
        for recorded_args, output in self.recorded:
            if _same_arguments(recorded_args, arguments):
                return output
        output = self.recorded[self._next % len(self.recorded)][1]
        self._next += 1
        return output

    async def call(self, arguments: Any, *, executor: Any = None) -> str:
        return self.output_for(arguments)


def _same_arguments(a: Any, b: Any) -> bool:
    try:
        return json.loads(a or "{}") == json.loads(b or "{}")
    except (TypeError, ValueError):
        return a == b


def _merge(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return {**config, **overrides}


def _vad(config: dict[str, Any]) -> dict[str, Any] | None:
    td = config.get("turn_detection")
    return td if isinstance(td, dict) and td.get("type") not in (None, "none") else None


class _Replayer:
    """Sends one source's turns to ``session`` (runs on the session's loop thread)."""

    def __init__(
        self,
        session: Any,
        side: UserSide,
        overrides: dict[str, Any],
        speed: str,
        timeout: float,
        definitions: list[dict[str, Any]] | None = None,
    ):
        self.s = session
        self.definitions = definitions or []  # tool definitions given to replay(tools=[...])
        self.side = side
        self.overrides = overrides
        self.speed = speed
        self.timeout = timeout
        self.done_turns = 0
        self.skipped: list[int] = []  # turns the new session's VAD did not take as speech
        self._pending_sends: set[asyncio.Task] = set()

    # -- sending -------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> str:
        return await self.s._send(self.s._prepare(event))

    def _user_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The event as the new session gets it (None: not sent)."""
        event = {k: v for k, v in event.items() if k != "event_id"}
        etype = event.get("type")
        if etype == "session.update":
            fields = _merge(dict(event.get("session") or {}), self.overrides)
            if "tools" in fields:
                fields["tools"] = self._tools(fields.get("tools"))
            event["session"] = fields
        elif etype == "conversation.item.create":
            event.pop("previous_item_id", None)  # the source's ids mean nothing here
        elif etype == "conversation.item.delete":
            known = {i.id for i in self.s.conversation.items}
            if event.get("item_id") not in known:
                return None
        return event

    def _tools(self, tools: Any) -> list[dict[str, Any]]:
        """A tools list of the source with the replay's: its definitions, then its callables."""
        names = {d.get("name") for d in self.definitions}
        kept = [t for t in tools or [] if isinstance(t, dict) and t.get("name") not in names]
        return self.s._merged_tools(kept + self.definitions)

    async def configure(self) -> None:
        """The source's configuration with the overrides; a refusal raises with the
        backend's error event."""
        fields = _merge(self.side.config, self.overrides)
        fields["tools"] = self._tools(fields.get("tools"))
        if not fields["tools"]:
            del fields["tools"]
        if not fields:
            return
        event = self.s._prepare({"type": "session.update", "session": fields})
        await self.s._send(event)
        answer = await self.s._wait_for(
            lambda ev: (
                ev.get("type") == "session.updated"
                or (
                    ev.get("type") == "error"
                    and (ev.get("error") or {}).get("event_id") == event["event_id"]
                )
            ),
            self.timeout,
            self.s._mark,
        )
        if answer.get("type") == "error":
            error = answer.get("error") or {}
            raise ReplayError(
                f"the backend refused the replay's configuration: {error.get('message')} "
                f"({error.get('code') or error.get('type')}, param {error.get('param')})",
                session=self.s,
                event=answer,
            )

    # -- one turn --------------------------------------------------------------------

    async def _pace(self, started: float, offset: float) -> None:
        if self.speed == "realtime":
            loop = asyncio.get_running_loop()
            delay = started + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _send_events(self, events: list[tuple[float, dict[str, Any]]]) -> set[str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent: set[str] = set()
        for offset, event in events:
            await self._pace(started, offset)
            out = self._user_event(event)
            if out is not None:
                sent.add(await self.send(out))
        return sent

    async def _pad_silence(self, vad: dict[str, Any], since: int) -> bool:
        """Silence after the turn's audio until the new session's VAD commits it (what a
        live microphone sends); False when it never does."""
        fmt = self.s.conversation.input_audio_format
        chunk = _audio.from_pcm16(bytes(2 * _audio.samples_for_ms(PAD_CHUNK_MS, fmt)), fmt)
        b64 = _audio.b64encode_audio(chunk)
        # what the VAD needs at once, then a chunk at a time in real time until it commits
        first_ms = int(vad.get("silence_duration_ms") or 500) + 300
        padded = 0
        while padded < MAX_PAD_MS:
            if self._seen(since, "input_audio_buffer.committed"):
                return True
            burst = first_ms if padded == 0 else PAD_CHUNK_MS
            for _ in range(max(1, burst // PAD_CHUNK_MS)):
                await self.send({"type": "input_audio_buffer.append", "audio": b64})
                padded += PAD_CHUNK_MS
                if self.speed == "realtime":  # a microphone's silence comes in real time too
                    await asyncio.sleep(PAD_CHUNK_MS / 1000)
            try:
                await self.s._wait_for(
                    lambda ev: ev.get("type") == "input_audio_buffer.committed",
                    PAD_CHUNK_MS / 1000 if padded > first_ms else 1.0 + first_ms / 1000,
                    since,
                )
                return True
            except TimeoutError:
                continue
        return False

    def _seen(self, since: int, etype: str) -> bool:
        for i in range(since + 1, self.s._count + 1):
            event = self.s._event(i)
            if event is not None and event.get("type") == etype:
                return True
        return False

    async def turn(self, turn: Turn) -> None:
        s = self.s
        since = s._count
        sent = await self._send_events(turn.events)
        vad = _vad(s.conversation.session)
        expect_response = True
        if turn.trigger == "vad":
            if vad is not None:
                if not await self._pad_silence(vad, since):
                    self.skipped.append(self.done_turns)
                    return
                expect_response = vad.get("create_response", True) is not False
            else:  # the new session has no VAD: end the turn where the source's VAD did
                await self.send({"type": "input_audio_buffer.commit"})
                sent.add(await self.send({"type": "response.create", "response": {}}))
        if expect_response:
            await self._wait_answer(since, sent, turn.interrupt)

    async def _wait_answer(self, since: int, sent: set[str], interrupt: Interrupt | None) -> None:
        """Until the turn's answer is over: every response done, none following up on
        function calls. Calls that no tool of the session answers get an output here."""
        s = self.s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        cursor = since
        responses = 0
        open_responses: set[str] = set()
        follow_up = False
        audio_ms: dict[str, float] = {}  # item id -> ms of audio received
        created_at: float | None = None
        interrupted = interrupt is None
        while True:
            if not interrupted and interrupt is not None and created_at is not None:
                interrupted = await self._maybe_interrupt(interrupt, audio_ms, created_at)
            wait_until = deadline
            if not interrupted and interrupt is not None and interrupt.audio_end_ms is None:
                if created_at is not None:
                    wait_until = min(deadline, created_at + (interrupt.after_s or 0.0))
            try:
                events, cursor = await s._next_events(cursor, max(wait_until, loop.time() + 0.01))
            except TimeoutError:
                if loop.time() >= deadline:
                    raise ReplayError(
                        f"turn {self.done_turns + 1} of the replay of {self.side.id}: no "
                        f"answer within {self.timeout:g} s",
                        session=s,
                    ) from None
                continue
            for event in events:
                if event is None:
                    continue
                etype = event.get("type")
                if etype == "error" and (event.get("error") or {}).get("event_id") in sent:
                    if not open_responses and not responses:
                        return  # the user's request was refused: no answer comes
                elif etype == "response.created":
                    rid = str((event.get("response") or {}).get("id"))
                    open_responses.add(rid)
                    responses += 1
                    follow_up = False
                    if created_at is None:
                        created_at = loop.time()
                elif etype == "response.audio.delta":
                    iid = str(event.get("item_id"))
                    audio_ms[iid] = audio_ms.get(iid, 0.0) + _audio.duration_ms(
                        len(_audio.b64decode_audio(event.get("delta") or "")),
                        s.conversation.output_audio_format,
                    )
                elif etype == "response.done":
                    response = event.get("response") or {}
                    open_responses.discard(str(response.get("id")))
                    calls = [
                        o
                        for o in response.get("output") or ()
                        if isinstance(o, dict) and o.get("type") == "function_call"
                    ]
                    if calls and response.get("status") == "completed":
                        follow_up = True
                        await self._answer_unknown_calls(calls)
            if responses and not open_responses and not follow_up:
                return

    async def _maybe_interrupt(
        self, interrupt: Interrupt, audio_ms: dict[str, float], created_at: float
    ) -> bool:
        """Barge in where the user did in the source: once as much of the answer was
        heard (truncation), or as long after the response began (a cancel without audio)."""
        s = self.s
        active = s.conversation.active_response
        if interrupt.audio_end_ms is not None:
            item = next((i for i in reversed(list(audio_ms)) if audio_ms[i] > 0), None)
            if item is None or audio_ms[item] < interrupt.audio_end_ms:
                if active is None and audio_ms:
                    return True  # the whole answer is shorter than what the user heard
                return False
            if active is not None:
                # the answer is cut here: in the source the user's cancel did it, or the
                # server's VAD hearing the barge-in (whose audio a turn-by-turn replay only
                # sends with the next turn)
                await self.send({"type": "response.cancel", "response_id": active.id})
            await self.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item,
                    "content_index": 0,
                    "audio_end_ms": int(interrupt.audio_end_ms),
                }
            )
            return True
        loop = asyncio.get_running_loop()
        if loop.time() < created_at + (interrupt.after_s or 0.0):
            return False
        if interrupt.cancel and active is not None:
            await self.send({"type": "response.cancel", "response_id": active.id})
        return True

    async def _answer_unknown_calls(self, calls: list[dict[str, Any]]) -> None:
        """Outputs for calls to functions the session has no tool for (the model named
        a function nobody declared): an error output, and the follow-up response."""
        unknown = [c for c in calls if c.get("name") not in self.s._tools]
        for call in unknown:
            await self.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call.get("call_id"),
                        "output": _RecordedTool(str(call.get("name")), {}, []).output_for(None),
                    },
                }
            )
        if unknown and len(unknown) == len(calls):
            await self.send({"type": "response.create", "response": {}})

    # -- the whole replay ------------------------------------------------------------

    async def run(self, cancel: threading.Event) -> None:
        await self.configure()
        for turn in self.side.turns:
            if cancel.is_set():
                return
            await self.turn(turn)
            self.done_turns += 1
        if self.side.tail:
            await self._send_events(self.side.tail)


def _install_recorded_tools(
    session: Any, side: UserSide, extra: list[dict[str, Any]] | None = None
) -> None:
    """Functions (declared by the source or the replay, or called by the source) that no
    registered tool answers."""
    definitions = {d.get("name"): d for d in [*side.tool_definitions, *(extra or [])]}
    definitions.pop(None, None)
    for name in set(definitions) | set(side.outputs):
        if name not in session._tools:
            definition = definitions.get(name) or {"type": "function", "name": name}
            session._tools[name] = _RecordedTool(name, definition, side.outputs.get(name, []))


def _progress(total: int, description: str, enabled: bool) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency; without it there is no bar
        return None
    if not enabled:
        return None
    return tqdm(total=total, desc=description, unit="turn", leave=True)


def start_replay(
    source: Any,
    *,
    speed: str = "turns",
    provider: str | None = None,
    model: str | None = None,
    tools: list[Callable[..., Any]] | None = None,
    timeout: float = 120.0,
    **session: Any,
) -> tuple[Any, _Replayer, concurrent.futures.Future, threading.Event]:
    """Create the new session and start its replay on the session's loop thread."""
    if speed not in SPEEDS:
        raise ValueError(f"replay: speed is 'turns' or 'realtime', not {speed!r}")
    options = {k: session.pop(k) for k in SESSION_OPTIONS if k in session}
    side = user_side(read_log(source, server=options.get("server"), token=options.get("token")))
    overrides = session
    fmt = side.config.get("input_audio_format")
    if "input_audio_format" in overrides and overrides["input_audio_format"] != (fmt or "pcm16"):
        raise ValueError(
            "replay: the user's audio is replayed byte for byte, so input_audio_format "
            f"stays {fmt or 'pcm16'!r}"
        )
    provider = provider or side.provider or "local"
    if model is None and provider == side.provider:
        model = side.model
    from ..client import Session

    definitions = [dict(t) for t in tools or () if isinstance(t, Mapping)]
    callables = [t for t in tools or () if not isinstance(t, Mapping)]
    options.setdefault("name", f"replay of {side.name}")
    new = Session(provider, model=model, tools=callables, **options)
    new.replayed_from = side.id
    replayer = _Replayer(new, side, overrides, speed, timeout, definitions)

    async def begin() -> None:
        _install_recorded_tools(new, side, definitions)

    new._lt.run(begin(), 30)
    cancel = threading.Event()
    future = new._lt.submit(replayer.run(cancel))
    return new, replayer, future, cancel


def stop_replay(session: Any, future: concurrent.futures.Future, cancel: threading.Event) -> None:
    """Stop a replay in progress and leave its session valid: no response running."""
    cancel.set()
    future.cancel()
    try:
        future.result(10)
    except BaseException:
        pass
    try:
        session.cancel()
    except Exception:
        pass


def replay(
    source: Any,
    *,
    speed: str = "turns",
    provider: str | None = None,
    model: str | None = None,
    tools: list[Callable[..., Any]] | None = None,
    progress: bool = True,
    timeout: float = 120.0,
    **session: Any,
) -> Any:
    """A new, live, logged session with the user side of ``source`` sent again.

    ``source``: a ``Session``, a stored session (id or path, as ``frames.open_session``
    takes) or a ``SessionFrames``. ``speed``: ``"turns"`` (each user turn as fast as the
    backend takes it, then its answer is awaited) or ``"realtime"`` (the user's original
    pacing within each turn). ``provider`` / ``model``: default the source's. ``tools``:
    Python callables that answer the model's function calls for real; other calls get the
    source's recorded output for the same function, else an error output.
    Other keyword arguments override session fields (``instructions=``, ``voice=``,
    ``turn_detection=``, ...); ``name``, ``mode``, ``server``, ``token``, ``url`` and
    ``speech`` go to :class:`~realtime_widget.Session`.

    Raises :class:`ReplayError` (bad source, refused configuration: ``.event`` is the
    backend's error, ``.session`` the new session) and, on Ctrl-C,
    :class:`ReplayInterrupted` whose ``.session`` stays open and usable.
    """
    if progress:
        _progress(0, "", False)  # the (slow, in a notebook) import before the replay starts
    new, replayer, future, cancel = start_replay(
        source,
        speed=speed,
        provider=provider,
        model=model,
        tools=tools,
        timeout=timeout,
        **session,
    )
    bar = None
    shown = 0
    try:
        bar = _progress(len(replayer.side.turns), f"replay {replayer.side.name}", progress)
        while True:
            try:
                future.result(0.2)
                break
            except concurrent.futures.TimeoutError:
                pass
            finally:
                if bar is not None and replayer.done_turns > shown:
                    bar.update(replayer.done_turns - shown)
                    shown = replayer.done_turns
    except KeyboardInterrupt:
        stop_replay(new, future, cancel)
        raise ReplayInterrupted(
            f"replay interrupted after {replayer.done_turns} of {len(replayer.side.turns)} "
            f"turns; the new session {new.id} is open (exception.session)",
            new,
        ) from None
    except ReplayError as exc:
        if exc.event is not None:
            new.close()
        raise
    finally:
        if bar is not None:
            bar.close()
    return new
