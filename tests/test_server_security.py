"""Security of the hub: every endpoint needs Jupyter auth and a same-origin caller, and no
provider key ever reaches a client (REST bodies, WebSocket frames, error messages)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import tornado.httpclient
import tornado.web
import tornado.websocket
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, start_engine, text_turn

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
async def test_every_endpoint_refuses_unauthenticated_and_cross_origin_callers(
    jp_fetch, jp_ws_fetch, case
):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    done = await text_turn(ws, "hello")
    item = done["response"]["output"][0]["id"]
    headers = CASES[case]
    for method, parts, body in ENDPOINTS:
        parts = [p.format(sid=sid, item=item) for p in parts]
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch(
                "realtime",
                *parts,
                method=method,
                headers=dict(headers),
                body=None if body is None else json.dumps(body),
                allow_nonstandard_methods=True,
            )
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
async def keyed_engine(upstream_key):
    """A realtime server that wants the url provider's key (bound to its /v1 routes)."""
    server = await start_engine(api_key="url-" + upstream_key)
    yield server
    await server.stop()


@pytest.fixture
def hub_options(engine_server, upstream_key, keyed_engine):
    return {
        "openai_api_key": upstream_key,
        "openai_url": engine_server.url("/v1/realtime"),
        "azure_endpoint": f"http://127.0.0.1:{engine_server.port}",
        "azure_api_key": upstream_key[::-1],  # a wrong key: the handshake is refused
        "azure_deployment": "my-deployment",
        "url_api_key": "url-" + upstream_key,  # bound to no URL: sent nowhere
        "url_api_keys": {keyed_engine.url("/v1"): "url-" + upstream_key},
    }


async def test_provider_keys_never_reach_a_client(
    jp_fetch, jp_ws_fetch, upstream_key, hub_log_dir, engine_server
):
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
    r = await fetch(
        "realtime",
        "sessions",
        method="POST",
        body=json.dumps(
            {"provider": "openai", "model": "gpt-test", "session": {"modalities": ["text"]}}
        ),
    )
    sid = json.loads(r.body)["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "Tell me the key")
    await fetch("realtime", "sessions", sid)
    await fetch("realtime", "sessions", sid, "events", params={"limit": "1000", "audio": "inline"})
    await fetch("realtime", "sessions", sid, "export")
    await fetch("realtime", "sessions")

    # refused upstream handshakes: the error messages name no key
    for body in (
        {"provider": "azure"},
        {"provider": "url", "url": engine_server.url("/v1/realtime")},
    ):
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await fetch("realtime", "sessions", method="POST", body=json.dumps(body))
        reason = "401" if body["provider"] == "azure" else "the reason is in the server's log"
        assert e.value.code == 502 and reason in e.value.response.body.decode()
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
    """The path a browser takes (login form -> cookie; writes carry X-XSRFToken), not a
    token header."""
    client = tornado.httpclient.AsyncHTTPClient()
    origin = f"http://127.0.0.1:{jp_http_port}"
    base = origin + jp_base_url
    jar: dict[str, str] = {}

    def headers(**extra: str) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()), "Origin": origin, **extra}

    _cookies(await client.fetch(base + "login", headers=headers()), jar)
    assert "_xsrf" in jar
    login = await client.fetch(
        base + "login",
        method="POST",
        headers=headers(),
        follow_redirects=False,
        raise_error=False,
        body=f"password={jp_serverapp.identity_provider.token}&_xsrf={jar['_xsrf']}",
    )
    assert login.code == 302, login.code
    _cookies(login, jar)
    assert any(name.startswith("username-") for name in jar)  # the login cookie

    listed = await client.fetch(base + "realtime/sessions", headers=headers())
    assert listed.code == 200 and json.loads(listed.body)["sessions"] == []
    body = json.dumps({"provider": "local", "session": {"modalities": ["text"]}})
    refused = await client.fetch(
        base + "realtime/sessions", method="POST", body=body, headers=headers(), raise_error=False
    )
    assert refused.code == 403  # no XSRF token: a cross-site form could have sent this
    created = await client.fetch(
        base + "realtime/sessions",
        method="POST",
        body=body,
        headers=headers(**{"X-XSRFToken": jar["_xsrf"]}),
    )
    sid = json.loads(created.body)["id"]

    ws = await tornado.websocket.websocket_connect(
        tornado.httpclient.HTTPRequest(
            f"ws://127.0.0.1:{jp_http_port}{jp_base_url}realtime/sessions/{sid}/ws?x_events=all",
            headers=headers(),
        )
    )
    ready = None
    while ready is None or ready.get("type") != "x_hub.ready":
        ready = json.loads(await asyncio.wait_for(ws.read_message(), 30))
    ws.close()
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(
            tornado.httpclient.HTTPRequest(
                f"ws://127.0.0.1:{jp_http_port}{jp_base_url}realtime/sessions/{sid}/ws",
                headers=headers(Origin=FOREIGN),
            )
        )
    assert e.value.code == 403  # the cookie alone does not let another site's page attach
    # exactly one session came of all this: the one sent with the XSRF token
    assert [s["id"] for s in (await get_json(jp_fetch, "realtime", "sessions"))["sessions"]] == [
        sid
    ]


# the routes for third-party clients (server/client_routes.py), and the hub socket itself
CLIENT_ROUTES = [
    (("realtime", "sessions", "{sid}", "ws"), {}),
    (("realtime", "sessions", "{sid}", "v1", "realtime"), {"model": "x"}),
    (
        ("realtime", "sessions", "{sid}", "openai", "realtime"),
        {"api-version": "2024-10-01-preview", "deployment": "x"},
    ),
    (("realtime", "sessions", "{sid}", "openai", "v1", "realtime"), {"model": "x"}),
    (("openai", "realtime"), {"api-version": "2024-10-01-preview", "deployment": "{sid}"}),
]


async def _ws_status(jp_http_port, jp_base_url, parts, params, headers) -> int:
    """The handshake's HTTP status (101 when the socket opened), with exactly these headers."""
    from urllib.parse import urlencode

    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}{'/'.join(parts)}?{urlencode(params)}"
    try:
        ws = await tornado.websocket.websocket_connect(
            tornado.httpclient.HTTPRequest(url, headers=headers)
        )
    except tornado.httpclient.HTTPClientError as e:
        return e.code
    ws.close()
    return 101


@pytest.mark.parametrize("route", range(len(CLIENT_ROUTES)))
async def test_client_routes_need_the_token_and_a_same_origin_caller(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, route
):
    sid = (await create_session(jp_fetch))["id"]
    token = jp_serverapp.identity_provider.token
    parts, params = CLIENT_ROUTES[route]
    parts = [p.format(sid=sid) for p in parts]
    params = {k: v.format(sid=sid) for k, v in params.items()}
    azure = "openai" in parts  # the Azure-style routes also read api-key

    async def status(**headers: str) -> int:
        return await _ws_status(jp_http_port, jp_base_url, parts, params, headers)

    assert await status() == 403
    assert await status(Authorization="Bearer not-the-token") == 403
    assert await status(Authorization=f"Bearer {token}", Origin=FOREIGN) == 403
    assert await status(**{"api-key": "not-the-token"}) == 403
    assert await status(**{"api-key": token, "Origin": FOREIGN}) == 403
    # the api-key header is read only on the Azure-style routes, and never over an Authorization
    # header
    assert await status(**{"api-key": token}) == (101 if azure else 403)
    assert await status(**{"api-key": token, "Authorization": "Bearer not-the-token"}) == 403
    assert await status(Authorization=f"Bearer {token}") == 101  # the control: the token opens it


# --------------------------------------------------------------------------- realtime-widget serve


@pytest.mark.parametrize(
    "how", ["--api-key ''", "REALTIME_WIDGET_SERVE_API_KEY=''", "--api-key '  '"]
)
def test_serve_refuses_an_empty_key_on_a_network_host(how):
    """An empty key would turn authentication off: the real CLI refuses it like a missing one."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    args = [
        sys.executable,
        "-m",
        "realtime_widget",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--no-speech",
    ]
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


# --------------------------------------------------------------------------- the url provider's key


class _Recorder(tornado.web.RequestHandler):
    """Any other server on the machine: it notes what the hub sends it."""

    def initialize(self, seen):
        self.seen = seen

    def get(self, *args):
        self.seen.append(dict(self.request.headers))
        self.set_status(404)
        self.finish("not a realtime server")


async def _create_error(jp_fetch, url: str) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch(
            "realtime", "sessions", method="POST", body=json.dumps({"provider": "url", "url": url})
        )
    return e.value.code, json.loads(e.value.response.body)["error"]["message"]


async def test_a_url_key_goes_only_to_the_url_it_is_configured_for(
    jp_fetch, jp_ws_fetch, keyed_engine, engine_server, upstream_key, caplog
):
    import socket

    import tornado.httpserver
    import tornado.netutil

    seen: list[dict] = []
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    recorder = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/(.*)", _Recorder, {"seen": seen})])
    )
    recorder.add_sockets(sockets)
    other_port = sockets[0].getsockname()[1]
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    try:
        # its own URL gets the key: the session works
        sid = (
            await create_session(
                jp_fetch, provider="url", url=keyed_engine.url("/v1/realtime?model=m")
            )
        )["id"]
        ws = await HubWS.connect(jp_ws_fetch, sid)
        assert (await text_turn(ws, "hello", modalities=["text"]))["response"][
            "status"
        ] == "completed"
        await ws.close()

        # any other allowed URL a client names gets no key (neither the bound one nor the unbound
        # env key)
        failures = {}
        for what, url in [
            ("another server", f"ws://127.0.0.1:{other_port}/v1/realtime"),
            ("same host, another path", keyed_engine.url("/openai/v1/realtime?model=m")),
            ("escaping the prefix", keyed_engine.url("/v1/../openai/v1/realtime?model=m")),
            ("a keyed server, unbound", engine_server.url("/v1/realtime")),
            ("nothing listening", f"ws://127.0.0.1:{closed_port}/v1/realtime"),
        ]:
            failures[what] = (url, *await _create_error(jp_fetch, url))
        assert seen and all("Authorization" not in headers for headers in seen), seen
        assert not any(("url-" + upstream_key) in str(headers) for headers in seen)

        # and every failure reads the same to the client: no way to tell a closed port
        # from an open one, or what answered there
        generic = {
            (code, re.sub(r"\(ws://[^)]*\)", "(<url>)", message))
            for url, code, message in failures.values()
        }
        assert generic == {
            (502, "could not connect to url (<url>) (the reason is in the server's log)")
        }, failures
        for url, _code, message in failures.values():
            said = re.sub(r"\(ws://[^)]*\)", "(<url>)", message)  # its port may contain "401"
            for tell in ("401", "404", "refused", "Errno", "HTTP", "Connection"):
                assert tell not in said, (url, message)
            assert message.endswith("(the reason is in the server's log)")
        # the server's log has the reasons
        reasons = "\n".join(
            r.getMessage() for r in caplog.records if r.name == "realtime_widget.hub.upstreams"
        )
        assert "HTTP 404" in reasons and "HTTP 401" in reasons and "cannot reach" in reasons
        assert upstream_key not in reasons
    finally:
        recorder.stop()


def test_url_key_prefix_binding():
    from realtime_widget.hub.upstreams import ProviderSettings

    s = ProviderSettings(
        url_api_keys={"ws://127.0.0.1:8765/v1": "k1", "wss://rt.example.com": "k2"},
        url_api_key="env",
        url_api_key_url="ws://localhost:9000/realtime",
    )
    assert s.url_key_for("ws://127.0.0.1:8765/v1/realtime?model=m") == "k1"
    assert s.url_key_for("ws://127.0.0.1:8765/v1") == "k1"
    assert s.url_key_for("ws://127.0.0.1:8765/v10/realtime") is None  # a path boundary
    assert s.url_key_for("ws://127.0.0.1:87650/v1/realtime") is None  # another port
    assert s.url_key_for("wss://127.0.0.1:8765/v1/realtime") is None  # another scheme
    assert s.url_key_for("ws://127.0.0.1:8765/v1/../admin") is None
    assert s.url_key_for("wss://rt.example.com:443/anything") == "k2"
    assert s.url_key_for("wss://rt.example.com.evil.net/x") is None
    assert s.url_key_for("ws://user@rt.example.com/x") is None
    assert s.url_key_for("ws://localhost:9000/realtime/x") == "env"
    assert s.url_key_for("ws://localhost:9001/realtime") is None
    assert (
        ProviderSettings(url_api_key="env").url_key_for("ws://localhost:9000/realtime") is None
    )  # unbound: nowhere
