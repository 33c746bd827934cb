"""Seeded wire fuzzing of a realtime WebSocket: frames, one connection's run, its checks.

Used by ``tests/test_fuzz_wire.py`` (CI scale) and ``benchmarks/fuzz_wire.py`` (100k
frames). ``FrameMaker(seed, dialect, target)`` makes a reproducible stream of frames:
valid client events of the dialect, mutated ones (a field given a value of another JSON
type, removed, or added), and frames every route must refuse: lone surrogates, NaN /
Infinity, nesting of 202 to 3,000 levels, truncated JSON, non-objects, binary frames
(garbage bytes; on the hub any binary frame), plus huge strings and big appends.

``fuzz_connection`` sends them over one real WebSocket in windows (a barrier event after
every window keeps the server's queue short), waits for every response to end, then runs
one normal text turn, and returns a :class:`Report` whose :meth:`Report.problems` lists
every broken promise:

* an ``internal_error`` (an error event, or a response failed with it);
* a ``response.created`` without its ``response.done``;
* an invalid frame not answered by an ``error`` naming its ``event_id`` (when the id can
  be read from the frame: sniffed from its first 4 KiB) or, without an id, by fewer
  id-less errors than such frames;
* an ``error`` event that is not valid for the spec as written (no null ``param`` /
  ``event_id``);
* the normal turn afterwards not completing.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spec_schema import SpecValidationError, validate_server_event

WAIT_S = 60.0  # a hung server fails the run after this long; never a performance threshold
_WORDS = "hello weather Paris lights kitchen 𝄞 émigré 你好 ok no 42 -7 3.5 true off".split()
_JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**30,
    1e308,
    "",
    "x",
    "inf",
    [],
    {},
    [1, "a", None],
    {"a": {"b": []}},
    "𝄞" * 3,
]


@dataclass
class Frame:
    data: str | bytes
    kind: str
    invalid: bool = False  # every route must answer it with an error
    event_id: str | None = None  # the id that error must name (None: not readable)


class FrameMaker:
    """A reproducible stream of frames for one connection (``dialect``: preview or ga;
    ``target``: engine or hub, which differ only for binary frames)."""

    KINDS = (  # (kind, weight)
        ("valid", 40),
        ("mutated", 30),
        ("surrogate", 4),
        ("nan", 4),
        ("deep", 3),
        ("truncated", 8),
        ("not_object", 3),
        ("binary", 4),
        ("huge_string", 1),
        ("big_append", 0.4),
        ("unknown_type", 2.6),
    )

    def __init__(self, seed: int, *, dialect: str = "preview", target: str = "engine"):
        self.rng = random.Random(seed)
        self.dialect = dialect
        self.target = target
        self.n = 0
        self._kinds = [k for k, _ in self.KINDS]
        self._weights = [w for _, w in self.KINDS]

    def _eid(self) -> str:
        self.n += 1
        return f"fz_{self.n}"

    def _text(self) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(1, 8)))

    def _audio(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes // 2 * 2)).decode()

    def valid(self, eid: str) -> dict[str, Any]:
        r = self.rng
        ga = self.dialect == "ga"
        choice = r.randrange(10)
        if choice == 0:
            session: dict[str, Any] = {"instructions": self._text()}
            if ga:
                session.update(type="realtime", output_modalities=["text"])
            else:
                session.update(modalities=["text"], temperature=round(r.uniform(0.6, 1.2), 2))
            if r.random() < 0.5:
                session["tools"] = [
                    {
                        "type": "function",
                        "name": "get_weather",
                        "description": "weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    }
                ]
            return {"event_id": eid, "type": "session.update", "session": session}
        if choice in (1, 2):
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": self._text()}],
            }
            return {"event_id": eid, "type": "conversation.item.create", "item": item}
        if choice in (3, 4):
            response = {"output_modalities": ["text"]} if ga else {"modalities": ["text"]}
            if r.random() < 0.3:
                response["instructions"] = self._text()
            return {"event_id": eid, "type": "response.create", "response": response}
        if choice == 5:
            return {"event_id": eid, "type": "response.cancel"}
        if choice == 6:
            return {
                "event_id": eid,
                "type": "input_audio_buffer.append",
                "audio": self._audio(r.choice((480, 960, 4800))),
            }
        if choice == 7:
            return {
                "event_id": eid,
                "type": r.choice(("input_audio_buffer.clear", "input_audio_buffer.commit")),
            }
        if choice == 8:
            return {
                "event_id": eid,
                "type": "conversation.item.delete",
                "item_id": f"item_{r.randrange(1000)}",
            }
        item = {
            "type": "function_call_output",
            "call_id": f"call_{r.randrange(100)}",
            "output": json.dumps({"t": self._text()}),
        }
        return {"event_id": eid, "type": "conversation.item.create", "item": item}

    def _mutate(self, event: dict[str, Any]) -> None:
        """Give one field (anywhere but event_id) another value, or remove or add one."""
        r = self.rng
        node: Any = event
        while True:
            keys = [
                k for k in (node if isinstance(node, dict) else range(len(node))) if k != "event_id"
            ]
            if not keys:
                break
            key = r.choice(keys)
            child = node[key]
            if isinstance(child, (dict, list)) and child and r.random() < 0.6:
                node = child
                continue
            action = r.random()
            if action < 0.7:
                node[key] = self._junk()
            elif action < 0.85 and isinstance(node, dict):
                del node[key]
            elif isinstance(node, dict):
                node["x_" + self._text().split()[0]] = self._junk()
            else:
                node.append(self._junk())
            return
        event["x_extra"] = self._junk()

    def _junk(self) -> Any:
        return copy.deepcopy(self.rng.choice(_JUNK))

    def _string_paths(self, event: dict[str, Any]) -> list[tuple[Any, Any]]:
        out = []
        stack: list[Any] = [event]
        while stack:
            node = stack.pop()
            for key in node if isinstance(node, dict) else range(len(node)):
                if key in ("event_id", "type") and node is event:
                    continue
                child = node[key]
                if isinstance(child, str):
                    out.append((node, key))
                elif isinstance(child, (dict, list)):
                    stack.append(child)
        return out

    def _put_anywhere(self, event: dict[str, Any], value: Any) -> None:
        if len(event) > 2 and self.rng.random() < 0.7:
            self._mutate_to(event, value)
        else:
            event["x_value"] = value

    def _mutate_to(self, event: dict[str, Any], value: Any) -> None:
        paths = self._string_paths(event)
        if paths:
            node, key = self.rng.choice(paths)
            node[key] = value
        else:
            event["x_value"] = value

    def make(self) -> Frame:
        r = self.rng
        kind = r.choices(self._kinds, self._weights)[0]
        eid = self._eid()
        event = self.valid(eid)
        if kind == "valid":
            return Frame(json.dumps(event), kind)
        if kind == "mutated":
            for _ in range(r.randint(1, 3)):
                self._mutate(event)
            return Frame(json.dumps(event), kind)
        if kind == "unknown_type":
            event["type"] = r.choice(
                ("conversation.item.explode", "response.create ", "", "session.update.x")
            )
            return Frame(json.dumps(event), kind)
        if kind == "surrogate":
            paths = self._string_paths(event)
            if paths:
                node, key = r.choice(paths)
                node[key] = node[key][: r.randrange(len(node[key]) + 1)] + r.choice(
                    ("\udfff", "\ud800", "\udbff\udbff")
                )
            else:
                event["x_text"] = "a\udfff"
            return Frame(json.dumps(event), kind, invalid=True, event_id=eid)
        if kind == "nan":
            self._put_anywhere(event, r.choice((float("nan"), float("inf"), float("-inf"))))
            return Frame(json.dumps(event), kind, invalid=True, event_id=eid)
        if kind == "deep":
            depth = r.randint(202, 3000)
            marker = "__deep__"
            self._put_anywhere(event, marker)
            opener, closer = r.choice((("[", "]"), ('{"a":', "}")))
            text = json.dumps(event).replace(
                json.dumps(marker), opener * depth + "1" + closer * depth, 1
            )
            return Frame(text, kind, invalid=True, event_id=eid)
        if kind == "truncated":
            text = json.dumps(event)
            cut = r.randrange(1, len(text))
            member = f'"event_id": "{eid}"'
            readable = text.find(member) + len(member) <= cut
            return Frame(text[:cut], kind, invalid=True, event_id=eid if readable else None)
        if kind == "not_object":
            return Frame(
                r.choice(("[1, 2]", "123", '"event"', "null", "", "  ", "true")), kind, invalid=True
            )
        if kind == "binary":
            data = json.dumps(event).encode()
            if self.target == "engine" and r.random() < 0.5:
                return Frame(data, kind)  # the engine reads a binary frame like text
            garbage = bytes([0xFF, 0xFE]) + r.randbytes(r.randint(0, 16))
            data = data[:-1] + garbage  # the event_id stays readable at the start
            return Frame(data, kind, invalid=True, event_id=eid)
        if kind == "huge_string":
            paths = self._string_paths(event)
            huge = "z" * r.randint(100_000, 1_000_000)
            if paths:
                node, key = r.choice(paths)
                node[key] = huge
            else:
                event["x_huge"] = huge
            return Frame(json.dumps(event), kind)
        assert kind == "big_append"
        event = {
            "event_id": eid,
            "type": "input_audio_buffer.append",
            "audio": self._audio(r.randint(1, 4) * 1024 * 1024),
        }
        return Frame(json.dumps(event), kind)

    def frames(self, n: int) -> Iterator[Frame]:
        """``n`` frames, made as they are sent (a 100k run would not fit in memory)."""
        return (self.make() for _ in range(n))


@dataclass
class Report:
    target: str
    seed: int
    frames: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    invalid: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered: list[Frame] = field(default_factory=list)
    idless_expected: int = 0
    idless_errors: int = 0
    spec_violations: list[str] = field(default_factory=list)
    final_turn: dict[str, Any] | None = None
    closed: int | None = None

    def problems(self) -> list[str]:
        out = []
        where = f"{self.target} (seed {self.seed})"
        internal = [e for e in self.errors if e["error"].get("code") == "internal_error"]
        internal += [
            d
            for d in self.done.values()
            if ((d.get("status_details") or {}).get("error") or {}).get("code") == "internal_error"
        ]
        if internal:
            out.append(
                f"{where}: {len(internal)} internal errors, first: {json.dumps(internal[0])[:400]}"
            )
        hung = [rid for rid in self.created if rid not in self.done]
        if hung:
            out.append(
                f"{where}: {len(hung)} of {len(self.created)} responses never got response.done: "
                f"{hung[:5]}"
            )
        if self.unanswered:
            f = self.unanswered[0]
            out.append(
                f"{where}: {len(self.unanswered)} invalid frames got no error naming their "
                f"event_id; first ({f.kind}): {str(f.data[:200])!r}"
            )
        if self.idless_errors < self.idless_expected:
            out.append(
                f"{where}: {self.idless_expected} invalid frames without a readable event_id, "
                f"only {self.idless_errors} errors without one"
            )
        if self.spec_violations:
            out.append(
                f"{where}: {len(self.spec_violations)} error events break the spec, first: "
                f"{self.spec_violations[0]}"
            )
        if self.closed is not None:
            out.append(f"{where}: the server closed the connection (code {self.closed})")
        if (
            self.final_turn is None
            or self.final_turn.get("status") != "completed"
            or not self.final_turn.get("output")
        ):
            out.append(
                f"{where}: the normal turn afterwards did not complete: "
                f"{json.dumps(self.final_turn)[:400]}"
            )
        return out


Connect = Callable[[], Awaitable[Any]]  # -> a tornado WebSocketClientConnection


async def fuzz_connection(
    connect: Connect,
    frames: Iterable[Frame],
    *,
    target: str,
    seed: int,
    dialect: str = "preview",
    window: int = 64,
) -> Report:
    """Send ``frames`` over one connection and check what came back (see module doc)."""
    report = Report(target, seed)
    expected: list[Frame] = []  # the invalid frames, their data cut short
    ws = await connect()
    seen: set[str] = set()
    changed = asyncio.Event()
    state = {"closed": False}

    async def read() -> None:
        while True:
            msg = await ws.read_message()
            if msg is None:
                state["closed"] = True
                changed.set()
                return
            event = json.loads(msg)  # every frame must be JSON (a bad hub splice fails here)
            etype = event.get("type")
            if etype == "error":
                report.errors.append(event)
                error = event.get("error") or {}
                eid = error.get("event_id")
                if isinstance(eid, str):
                    seen.add(eid)
                else:
                    report.idless_errors += 1
                try:
                    validate_server_event(
                        {k: v for k, v in event.items() if k != "x_seq"}, strict=True
                    )
                except SpecValidationError as exc:
                    report.spec_violations.append(f"{json.dumps(event)[:300]}: {str(exc)[:300]}")
            elif etype == "response.created":
                report.created.append(event["response"]["id"])
            elif etype == "response.done":
                report.done[event["response"]["id"]] = event["response"]
            changed.set()

    reader = asyncio.ensure_future(read())

    async def until(condition: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not condition():
            if state["closed"]:
                raise _Closed()
            if loop.time() > deadline:
                raise AssertionError(f"{target} (seed {seed}): timed out waiting for {what}")
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    barriers = 0

    async def barrier() -> None:
        nonlocal barriers
        barriers += 1
        bid = f"fz_barrier_{barriers}"
        await ws.write_message(json.dumps({"type": "fz.barrier", "event_id": bid}))
        await until(lambda: bid in seen, f"barrier {bid}")

    try:
        frames = iter(frames)
        while True:
            batch = list(itertools.islice(frames, window))
            if not batch:
                break
            for frame in batch:
                await ws.write_message(frame.data, binary=isinstance(frame.data, bytes))
                report.frames += 1
                report.kinds[frame.kind] = report.kinds.get(frame.kind, 0) + 1
                if frame.invalid:
                    expected.append(Frame(frame.data[:200], frame.kind, True, frame.event_id))
            del batch
            await barrier()
        await until(
            lambda: all(rid in report.done for rid in report.created), "every response.done"
        )
        # one normal turn
        if dialect == "ga":
            options = {
                "output_modalities": ["text"],
                "max_output_tokens": "inf",
                "tool_choice": "none",
            }
        else:
            options = {"modalities": ["text"], "max_output_tokens": "inf", "tool_choice": "none"}
        before = len(report.created)
        await ws.write_message(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "event_id": "fz_final_item",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Hello there"}],
                    },
                }
            )
        )
        await ws.write_message(
            json.dumps({"type": "response.create", "event_id": "fz_final", "response": options})
        )
        await until(
            lambda: len(report.created) > before and report.created[before] in report.done,
            "the final turn",
        )
        report.final_turn = report.done[report.created[before]]
    except _Closed:
        report.closed = ws.close_code or -1
    finally:
        ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    for frame in expected:
        if frame.invalid:
            report.invalid += 1
            if frame.event_id is None:
                report.idless_expected += 1
            elif frame.event_id not in seen:
                report.unanswered.append(frame)
    return report


class _Closed(Exception):
    pass


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
