"""Fair inference scheduling (engine/scheduler.py): one session's heavy work does not
starve another's. Ordering is asserted (who starts before whom), never timing: the
scheduler runs real calls in real threads, and the engine test uses the real models over
real WebSockets."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from engine_client import b64, pcm16_bytes, silence
from speech_fixtures import ESPEAK_SENTENCES, espeak_available, speak

from realtime_widget.engine.scheduler import InferenceScheduler


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_later_session_starts_before_the_hogs_remaining_queue():
    scheduler = InferenceScheduler(workers=2, per_session=1)  # one thread for heavy calls
    scheduler.started = []
    gate = threading.Event()
    hog_jobs = [asyncio.ensure_future(scheduler.run("hog", gate.wait, 30)) for _ in range(4)]
    await _settle()
    assert scheduler.in_flight("hog") == 1 and scheduler.queued("hog") == 3
    victim = asyncio.ensure_future(scheduler.run("victim", lambda: "heard"))
    await _settle()
    assert scheduler.started == ["hog"]  # the heavy thread is busy: the victim waits...
    gate.set()
    assert await victim == "heard"
    await asyncio.gather(*hog_jobs)
    assert scheduler.started == [
        "hog",
        "victim",
        "hog",
        "hog",
        "hog",
    ]  # ...but only for the running call


async def test_one_session_never_holds_more_than_its_share_of_threads():
    scheduler = InferenceScheduler(workers=4, per_session=1)
    gate = threading.Event()
    jobs = [asyncio.ensure_future(scheduler.run("hog", gate.wait, 30)) for _ in range(4)]
    others = [asyncio.ensure_future(scheduler.run(name, gate.wait, 30)) for name in ("a", "b")]
    await _settle()
    assert scheduler.in_flight("hog") == 1 and scheduler.queued("hog") == 3
    assert scheduler.in_flight("a") == scheduler.in_flight("b") == 1
    gate.set()
    await asyncio.gather(*jobs, *others)


async def test_light_calls_pass_saturated_heavy_work_and_cancelled_calls_never_run():
    scheduler = InferenceScheduler(workers=2, per_session=1)
    gate = threading.Event()
    ran: list[str] = []
    heavy = asyncio.ensure_future(scheduler.run("a", gate.wait, 30))
    queued = asyncio.ensure_future(scheduler.run("b", ran.append, "b"))
    await _settle()
    assert (
        await scheduler.run("a", lambda: "vad", light=True) == "vad"
    )  # while the heavy thread is held
    queued.cancel()
    await _settle()
    assert scheduler.queued("b") == 0
    gate.set()
    await heavy
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert ran == []
    # errors reach the caller, and the thread is given back
    with pytest.raises(ZeroDivisionError):
        await scheduler.run("a", lambda: 1 / 0)
    assert await scheduler.run("a", lambda: 2) == 2


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
async def test_a_victims_spoken_turn_is_recognised_before_the_hogs_queued_turns(serve):
    """Four long append + commit turns of one session, then one short turn of another: the
    victim's recognition starts after at most the hog's running one(s), not after all four."""
    scheduler = InferenceScheduler(workers=2, per_session=1)
    scheduler.started = []
    server = await serve(scheduler=scheduler)
    hog = await server.connect()
    victim = await server.connect()
    for client in (hog, victim):
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "turn_detection": None,
                    "input_audio_transcription": {"model": "whisper-1"},
                },
            }
        )
        await client.wait_for("session.updated")
    long_turn = pcm16_bytes(np.concatenate([speak(" ".join(ESPEAK_SENTENCES))] * 2))  # ~25 s
    await victim.append_audio(
        pcm16_bytes(np.concatenate([speak(ESPEAK_SENTENCES[0]), silence(300)]))
    )
    await victim.sync()
    for _ in range(4):
        await hog.send({"type": "input_audio_buffer.append", "audio": b64(long_turn)})
        await hog.send({"type": "input_audio_buffer.commit"})
    for _ in range(4):
        await hog.wait_for("input_audio_buffer.committed")
    await victim.send({"type": "input_audio_buffer.commit"})
    heard = await victim.wait_for("conversation.item.input_audio_transcription.completed")
    assert "fox" in heard["transcript"].lower()
    for _ in range(4):
        await hog.wait_for("conversation.item.input_audio_transcription.completed", timeout=240)

    sessions = {id(s): s for s in server.state.sessions}
    victim_session = next(
        s for s in sessions.values() if s.conversation.item(heard["item_id"]) is not None
    )
    order = ["victim" if owner is victim_session else "hog" for owner in scheduler.started]
    assert order.count("hog") == 4 and order.count("victim") == 1
    assert order.index("victim") <= 2, order  # FIFO would have put it after all four
