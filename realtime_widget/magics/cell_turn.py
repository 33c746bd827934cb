"""One turn of a cell magic: send the message, stream the answer into the cell's output,
run the notebook's tools, and return what happened."""

from __future__ import annotations

import json
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..frames.display import AudioArray

__all__ = ["TurnResult", "run_turn"]

_DONE = object()


@dataclass
class TurnResult:
    """What a ``%%realtime`` cell returns.

    ``text`` (the final answer), ``audio`` (its audio: an :class:`AudioArray`, empty for
    a text answer), ``reply`` (the Session's ``Reply``), ``tool_calls``, ``usage``,
    ``session``, and ``events``: this turn's rows of the events table.
    """

    text: str
    audio: AudioArray
    reply: Any = field(repr=False)
    session: Any = field(repr=False)
    first_seq: int = 0
    last_seq: int = 0
    interrupted: bool = False

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list(getattr(self.reply, "tool_calls", []) or [])

    @property
    def usage(self) -> dict[str, Any] | None:
        return getattr(self.reply, "usage", None)

    @property
    def response(self) -> dict[str, Any]:
        return dict(getattr(self.reply, "response", {}) or {})

    @property
    def status(self) -> str:
        return str(self.response.get("status"))

    @property
    def events(self) -> Any:
        """This turn's events (both directions) as an events DataFrame."""
        from ..frames import frames

        df = frames(self.session).events()
        seq = df["seq"].to_numpy()
        return df[(seq > self.first_seq) & (seq <= self.last_seq)]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        audio = f", audio {self.audio.seconds:.2f} s" if len(self.audio) else ""
        calls = f", {len(self.tool_calls)} tool call(s)" if self.tool_calls else ""
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"<TurnResult {self.status}: {text!r}{audio}{calls}; .text .audio .events .reply>"


def _label(item: dict[str, Any]) -> str:
    args = item.get("arguments") or ""
    try:
        args = json.dumps(json.loads(args), ensure_ascii=False)
    except (TypeError, ValueError):
        pass
    return f"{item.get('name')}({args})"


def run_turn(
    session: Any,
    text: str,
    response: dict[str, Any],
    *,
    timeout: float = 120.0,
    show_audio: bool = True,
    out: Any = None,
) -> TurnResult:
    """Send ``text`` as a user message and ask for a response (with ``response`` options),
    streaming the answer's text to ``out`` (stdout) as it arrives."""
    out = out or sys.stdout
    events: queue.Queue = queue.Queue()
    remove = session.on(
        "*", events.put
    )  # registered on the session's loop before the message is sent
    first_seq = int(session.last_seq)
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["reply"] = session.say(text, timeout=timeout, **response)
        except BaseException as exc:  # noqa: BLE001 - handed to the cell
            box["error"] = exc
        finally:
            events.put(_DONE)

    thread = threading.Thread(target=worker, name="realtime-widget-turn", daemon=True)
    thread.start()
    streaming = False
    interrupted = False

    def newline() -> None:
        nonlocal streaming
        if streaming:
            out.write("\n")
            out.flush()
            streaming = False

    try:
        while True:
            try:
                ev = events.get(timeout=0.25)
            except queue.Empty:
                continue
            if ev is _DONE:
                break
            etype = ev.get("type")
            if etype in ("response.text.delta", "response.audio_transcript.delta"):
                out.write(str(ev.get("delta") or ""))
                out.flush()
                streaming = True
            elif etype == "response.output_item.done":
                item = ev.get("item") or {}
                if item.get("type") == "function_call":
                    newline()
                    out.write(f"-> calling {_label(item)}\n")
                    out.flush()
            elif etype == "conversation.item.created":
                item = ev.get("item") or {}
                if item.get("type") == "function_call_output":
                    newline()
                    output = str(item.get("output") or "")
                    out.write(f"<- {output if len(output) <= 200 else output[:197] + '...'}\n")
                    out.flush()
            elif etype == "response.done":
                newline()
                resp = ev.get("response") or {}
                if resp.get("status") not in ("completed", None):
                    details = resp.get("status_details") or {}
                    reason = (
                        details.get("reason") or (details.get("error") or {}).get("message") or ""
                    )
                    out.write(
                        f"[response {resp.get('status')}{': ' + str(reason) if reason else ''}]\n"
                    )
                    out.flush()
            elif etype == "error":
                newline()
                err = ev.get("error") or {}
                sys.stderr.write(
                    f"realtime error {err.get('code') or err.get('type')}: {err.get('message')}\n"
                )
                sys.stderr.flush()
    except KeyboardInterrupt:
        interrupted = True
        newline()
        try:
            session.cancel()
        except Exception:
            pass
        out.write("[interrupted: response.cancel sent]\n")
        thread.join(10)
    finally:
        remove()
    if "error" in box:
        raise box["error"]
    if "reply" not in box:
        raise KeyboardInterrupt
    reply = box["reply"]
    samples = np.asarray(getattr(reply, "audio", np.zeros(0, np.int16)), dtype=np.int16)
    audio = AudioArray(samples, getattr(reply, "sample_rate", 24000) or 24000, label="answer")
    result = TurnResult(
        text=reply.text,
        audio=audio,
        reply=reply,
        session=session,
        first_seq=first_seq,
        last_seq=int(session.last_seq),
        interrupted=interrupted,
    )
    if show_audio and len(audio):
        try:
            from IPython.display import display

            display(audio.player())
        except Exception:
            pass
    return result
