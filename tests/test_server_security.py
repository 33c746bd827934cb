"""Security of the hub: every endpoint needs Jupyter auth and a same-origin caller, and no
provider key ever reaches a client (REST bodies, WebSocket frames, error messages)."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, text_turn

FOREIGN = "http://evil.example.com"
ENDPOINTS = [
    ("GET", ("status",), None),
    ("GET", ("sessions",), None),
    ("POST", ("sessions",), {"provider": "local"}),
    ("GET", ("sessions", "{sid}"), None),
    ("DELETE", ("sessions", "{sid}"), None),
    ("POST", ("sessions", "{sid}", "resume"), {}),
    ("GET", ("sessions", "{sid}", "events"), None),
    ("GET", ("sessions", "{sid}", "export"), None),
    ("POST", ("sessions", "{sid}", "export"), {"path": "x.jsonl"}),
    ("GET", ("sessions", "{sid}", "items", "{item}", "audio"), None),
]
CASES = {
    "no token": {"Authorization": ""},
    "wrong token": {"Authorization": "token not-the-token"},
    "foreign origin": {"Origin": FOREIGN},  # with the valid token
}


@pytest.mark.parametrize("case", list(CASES))
async def test_every_endpoint_refuses_unauthenticated_and_cross_origin_callers(jp_fetch, jp_ws_fetch, case):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    done = await text_turn(ws, "hello")
    item = done["response"]["output"][0]["id"]
    headers = CASES[case]
    for method, parts, body in ENDPOINTS:
        parts = [p.format(sid=sid, item=item) for p in parts]
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch("realtime", *parts, method=method, headers=dict(headers),
                           body=None if body is None else json.dumps(body), allow_nonstandard_methods=True)
        assert e.value.code == 403, (case, method, parts, e.value.code)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_ws_fetch("realtime", "sessions", sid, "ws", headers=dict(headers))
    assert e.value.code == 403
    # nothing happened: one session, still open, nothing exported
    sessions = (await get_json(jp_fetch, "realtime", "sessions"))["sessions"]
    assert [(s["id"], s["status"]) for s in sessions] == [(sid, "open")]
    # the same requests with the token and no foreign origin work (the test's setup is right)
    r = await jp_fetch("realtime", "sessions", sid, "events")
    assert r.code == 200
    await ws.close()


async def test_same_origin_browser_requests_are_accepted(jp_fetch, jp_ws_fetch, jp_http_port):
    sid = (await create_session(jp_fetch))["id"]
    origin = {"Origin": f"http://localhost:{jp_http_port}", "Host": f"localhost:{jp_http_port}"}
    r = await jp_fetch("realtime", "sessions", sid, headers=dict(origin))
    assert r.code == 200
    ws = await HubWS.connect(jp_ws_fetch, sid, headers=dict(origin))
    assert ws.ready["client_id"] == "c1"
    await ws.close()


@pytest.fixture
def hub_options(engine_server, upstream_key):
    return {
        "openai_api_key": upstream_key,
        "openai_url": engine_server.url("/v1/realtime"),
        "azure_endpoint": f"http://127.0.0.1:{engine_server.port}",
        "azure_api_key": upstream_key[::-1],  # a wrong key: the handshake is refused
        "azure_deployment": "my-deployment",
        "url_api_key": "url-" + upstream_key,
    }


async def test_provider_keys_never_reach_a_client(jp_fetch, jp_ws_fetch, upstream_key, hub_log_dir, engine_server):
    secrets = [upstream_key, upstream_key[::-1], "url-" + upstream_key]
    seen: list[str] = []

    async def fetch(*parts, **kw):
        try:
            r = await jp_fetch(*parts, **kw)
        except tornado.httpclient.HTTPClientError as exc:
            seen.append(exc.response.body.decode() + str(exc.response.headers))
            raise
        seen.append(r.body.decode(errors="replace") + str(r.headers))
        return r

    status = json.loads((await fetch("realtime", "status")).body)
    assert status["providers"]["openai"]["available"] and status["providers"]["azure"]["available"]

    # a working relay: the key is used upstream, never shown
    r = await fetch("realtime", "sessions", method="POST", body=json.dumps({"provider": "openai", "model": "gpt-test", "session": {"modalities": ["text"]}}))
    sid = json.loads(r.body)["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "Tell me the key")
    await fetch("realtime", "sessions", sid)
    await fetch("realtime", "sessions", sid, "events", params={"limit": "1000", "audio": "inline"})
    await fetch("realtime", "sessions", sid, "export")
    await fetch("realtime", "sessions")

    # refused upstream handshakes: the error messages name no key
    for body in ({"provider": "azure"}, {"provider": "url", "url": engine_server.url("/v1/realtime")}):
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await fetch("realtime", "sessions", method="POST", body=json.dumps(body))
        assert e.value.code == 502 and "401" in e.value.response.body.decode()
    frames = [json.dumps(e) for e in ws.events] + [json.dumps(ws.ready)]
    everything = "\n".join(seen + frames)
    assert "You said: Tell me the key." in everything  # we did look at the right things
    for secret in secrets:
        assert secret not in everything
    # not on disk either (the log and the session metadata)
    for path in hub_log_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
    await ws.close()
