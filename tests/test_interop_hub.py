"""Third-party realtime clients against hub sessions, in every scenario of
``tests/interop`` and on every route each client can take to a hub session
(``server/client_routes.py``): the same scenarios, drivers and checks as the engine's
suite (``test_interop_engine.py``).

Each test gets a fresh hub session on the local engine with the real speech stack. The
client's API key is the Jupyter token, its base URLs point at the session, and after
the scenario the session's log and DataFrames must hold what the client's user saw.

Not run here: the OpenAI routes of ``rtclient`` and ``rt-client``, which hard-code
``wss://api.openai.com`` (only their Azure route can name another server).
"""

from __future__ import annotations

import pytest
from hub_testing import *
from hub_testing import create_session, get_json
from interop import node_rt_client, openai_agents, openai_sdk, python_rtclient
from interop.endpoint import OPENAI_PREVIEW, Endpoint
from interop.expect import SCENARIOS, Seen

from realtime_widget.frames import SessionFrames

pytestmark = pytest.mark.timeout(180)

DRIVERS = (python_rtclient, node_rt_client, openai_sdk.GA, openai_sdk.BETA, openai_agents)
UNREACHABLE = {(python_rtclient.ID, OPENAI_PREVIEW), (node_rt_client.ID, OPENAI_PREVIEW)}


@pytest.fixture
def jp_base_url():
    # rt-client and rtclient replace the endpoint's path with /openai/realtime: the
    # hub's root route needs base_url "/" (Jupyter's default)
    return "/"


@pytest.fixture
def hub_options():
    return {"local_speech": True}


def hub_endpoint(port: int, token: str, sid: str) -> Endpoint:
    root = f"http://127.0.0.1:{port}"
    return Endpoint(
        root=root,
        api_key=token,
        model="gpt-realtime",  # any name: the URL picks the session
        deployment=sid,  # the Azure-style root route: the deployment names the session
        openai_base=f"{root}/realtime/sessions/{sid}/v1",
        azure_base=root,
        azure_ga_base=f"{root}/realtime/sessions/{sid}/openai/v1",
        name="hub",
    )


CASES = [
    pytest.param(driver, route, scenario, id=f"{driver.ID}-{route}-{scenario}")
    for driver in DRIVERS
    for route in driver.ROUTES
    if (driver.ID, route) not in UNREACHABLE
    for scenario in SCENARIOS
    if scenario in driver.SCENARIOS
]


@pytest.mark.parametrize("driver, route, scenario", CASES)
async def test_client_on_a_hub_session(
    jp_fetch, jp_serverapp, jp_http_port, hub_log_dir, with_speech, driver, route, scenario
):
    sid = (await create_session(jp_fetch))["id"]
    seen: Seen = await driver.SCENARIOS[scenario](
        hub_endpoint(jp_http_port, jp_serverapp.identity_provider.token, sid), route
    )
    await check_logged(jp_fetch, hub_log_dir, sid, seen, scenario)


async def check_logged(jp_fetch, hub_log_dir, sid: str, seen: Seen, scenario: str) -> None:
    """What the client's user saw is in the session's log and DataFrames (preview dialect)."""
    summary = await get_json(jp_fetch, "realtime", "sessions", sid)
    responses = summary["state"]["responses"]
    assert responses and responses[-1]["status"] == seen.status, (responses, seen.status)
    await get_json(
        jp_fetch, "realtime", "sessions", sid, "events", limit=1
    )  # reads flush the log to disk
    frames = SessionFrames(path=hub_log_dir / sid)
    events = frames.events()
    assert (events["source"] == "other").any()  # the client's own events, attributed to it
    assert (events["type"] == "response.done").sum() == len(responses)
    turns = frames.transcript()
    assistant = [t for r, t in zip(turns["role"], turns["text"], strict=True) if r == "assistant"]
    if seen.text:
        assert assistant[-1] == seen.text
    if seen.transcript:
        if seen.truncated_ms is None:
            assert assistant[-1].strip() == seen.transcript.strip()
        else:  # truncating drops the transcript of what was not played
            assert seen.transcript.startswith(assistant[-1].strip())
    if seen.tool_calls:
        outputs = events[events["type"] == "conversation.item.create"]
        assert any(p["item"].get("type") == "function_call_output" for p in outputs.payloads())
