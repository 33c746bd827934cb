"""A real IPython kernel for the magic tests (jupyter_client), and a cell runner that
keeps every output message (streams, displays, results, errors)."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

TESTS = Path(__file__).resolve().parent


@dataclass
class CellRun:
    status: str
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    stream_messages: int = 0

    @property
    def html(self) -> str:
        parts = [d.get("text/html", "") for d in self.displays]
        if self.result:
            parts.append(self.result.get("text/html", ""))
        return "\n".join(parts)

    @property
    def text(self) -> str:
        return (self.result or {}).get("text/plain", "")

    def last_json(self) -> Any:
        return json.loads(self.stdout.strip().splitlines()[-1])

    def ok(self) -> CellRun:
        assert self.status == "ok", (
            f"cell failed: {self.error}\nstdout: {self.stdout}\nstderr: {self.stderr}"
        )
        return self


def kernel_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Direct mode, logs in ``tmp``, no credentials, no Jupyter server to find."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("OPENAI_", "AZURE_OPENAI_", "REALTIME_WIDGET_")):
            env.pop(key)
    env.update(
        REALTIME_WIDGET_MODE="direct",
        REALTIME_WIDGET_LOG_DIR=str(tmp / "logs"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        PYTHONPATH=os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH", "")) if p),
        MPLBACKEND="Agg",
    )
    env.update(extra)
    return env


def _output_hook(run: CellRun) -> Callable[[dict[str, Any]], None]:
    """Collects a cell's iopub output into ``run``."""

    def hook(msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            run.stream_messages += 1
            if content["name"] == "stdout":
                run.stdout += content["text"]
            else:
                run.stderr += content["text"]
        elif kind == "display_data":
            run.displays.append(content["data"])
        elif kind == "execute_result":
            run.result = content["data"]
        elif kind == "error":
            run.error = {
                "ename": content["ename"],
                "evalue": content["evalue"],
                "traceback": "\n".join(content["traceback"]),
            }

    return hook


def _finish(run: CellRun, reply: dict[str, Any]) -> CellRun:
    run.status = reply["content"]["status"]
    if run.status == "error" and run.error is None:
        c = reply["content"]
        run.error = {
            "ename": c.get("ename"),
            "evalue": c.get("evalue"),
            "traceback": "\n".join(c.get("traceback", [])),
        }
    return run


def run_cell(kc: Any, code: str, timeout: float = 240) -> CellRun:
    """Execute ``code`` in the kernel of the blocking client ``kc``."""
    run = CellRun(status="?")
    reply = kc.execute_interactive(
        textwrap.dedent(code).strip("\n"), output_hook=_output_hook(run), timeout=timeout
    )
    return _finish(run, reply)


async def arun_cell(kc: Any, code: str, timeout: float = 240) -> CellRun:
    """:func:`run_cell` for an async kernel client."""
    run = CellRun(status="?")
    reply = await kc.execute_interactive(
        textwrap.dedent(code).strip("\n"), output_hook=_output_hook(run), timeout=timeout
    )
    return _finish(run, reply)
