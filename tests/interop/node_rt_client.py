"""Driver: npm ``rt-client`` 0.5.1 (Azure-Samples/aoai-realtime-audio-sdk's JavaScript
client), run by Node exactly as installed by ``npm ci`` from ``tests/interop/node``'s
lock file. Preview dialect only; it accepts only the spec's 27 server event types and
closes the socket ("Unexpected message received") on any other.

Each scenario runs ``node driver.mjs <spec>`` (high-level ``RTClient``; the truncate and
``text_low_level`` scenarios use ``LowLevelRTClient``), which prints what the client
handed its user as JSON; the checks are the shared ones of ``expect``. Routes:
``azure-preview`` (``new RTClient(new URL(endpoint), {key}, {deployment})``, key in the
``api-key`` header; rt-client replaces the endpoint's path with ``/openai/realtime``)
and ``openai-preview`` (``new RTClient({key}, {model})``, which always dials
api.openai.com: see ``driver.mjs`` for how that host is routed to the endpoint).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tempfile
from functools import partial
from typing import Any

from . import expect
from .endpoint import AZURE_PREVIEW, OPENAI_PREVIEW, Endpoint
from .expect import Seen
from .thirdparty import node_ready

ID = "node_rt_client"
NAME = "rt-client (npm) 0.5.1"
ROUTES = (AZURE_PREVIEW, OPENAI_PREVIEW)
TIMEOUT_S = 90  # a hung client fails the scenario after this long; not a performance figure


def _inputs(audio_file: str) -> dict[str, Any]:
    return {
        "text_prompt": expect.TEXT_PROMPT,
        "long_prompt": expect.LONG_PROMPT,
        "tool_prompt": expect.TOOL_PROMPT,
        "tool": expect.WEATHER_TOOL,
        "tool_output": json.dumps(expect.TOOL_RESULT),
        "transcription_model": expect.TRANSCRIPTION_MODEL,
        "audio_file": audio_file,
        "chunk_bytes": expect.CHUNK_BYTES,
    }


def _node_flags() -> list[str]:
    """rt-client's Azure mode calls the global ``crypto.randomUUID()``, which Node only
    exposes without a flag from version 19 (Debian 12 ships Node 18)."""
    import subprocess

    major = int(
        subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
        .stdout.strip()
        .lstrip("v")
        .split(".")[0]
    )
    return ["--experimental-global-webcrypto"] if major < 19 else []


async def run(endpoint: Endpoint, route: str, scenario: str) -> Seen:
    """Run one scenario in Node; returns what rt-client's user saw (not yet checked)."""
    node_dir = node_ready()
    with tempfile.TemporaryDirectory(prefix="rt-client-") as tmp:
        audio_file = os.path.join(tmp, "spoken.pcm16")
        with open(audio_file, "wb") as f:
            f.write(expect.spoken_pcm16())
        spec = {
            "route": route,
            "scenario": scenario,
            "azure_endpoint": endpoint.azure_endpoint(),
            "api_key": endpoint.api_key,
            "model": endpoint.model,
            "deployment": endpoint.deployment_name,
            "origin": list(endpoint.origin()),
            "timeout_s": TIMEOUT_S,
            "inputs": _inputs(audio_file),
        }
        proc = await asyncio.create_subprocess_exec(
            "node",
            *_node_flags(),
            "driver.mjs",
            json.dumps(spec),
            cwd=node_dir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S + 30)
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"{NAME} driver failed ({proc.returncode}): {err.decode()[-2000:]}{out.decode()[-500:]}"
        )
    result = json.loads(lines[-1])
    seen = Seen(NAME, route)
    for key in (
        "text",
        "transcript",
        "user_transcript",
        "status",
        "truncated_ms",
        "errors",
        "notes",
    ):
        setattr(seen, key, result[key])
    seen.tool_calls = [tuple(call) for call in result["tool_calls"]]
    seen.audio = base64.b64decode(result["audio_b64"])
    return seen


async def _scenario(name: str, check, endpoint: Endpoint, route: str) -> Seen:
    seen = await run(endpoint, route, name)
    check(seen)
    return seen


SCENARIOS = {
    "text": partial(_scenario, "text", expect.expect_text),
    "text_low_level": partial(_scenario, "text_low_level", expect.expect_text),
    "server_vad_audio": partial(_scenario, "server_vad_audio", expect.expect_spoken_turn),
    "manual_commit_audio": partial(_scenario, "manual_commit_audio", expect.expect_spoken_turn),
    "cancel": partial(_scenario, "cancel", expect.expect_cancelled),
    "truncate": partial(
        _scenario,
        "truncate",
        lambda seen: expect.expect_truncated(seen, expect.truncate_point(seen)),
    ),
    "tool_call": partial(_scenario, "tool_call", expect.expect_tool_call),
}
