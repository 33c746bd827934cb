"""The magics in a real kernel attached to a real Jupyter server (hub mode): the
session lives in the server, the DataFrames are read through the hub's export because
this kernel cannot see the server's log directory, and match the server's own records."""

from __future__ import annotations

import os

import pytest
from hub_testing import *
from hub_testing import get_json
from jupyter_client.manager import start_new_async_kernel
from kernel_testing import TESTS, arun_cell


@pytest.fixture
async def hub_kernel():
    env = dict(
        os.environ
    )  # JUPYTER_RUNTIME_DIR: the test server's; the kernel is its child process
    for key in list(env):
        if key.startswith(("REALTIME_WIDGET_", "OPENAI_", "AZURE_OPENAI_")):
            env.pop(key)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH", "")) if p)
    km, kc = await start_new_async_kernel(kernel_name="python3", env=env, startup_timeout=120)
    yield kc
    kc.stop_channels()
    await km.shutdown_kernel(now=True)


async def test_magics_in_hub_mode(jp_serverapp, jp_fetch, hub, hub_kernel):
    kc = hub_kernel
    (await arun_cell(kc, "%load_ext realtime_widget")).ok()
    run = (await arun_cell(kc, "%%realtime -s hubchat\nHello hub")).ok()
    assert run.stdout.strip() == "You said: Hello hub."
    check = (
        (
            await arun_cell(
                kc,
                """
        import json
        from realtime_widget.frames import frames
        from frames_checks import assert_events_match
        r = _
        f = frames(r.session)
        df = f.events()
        assert_events_match(df, r.session.log(limit=1000, audio="ref")[: len(df)])
        tr = f.transcript()
        print(json.dumps({"mode": r.session.mode, "id": r.session.id,
                          "path": None if f.path is None else str(f.path),
                          "seqs": df["seq"].tolist(), "types": df["type"].astype(str).tolist(),
                          "transcript": tr["text"].tolist(), "sources": tr["source"].tolist(),
                          "latency": f.latency()["trigger"].tolist()}))
    """,
            )
        )
        .ok()
        .last_json()
    )
    assert check["mode"] == "hub" and check["path"] is None  # read through the hub's export
    records = (
        await get_json(jp_fetch, "realtime", "sessions", check["id"], "events", limit="1000")
    )["events"]
    assert check["seqs"] == [r["seq"] for r in records][: len(check["seqs"])]
    assert check["types"] == [r["type"] for r in records][: len(check["types"])]
    assert check["transcript"] == ["Hello hub", "You said: Hello hub."]
    assert check["sources"][0] == "kernel" and check["latency"] == ["client"]
    assert hub.sessions[check["id"]].name == "hubchat"

    # closed on the server, still readable by id through the hub
    closed = (
        (
            await arun_cell(
                kc,
                f"""
        r.session.close()
        ev = %realtime_events {check["id"]} --type response.done
        print(json.dumps({{"n": len(ev)}}))
    """,
            )
        )
        .ok()
        .last_json()
    )
    assert closed == {"n": 1}
    assert hub.sessions[check["id"]].status == "closed"


@pytest.mark.parametrize("hub_options", [{"local_speech": True}])
async def test_recording_compare_and_expect_through_the_hub_export(
    jp_serverapp, jp_fetch, hub, with_speech, hub_kernel, hub_options
):
    """The kernel cannot read the server's log directory: the recording's audio comes
    through the hub's export, and matches the audio the hub sent."""
    kc = hub_kernel
    (await arun_cell(kc, "%load_ext realtime_widget")).ok()
    run = (await arun_cell(kc, "%%realtime -s hubrec\nHello recording")).ok()
    assert run.stdout.strip() == "You said: Hello recording."
    got = (
        (
            await arun_cell(
                kc,
                """
        import base64, json
        import numpy as np
        import realtime_widget
        from realtime_widget.frames import frames
        r = _
        f = frames(r.session)
        rec = r.session.recording()
        assert f.path is None  # read through the hub's export
        deltas = r.session.log(type="response.audio.delta", audio="inline", limit=1000)
        sent = np.frombuffer(b"".join(base64.b64decode(d["event"]["delta"]) for d in deltas), "<i2")
        table = realtime_widget.compare(r.session, f, names=["session", "its frames"])
        realtime_widget.expect(r.session).has_turns(1).turn(0).says("hello recording")
        print(json.dumps({"channels": rec.shape[1], "user": int(np.count_nonzero(rec.user)),
                          "assistant": bool(np.array_equal(np.trim_zeros(rec.assistant),
                                                           np.trim_zeros(sent))),
                          "seconds": rec.seconds, "sent_seconds": len(sent) / 24000,
                          "differs": table[("differs", "")].tolist()}))
    """,
            )
        )
        .ok()
        .last_json()
    )
    assert got["channels"] == 2 and got["user"] == 0  # a typed turn
    assert got["assistant"] and got["sent_seconds"] > 0.5
    assert got["seconds"] >= got["sent_seconds"]
    assert got["differs"] == [False]
