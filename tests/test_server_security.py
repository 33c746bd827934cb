"""Security of the hub: every endpoint needs Jupyter auth and a same-origin caller, and no
provider key ever reaches a client (REST bodies, WebSocket frames, error messages)."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient
import tornado.websocket
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


def _cookies(response, jar: dict[str, str]) -> dict[str, str]:
    from http.cookies import SimpleCookie

    for header in response.headers.get_list("Set-Cookie"):
        jar.update({k: m.value for k, m in SimpleCookie(header).items()})
    return jar


async def test_a_browser_logged_in_by_cookie_needs_the_xsrf_token_to_change_anything(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url
):
    """The path a browser takes (login form -> cookie; writes carry X-XSRFToken), not a token header."""
    client = tornado.httpclient.AsyncHTTPClient()
    origin = f"http://127.0.0.1:{jp_http_port}"
    base = origin + jp_base_url
    jar: dict[str, str] = {}

    def headers(**extra: str) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()), "Origin": origin, **extra}

    _cookies(await client.fetch(base + "login", headers=headers()), jar)
    assert "_xsrf" in jar
    login = await client.fetch(
        base + "login", method="POST", headers=headers(), follow_redirects=False, raise_error=False,
        body=f"password={jp_serverapp.identity_provider.token}&_xsrf={jar['_xsrf']}",
    )
    assert login.code == 302, login.code
    _cookies(login, jar)
    assert any(name.startswith("username-") for name in jar)  # the login cookie

    listed = await client.fetch(base + "realtime/sessions", headers=headers())
    assert listed.code == 200 and json.loads(listed.body)["sessions"] == []
    body = json.dumps({"provider": "local", "session": {"modalities": ["text"]}})
    refused = await client.fetch(base + "realtime/sessions", method="POST", body=body, headers=headers(), raise_error=False)
    assert refused.code == 403  # no XSRF token: a cross-site form could have sent this
    created = await client.fetch(base + "realtime/sessions", method="POST", body=body, headers=headers(**{"X-XSRFToken": jar["_xsrf"]}))
    sid = json.loads(created.body)["id"]

    ws = await tornado.websocket.websocket_connect(
        tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}realtime/sessions/{sid}/ws", headers=headers())
    )
    ready = None
    while ready is None or ready.get("type") != "x_hub.ready":
        ready = json.loads(await asyncio.wait_for(ws.read_message(), 30))
    ws.close()
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(
            tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}realtime/sessions/{sid}/ws", headers=headers(Origin=FOREIGN))
        )
    assert e.value.code == 403  # the cookie alone does not let another site's page attach
    # exactly one session came of all this: the one sent with the XSRF token
    assert [s["id"] for s in (await get_json(jp_fetch, "realtime", "sessions"))["sessions"]] == [sid]


# --------------------------------------------------------------------------- realtime-widget serve


@pytest.mark.parametrize("how", ["--api-key ''", "REALTIME_WIDGET_SERVE_API_KEY=''", "--api-key '  '"])
def test_serve_refuses_an_empty_key_on_a_network_host(how):
    """An empty key would turn authentication off: the real CLI refuses it like a missing one."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    args = [sys.executable, "-m", "realtime_widget", "serve", "--host", "0.0.0.0", "--port", "0", "--no-speech"]
    if how.startswith("--api-key"):
        args += ["--api-key", how.split("'")[1]]
    else:
        env["REALTIME_WIDGET_SERVE_API_KEY"] = ""
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve {how} kept running: it listened without a key")
    assert done.returncode == 2, done.stderr
    assert "without a non-empty --api-key" in done.stderr


async def test_start_server_treats_an_empty_key_as_none():
    from realtime_widget.engine.server import start_server

    with pytest.raises(ValueError, match="non-empty"):
        await start_server("0.0.0.0", 0, api_key="")
    # on loopback an empty key is no key: the server runs, without authentication
    server, _, state = await start_server("127.0.0.1", 0, api_key="")
    try:
        assert state.api_key is None
    finally:
        server.stop()
