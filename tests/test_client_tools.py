"""Tools from Python callables (schemas, docstrings, outputs) and finding the kernel's server."""

from __future__ import annotations

import asyncio
import enum
import json
import os
from typing import Literal

import pytest

from realtime_widget.client.discovery import ServerInfo, ancestor_pids, choose_server, find_server
from realtime_widget.client.tools import parse_docstring, tool_from_callable


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def forecast(
    city: str, days: int = 1, unit: Unit = Unit.C, detail: Literal["short", "long"] | None = None
) -> dict:
    """Forecast for a city.

    More text that is not the summary.

    Args:
        city: The city, e.g. Paris.
        days: How many days,
            counted from today.
        unit: Temperature unit.

    Returns:
        a dict
    """
    return {"city": city, "days": days, "unit": unit.value, "detail": detail}


def test_schema_from_signature_hints_and_google_docstring():
    tool = tool_from_callable(forecast)
    d = tool.definition()
    assert (
        d["type"] == "function"
        and d["name"] == "forecast"
        and d["description"] == "Forecast for a city."
    )
    params = d["parameters"]
    assert (
        params["type"] == "object"
        and params["required"] == ["city"]
        and params["additionalProperties"] is False
    )
    props = params["properties"]
    assert props["city"] == {"type": "string", "description": "The city, e.g. Paris."}
    assert props["days"] == {
        "type": "integer",
        "default": 1,
        "description": "How many days, counted from today.",
    }
    assert "title" not in json.dumps(params)
    assert json.loads(json.dumps(params))  # plain JSON
    assert asyncio.run(
        tool.call('{"city": "Oslo", "days": "2", "unit": "fahrenheit"}')
    ) == json.dumps({"city": "Oslo", "days": 2, "unit": "fahrenheit", "detail": None})


@pytest.mark.parametrize(
    "doc, expected",
    [
        (
            "Sum.\n\n:param a: first\n:param int b: second\n    continued\n:returns: total",
            ("Sum.", {"a": "first", "b": "second continued"}),
        ),
        (
            "Sum.\n\nParameters\n----------\na : int\n    first\nb : int\n    "
            "second\n\nReturns\n-------\nint",
            ("Sum.", {"a": "first", "b": "second"}),
        ),
        ("Only a summary\non two lines.", ("Only a summary on two lines.", {})),
        (None, ("", {})),
    ],
)
def test_docstring_styles(doc, expected):
    assert parse_docstring(doc) == expected


def test_errors_become_outputs_the_model_can_read():
    def divide(a: float, b: float) -> float:
        """Divide."""
        return a / b

    tool = tool_from_callable(divide)

    def run(args):
        return json.loads(asyncio.run(tool.call(args)))

    assert run('{"a": 1, "b": 4}') == 0.25
    assert run('{"a": 1, "b": 0}') == {"error": "ZeroDivisionError: float division by zero"}
    assert run('{"a": "x", "b": 1}')["error"].startswith("invalid arguments: a:")
    assert run('{"a": 1}')["error"] == "invalid arguments: b: Field required"
    assert run('{"a": 1, "b": 2, "c": 3}')["error"].startswith("invalid arguments: c:")
    assert run("[1, 2]")["error"].startswith("TypeError")
    assert run("{broken")["error"].startswith("JSONDecodeError")


def test_async_tools_kwargs_and_return_values():
    async def lookup(name: str, **extra) -> list:
        """Look up."""
        await asyncio.sleep(0)
        return [name, extra]

    tool = tool_from_callable(lookup, name="find", description="Find things.")
    assert (
        tool.definition()["name"] == "find" and tool.definition()["description"] == "Find things."
    )
    assert tool.definition()["parameters"].get("additionalProperties") is not False
    assert json.loads(asyncio.run(tool.call({"name": "x", "colour": "red"}))) == [
        "x",
        {"colour": "red"},
    ]
    assert asyncio.run(tool_from_callable(lambda: "plain text", name="t").call("")) == "plain text"


def test_bad_tools_are_refused_at_registration():
    with pytest.raises(ValueError):
        tool_from_callable(lambda: 1, name="has space")
    with pytest.raises(TypeError):
        tool_from_callable(5)

    def positional_only(a, /):
        return a

    with pytest.raises(TypeError):
        tool_from_callable(positional_only)


def test_the_server_that_started_this_process_is_chosen():
    servers = [
        {"url": "http://localhost:8888/", "token": "t1", "pid": 111},
        {"url": "http://0.0.0.0:9999/user/ann/", "token": "", "pid": 222},
        {"url": "http://localhost:7777/", "token": "t3", "pid": 333, "sock": "/tmp/x.sock"},
    ]
    chosen = choose_server(servers, [5, 222, 1], {"JUPYTERHUB_API_TOKEN": "hub-token"})
    assert chosen == ServerInfo("http://127.0.0.1:9999/user/ann/", "hub-token", "pid 222")
    assert (
        chosen.ws("realtime/sessions/x/ws") == "ws://127.0.0.1:9999/user/ann/realtime/sessions/x/ws"
    )
    assert choose_server(servers, [5], {}) is None  # several and none is an ancestor: no guess
    assert choose_server(servers[:1], [5], {}).token == "t1"  # the only one running
    assert choose_server(servers[2:], [333], {}) is None  # unix sockets are not supported


def test_running_servers_reads_what_jupyter_server_lists(tmp_path):
    """The info files of live servers, as jupyter_server's own list (which a kernel no
    longer imports to find its server)."""
    import json
    import subprocess
    import sys

    from jupyter_server.serverapp import list_running_servers

    from realtime_widget.client.discovery import running_servers

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout
    files = {
        "jpserver-1.json": {"url": "http://localhost:8888/", "token": "a", "pid": os.getpid()},
        "jpserver-2.json": {
            "url": "http://localhost:8889/",
            "token": "b",
            "pid": int(gone),
        },  # a server that died
        "jpserver-3-open.html": {"url": "not an info file"},
    }
    for name, info in files.items():
        (tmp_path / name).write_text(json.dumps(info))
    (tmp_path / "jpserver-4.json").write_text("{not json")
    ours = running_servers(str(tmp_path))
    assert ours == [files["jpserver-1.json"]]
    (tmp_path / "jpserver-4.json").unlink()
    assert ours == list(list_running_servers(runtime_dir=str(tmp_path)))
    assert running_servers(str(tmp_path / "missing")) == []


def test_environment_overrides(monkeypatch):
    env = {"REALTIME_WIDGET_SERVER_URL": "http://127.0.0.1:8000/base", "JUPYTER_TOKEN": "tok"}
    assert find_server(env) == ServerInfo("http://127.0.0.1:8000/base/", "tok", "env")
    assert find_server({**env, "REALTIME_WIDGET_MODE": "direct"}) is None
    assert os.getppid() in ancestor_pids()
