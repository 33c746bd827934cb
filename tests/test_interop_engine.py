"""Third-party realtime clients against the local engine (``realtime-widget serve``),
on every route each client can use, in every scenario of ``tests/interop``.

One engine server (with the real speech stack) serves the whole module; it runs on its
own event loop in a thread, so each test's client runs on the test's loop as it would
in a user's program.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from interop import node_rt_client, openai_agents, openai_sdk, python_rtclient
from interop.endpoint import Endpoint

pytestmark = [
    pytest.mark.timeout(180),
    # rtclient 0.5.4 reads model_fields on instances, which pydantic 2.11+ deprecates
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]

KEY = "sk-interop-engine"
DRIVERS = (python_rtclient, node_rt_client, openai_sdk.GA, openai_sdk.BETA, openai_agents)


class EngineThread:
    """``start_server`` on a private event loop in a daemon thread."""

    def __init__(self, speech, api_key: str):
        from realtime_widget.engine.server import start_server

        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def start():
            self.http_server, self.port, self.state = await start_server(
                "127.0.0.1", 0, api_key=api_key, speech=speech
            )
            started.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="interop-engine", daemon=True)
        self.thread.start()
        if not started.wait(60):
            raise RuntimeError("the engine server did not start")

    def stop(self) -> None:
        async def stop():
            self.http_server.stop()
            await self.http_server.close_all_connections()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module")
def engine(speech_stack):
    server = EngineThread(speech_stack, KEY)
    yield Endpoint(root=f"http://127.0.0.1:{server.port}", api_key=KEY, name="engine")
    server.stop()


CASES = [
    pytest.param(driver, route, scenario, id=f"{driver.ID}-{route}-{scenario}")
    for driver in DRIVERS
    for route in driver.ROUTES
    for scenario in driver.SCENARIOS
]


@pytest.mark.parametrize("driver, route, scenario", CASES)
async def test_client_on_engine(engine, driver, route, scenario):
    await driver.SCENARIOS[scenario](engine, route)
