"""Per-user authorization and the per-user limit, on a real Jupyter server whose identity
provider names two users (as JupyterHub's does when a server is shared): each sees,
reads, exports, attaches to, injects into, resumes and purges only their own sessions."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient
import tornado.websocket
from hub_testing import *
from hub_testing import HubWS, text_turn
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config

TOKENS = {"alice-token": "alice", "bob-token": "bob"}
ALICE = {"Authorization": "token alice-token"}
BOB = {"Authorization": "token bob-token"}


class TwoUsers(IdentityProvider):
    """A token per user (a real jupyter_server IdentityProvider, as JupyterHub plugs in)."""

    @property
    def auth_enabled(self) -> bool:
        return True

    def get_user(self, handler):
        match = self.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        name = TOKENS.get(match.group(2)) if match else None
        if name is None:
            return None
        handler._token_authenticated = True  # an API token, as JupyterHub's are
        return User(username=name)


@pytest.fixture
def hub_options():
    return {"max_sessions_per_user": 8}


@pytest.fixture
def jp_server_config(hub_log_dir, hub_options):
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"realtime_widget": True},
                "identity_provider_class": TwoUsers,
            },
            "RealtimeWidgetApp": {
                "log_dir": str(hub_log_dir),
                "local_speech": False,
                **hub_options,
            },
        }
    )


async def _json(jp_fetch, who, *parts, method="GET", body=None, **kw):
    r = await jp_fetch(
        "realtime",
        *parts,
        method=method,
        headers=dict(who),
        body=None if body is None else json.dumps(body),
        allow_nonstandard_methods=True,
        **kw,
    )
    return json.loads(r.body) if r.body else None


async def _refused(jp_fetch, who, *parts, method="GET", body=None) -> int:
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await _json(jp_fetch, who, *parts, method=method, body=body)
    return e.value.code


async def test_one_user_cannot_touch_another_users_session(jp_fetch, jp_ws_fetch, jp_root_dir, hub):
    alice = await _json(
        jp_fetch, ALICE, "sessions", method="POST", body={"provider": "local", "name": "alice's"}
    )
    assert alice["owner"] == "alice"
    ws = await HubWS.connect(jp_ws_fetch, alice["id"], headers=dict(ALICE))
    done = await text_turn(ws, "my secret is 1234", modalities=["text"])
    item = done["response"]["output"][0]["id"]
    sid = alice["id"]

    # bob sees nothing of it, and every route answers as for a session that does not exist
    assert (await _json(jp_fetch, BOB, "sessions"))["sessions"] == []
    missing = "rts_" + "0" * 20
    for target in (sid, missing):
        for method, parts, body in [
            ("GET", ("sessions", target), None),
            ("GET", ("sessions", target, "events"), None),
            ("GET", ("sessions", target, "export"), None),
            ("POST", ("sessions", target, "export"), {"path": "stolen.jsonl"}),
            ("GET", ("sessions", target, "items", item, "audio"), None),
            ("POST", ("sessions", target, "resume"), {}),
            ("DELETE", ("sessions", target), None),
        ]:
            assert await _refused(jp_fetch, BOB, *parts, method=method, body=body) == 404, (
                target,
                method,
                parts,
            )
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_ws_fetch("realtime", "sessions", sid, "ws", headers=dict(BOB))
    assert e.value.code == 404
    assert not (jp_root_dir / "stolen.jsonl").exists()

    # alice's session went on undisturbed: nothing injected, nobody else attached, still open
    state = await _json(jp_fetch, ALICE, "sessions", sid)
    assert state["status"] == "open" and state["n_clients"] == 1
    assert [i["text"] for i in state["state"]["items"]] == [
        "my secret is 1234",
        "You said: my secret is 1234.",
    ]
    # and she can do all of it herself; bob's own sessions are his
    bob = await _json(jp_fetch, BOB, "sessions", method="POST", body={"provider": "local"})
    assert [s["id"] for s in (await _json(jp_fetch, BOB, "sessions"))["sessions"]] == [bob["id"]]
    assert [s["id"] for s in (await _json(jp_fetch, ALICE, "sessions"))["sessions"]] == [sid]
    assert (await _json(jp_fetch, ALICE, "sessions", sid, "events"))["events"]
    await ws.close()

    # after a close, the stored session (read back from its log) is still only hers
    await _json(jp_fetch, ALICE, "sessions", sid, method="DELETE")
    hub.sessions.pop(sid)  # forget it in memory: the next request loads it from disk
    assert await _refused(jp_fetch, BOB, "sessions", sid, "resume", method="POST", body={}) == 404
    assert await _refused(jp_fetch, BOB, "sessions", sid, method="DELETE", body=None) == 404
    assert (await _json(jp_fetch, ALICE, "sessions", sid, "resume", method="POST", body={}))[
        "status"
    ] == "open"
    await _json(jp_fetch, ALICE, "sessions", sid, method="DELETE", params={"purge": "1"})
    assert (await _json(jp_fetch, ALICE, "sessions"))["sessions"] == []


async def test_the_per_user_limit_holds_under_100_concurrent_creates(jp_fetch, hub):
    async def create(who):
        try:
            r = await jp_fetch(
                "realtime",
                "sessions",
                method="POST",
                headers=dict(who),
                body=json.dumps({"provider": "local"}),
                request_timeout=120,
            )
            return r.code
        except tornado.httpclient.HTTPClientError as exc:
            return exc.code

    codes = await asyncio.gather(
        *(create(ALICE) for _ in range(100)), *(create(BOB) for _ in range(3))
    )
    alice, bob = codes[:100], codes[100:]
    assert sorted(set(alice)) == [201, 429] and alice.count(201) == 8, alice
    assert bob == [201, 201, 201]  # one user's limit is not another's
    live = [s for s in hub.sessions.values() if s.live]
    assert sorted(s.owner for s in live) == ["alice"] * 8 + ["bob"] * 3
    # a closed session frees its place; resuming takes one again, under the same limit
    first = next(s for s in live if s.owner == "alice")
    await jp_fetch("realtime", "sessions", first.id, method="DELETE", headers=dict(ALICE))
    assert await create(ALICE) == 201
    assert (
        await _refused(jp_fetch, ALICE, "sessions", first.id, "resume", method="POST", body={})
        == 429
    )
