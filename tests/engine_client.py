"""A small realtime test client over a real WebSocket (``tornado.websocket``).

It sends client events, collects every server event in arrival order, and validates
every event of the **preview** dialect against the spec schema as it arrives
(``spec_schema.validate_server_event``; events the service sent but the spec lacks,
such as ``conversation.created``, are checked against the colleague's
``EXTRA_EVENT_SCHEMAS``; anything else unknown is a violation). GA-dialect events are
translated back to preview (``protocol.ga.server_ga_to_preview``) and those are
validated instead, GA-only events excepted.

Reading is cursor based: ``wait_for(type)`` returns the first matching event *after*
the previous match and moves the cursor past it, so a test reads the stream in order.
``collect_until(type)`` returns everything up to and including the match.
``sync()`` is a barrier: every event the server sent in reaction to what was sent
before it has arrived when it returns (the server handles one connection's events in
order). Timeouts only stop a hung test; nothing asserts on wall-clock time.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import tornado.httpclient
import tornado.websocket
from spec_schema import validate_server_event

from realtime_widget.protocol import ga

WAIT_S = 30.0  # a hung test fails after this long; never a performance threshold
_SYNC_PREFIX = "sync_barrier_"
_ids = itertools.count(1)


class EngineClient:
    def __init__(
        self,
        ws: tornado.websocket.WebSocketClientConnection,
        *,
        dialect: str = "preview",
        validate: bool = True,
    ):
        self.ws = ws
        self.dialect = dialect
        self.validate = validate
        self.events: list[dict[str, Any]] = []  # every server event (sync barriers left out)
        self.violations: list[
            tuple[dict[str, Any], str]
        ] = []  # (event, why) that failed the schema
        self.cursor = 0
        self.closed = False
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._barriers: set[str] = set()  # sync barriers answered
        self._reader = asyncio.ensure_future(self._read())

    # -- connecting -------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
        dialect: str = "preview",
        validate: bool = True,
        max_message_size: int | None = None,
    ) -> EngineClient:
        request = tornado.httpclient.HTTPRequest(
            url, headers=headers or {}, connect_timeout=20, request_timeout=20
        )
        kwargs: dict[str, Any] = {"subprotocols": subprotocols}
        if max_message_size is not None:
            kwargs["max_message_size"] = max_message_size
        ws = await tornado.websocket.websocket_connect(request, **kwargs)
        return cls(ws, dialect=dialect, validate=validate)

    async def _read(self) -> None:
        while True:
            message = await self.ws.read_message()
            if message is None:
                self.closed = True
                self.close_code = self.ws.close_code
                self._changed.set()
                return
            event = json.loads(message)
            if event.get("type") == "error" and str(
                (event.get("error") or {}).get("event_id") or ""
            ).startswith(_SYNC_PREFIX):
                self._barriers.add(event["error"]["event_id"])
            else:
                self._check(event)
                self.events.append(event)
            self._changed.set()

    def _check(self, event: dict[str, Any]) -> None:
        if not self.validate:
            return
        if self.dialect == "preview":
            candidates = [event]
        else:
            candidates = [e for e in ga.server_ga_to_preview(event) if ga.MARKER not in e]
        for candidate in candidates:
            try:
                validate_server_event(candidate)
            except AssertionError as exc:
                self.violations.append((event, str(exc)))

    def assert_valid(self) -> None:
        """Raise if any received event violated the spec schema."""
        if self.violations:
            event, why = self.violations[0]
            raise AssertionError(
                f"{len(self.violations)} server event(s) violate the spec; first: "
                f"{json.dumps(event)[:600]}\n{why}"
            )

    # -- sending ----------------------------------------------------------------------
    async def send(self, event: dict[str, Any] | str | bytes, **fields: Any) -> str | None:
        """Send a client event (a dict gets an ``event_id`` unless it has one; ``fields``
        are merged in). Raw text/bytes are sent as they are. Returns the event_id."""
        if isinstance(event, (str, bytes)):
            await self.ws.write_message(event, binary=isinstance(event, bytes))
            return None
        event = {**event, **fields}
        event.setdefault("event_id", f"evt_test_{next(_ids)}")
        await self.ws.write_message(json.dumps(event))
        return event["event_id"]

    async def append_audio(self, data: bytes, *, chunk_bytes: int = 4800) -> None:
        """``input_audio_buffer.append`` the encoded audio ``data`` in chunks."""
        for i in range(0, len(data), chunk_bytes):
            await self.send(
                {"type": "input_audio_buffer.append", "audio": b64(data[i : i + chunk_bytes])}
            )

    async def sync(self) -> None:
        """Barrier: wait until the server has handled everything sent so far."""
        marker = f"{_SYNC_PREFIX}{next(_ids)}"
        await self.send({"type": "test.sync_barrier", "event_id": marker})
        await self._until(lambda: marker in self._barriers, f"barrier {marker}")

    # -- reading ----------------------------------------------------------------------
    async def _until(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.assert_valid()
            result = condition()
            if result:
                return result
            if self.closed:
                raise AssertionError(
                    f"connection closed ({self.close_code}) while waiting for {what}; got "
                    f"{self.types()}"
                )
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; events since cursor: {self.types(self.cursor)}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _find(
        self, types: Iterable[str], predicate: Callable[[dict[str, Any]], bool] | None, start: int
    ) -> int | None:
        wanted = set(types)
        for i in range(start, len(self.events)):
            e = self.events[i]
            if e.get("type") in wanted and (predicate is None or predicate(e)):
                return i
        return None

    async def wait_for(
        self,
        *types: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = WAIT_S,
    ) -> dict[str, Any]:
        """The first event of one of ``types`` (matching ``where``) after the cursor;
        moves the cursor past it."""
        index = await self._until(
            lambda: _plus1(self._find(types, where, self.cursor)), f"{types}", timeout
        )
        self.cursor = index
        return self.events[index - 1]

    async def collect_until(
        self, *types: str, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Every event from the cursor up to and including the next ``types`` event."""
        start = self.cursor
        await self.wait_for(*types, where=where)
        return self.events[start : self.cursor]

    async def error_for(self, event_id: str) -> dict[str, Any]:
        """The ``error`` event reporting client event ``event_id``; returns its ``error`` object."""
        event = await self.wait_for("error", where=lambda e: e["error"].get("event_id") == event_id)
        return event["error"]

    def of_type(self, *types: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.events[since:] if e.get("type") in types]

    def types(self, since: int = 0) -> list[str]:
        return [e.get("type", "?") for e in self.events[since:]]

    def mark(self) -> int:
        """Index of the next event to arrive (for ``of_type(since=...)``)."""
        return len(self.events)

    # -- whole turns --------------------------------------------------------------------
    async def response(self, **options: Any) -> Turn:
        """``response.create`` with ``options`` and wait for its ``response.done``."""
        start = self.cursor
        await self.send(
            {"type": "response.create", "response": options}
            if options
            else {"type": "response.create"}
        )
        done = await self.wait_for("response.done")
        return Turn(self.events[start : self.cursor], done["response"])

    async def next_response(self) -> Turn:
        """Wait for the next ``response.done`` (e.g. of an automatic response)."""
        start = self.cursor
        done = await self.wait_for("response.done")
        return Turn(self.events[start : self.cursor], done["response"])

    async def wait_closed(self, timeout: float = WAIT_S) -> int | None:
        """Wait until the server closes the connection; returns the close code."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        if not self.closed:
            self.ws.close()
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            except (asyncio.TimeoutError, tornado.websocket.WebSocketClosedError):
                self._reader.cancel()
        self.closed = True


def _plus1(index: int | None) -> int | None:
    return None if index is None else index + 1


class Turn:
    """The events of one response (from the cursor to its ``response.done``)."""

    def __init__(self, events: list[dict[str, Any]], response: dict[str, Any]):
        self.events = events
        self.response = response
        rid = response["id"]
        self.own = [
            e
            for e in events
            if e.get("response_id") == rid or (e.get("response") or {}).get("id") == rid
        ]

    @property
    def status(self) -> str:
        return self.response["status"]

    @property
    def usage(self) -> dict[str, Any]:
        return self.response["usage"]

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") in types]

    @property
    def text(self) -> str:
        """Text of the reply: text deltas, else audio transcript deltas."""
        text = "".join(
            e["delta"] for e in self.of_type("response.text.delta", "response.output_text.delta")
        )
        return text or "".join(
            e["delta"]
            for e in self.of_type(
                "response.audio_transcript.delta", "response.output_audio_transcript.delta"
            )
        )

    def audio(self) -> bytes:
        """All ``response.audio.delta`` bytes (in the response's output format)."""
        return b"".join(
            base64.b64decode(e["delta"])
            for e in self.of_type("response.audio.delta", "response.output_audio.delta")
        )

    def created_items(self) -> list[dict[str, Any]]:
        return [e["item"] for e in self.of_type("conversation.item.created")]


async def eventually(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> None:
    """Poll ``condition`` until it holds (a hang guard, not a performance bound)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pcm16_bytes(samples: np.ndarray) -> bytes:
    return np.asarray(samples, dtype=np.int16).astype("<i2").tobytes()


def silence(ms: float, rate: int = 24000) -> np.ndarray:
    return np.zeros(round(ms * rate / 1000), dtype=np.int16)


# -- items and brains shared by the engine tests -------------------------------------------


def user_text(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
        **fields,
    }


def create_item(item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item, **fields}


class ScriptedBrain:
    """The default rule brain, plus what a test needs to see and steer it.

    ``requests`` records every ``BrainRequest`` (what the brain was given to read);
    while ``hold`` is set (an ``asyncio.Event`` that is not set) the reply stops after
    its first piece until the event is set, so a response stays active for as long as the
    test wants (no timing games).
    """

    def __init__(self) -> None:
        from realtime_widget.engine.brain import RuleBrain

        self._rules = RuleBrain()
        self.requests: list[Any] = []
        self.hold: asyncio.Event | None = None
        self.first_piece = asyncio.Event()

    def factory(self) -> ScriptedBrain:
        return self

    async def reply(self, request: Any):
        self.requests.append(request)
        async for piece in self._rules.reply(request):
            yield piece
            self.first_piece.set()
            if self.hold is not None:
                await self.hold.wait()
