"""Finding the Jupyter server a kernel belongs to.

In order:

1. ``REALTIME_WIDGET_SERVER_URL`` (e.g. ``http://127.0.0.1:8888/user/ann/``) with
   ``REALTIME_WIDGET_SERVER_TOKEN`` (or ``JUPYTER_TOKEN`` / ``JUPYTERHUB_API_TOKEN``);
2. the servers listed in the Jupyter runtime directory (``jpserver-<pid>.json``, same
   host only): the one whose process is an ancestor of this one (a kernel is started by
   its server), else the only one running.

``REALTIME_WIDGET_MODE=direct`` skips the search (the session then runs in the kernel).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse, urlunparse

__all__ = ["ServerInfo", "ancestor_pids", "find_server"]


@dataclass(frozen=True)
class ServerInfo:
    url: str  # base URL of the server, ending in "/" (includes its base_url)
    token: str
    how: str  # how it was found: "env" or the info file's pid

    def api(self, *parts: str) -> str:
        return self.url + "/".join(p.strip("/") for p in parts)

    def ws(self, path: str) -> str:
        parts = urlparse(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunparse(parts._replace(scheme=scheme)) + path.lstrip("/")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}


def normalise_url(url: str) -> str:
    parts = urlparse(url)
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    out = urlunparse(parts._replace(query="", fragment=""))
    return out if out.endswith("/") else out + "/"


def server_from_argument(server: Any, token: str | None) -> ServerInfo | None:
    """The server a caller named: a :class:`ServerInfo`, or a URL (with ``token``)."""
    if isinstance(server, str):
        return ServerInfo(normalise_url(server), token or "", "argument")
    return server if isinstance(server, ServerInfo) else None


def ancestor_pids(pid: int | None = None, *, limit: int = 64) -> list[int]:
    """This process's ancestors, parent first (Linux /proc; psutil if installed;
    else just the parent)."""
    pid = os.getpid() if pid is None else pid
    out: list[int] = []
    current = pid
    for _ in range(limit):
        parent = _parent_of(current)
        if parent is None or parent <= 0 or parent in out:
            break
        out.append(parent)
        current = parent
    if not out and pid == os.getpid():
        out.append(os.getppid())
    return out


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # type: ignore[import-not-found]

        return psutil.Process(pid).ppid()
    except Exception:
        return None


def _token_from_env(env: Mapping[str, str]) -> str:
    for name in ("REALTIME_WIDGET_SERVER_TOKEN", "JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN"):
        if env.get(name):
            return env[name]
    return ""


def choose_server(
    servers: Iterable[Mapping[str, Any]], ancestors: list[int], env: Mapping[str, str]
) -> ServerInfo | None:
    """The server of this kernel among ``servers`` (info-file dicts), or None."""
    usable = [s for s in servers if s.get("url") and not s.get("sock")]
    chosen = next((s for pid in ancestors for s in usable if s.get("pid") == pid), None)
    if chosen is None and len(usable) == 1:
        chosen = usable[0]
    if chosen is None:
        return None
    token = chosen.get("token") or _token_from_env(env)
    return ServerInfo(normalise_url(str(chosen["url"])), str(token), f"pid {chosen.get('pid')}")


def find_server(env: Mapping[str, str] | None = None) -> ServerInfo | None:
    env = os.environ if env is None else env
    if env.get("REALTIME_WIDGET_MODE", "").lower() == "direct":
        return None
    url = env.get("REALTIME_WIDGET_SERVER_URL")
    if url:
        return ServerInfo(normalise_url(url), _token_from_env(env), "env")
    try:
        servers = running_servers(env.get("JUPYTER_RUNTIME_DIR") or None)
    except OSError:
        return None
    return choose_server(servers, ancestor_pids(), env)


def running_servers(runtime_dir: str | None = None) -> list[dict[str, Any]]:
    """The ``jpserver-<pid>.json`` info files of live servers. What
    ``jupyter_server.serverapp.list_running_servers`` reads, without importing the
    server application (2-3 s in a kernel: the first Connect of a widget waited for it)."""
    import json
    import re

    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    if not os.path.isdir(runtime_dir):
        return []
    out = []
    for name in sorted(os.listdir(runtime_dir)):
        if not re.fullmatch(r"jpserver-(.+)\.json", name):
            continue
        try:
            with open(os.path.join(runtime_dir, name), encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and _alive(info.get("pid")):
            out.append(info)
    return out


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if os.name != "posix":
        return True  # (no cheap check: the hub probe finds out)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
