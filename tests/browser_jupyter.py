"""A real Jupyter server (JupyterLab 4 + Notebook 7 + the realtime-widget hub) and a real
headless chromium with a fake microphone, for the widget tests (``tests/test_widget_*.py``)
and ``benchmarks/bench_widget.py``.

* The server runs in a subprocess with its own config, data, runtime and root
  directories (so the kernel's discovery finds exactly this server), a token, and a
  non-root base URL (``/rtw/base/``), as a user would run it.
* Chromium is Debian's (``/usr/bin/chromium``) driven by Python Playwright; the fake
  microphone reads ``mic.wav``, which chromium opens anew at each ``getUserMedia``: a
  test writes the speech it wants there just before it turns the microphone on.
* Nothing here asserts on wall-clock time; timeouts only stop a hung test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("REALTIME_WIDGET_CHROMIUM", "/usr/bin/chromium")
BASE_URL = "/rtw/base/"
WAIT_MS = 90_000  # only stops a hung test

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed ({CHROMIUM}); scripts/test.sh installs it"
    if shutil.which("espeak-ng") is None:
        return "espeak-ng is not installed; scripts/test.sh installs it"
    for module in ("playwright", "jupyterlab", "notebook", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            return f"the python package {module!r} is missing (pip install -e '.[test]')"
    if not (ROOT / "realtime_widget" / "static" / "widget.js").exists():
        return "the widget bundle realtime_widget/static/widget.js is missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_wav(path: Path, samples: np.ndarray, rate: int = 24000) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    os.replace(tmp, path)


def utterance(
    *texts: str, lead_s: float = 0.3, gap_s: float = 0.0, tail_s: float = 1.0
) -> np.ndarray:
    """Speech (espeak-ng, 24 kHz int16) with silence around it."""
    from speech_fixtures import speak

    z = lambda s: np.zeros(int(24000 * s), np.int16)  # noqa: E731
    parts = [z(lead_s)]
    for i, text in enumerate(texts):
        if i:
            parts.append(z(gap_s))
        parts.append(np.asarray(speak(text), np.int16))
    parts.append(z(tail_s))
    return np.concatenate(parts)


# ---------------------------------------------------------------------- the server


class JupyterServer:
    def __init__(self, workdir: Path, *, hub_options: dict[str, Any] | None = None):
        self.workdir = workdir
        self.root = workdir / "root"
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}{BASE_URL}"
        self.hub_options = hub_options or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "jupyter.log"

    def start(self) -> "JupyterServer":
        config = self.workdir / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        hub = {"max_sessions_per_user": 64, **self.hub_options}
        (config / "jupyter_server_config.json").write_text(
            json.dumps(
                {
                    "ServerApp": {
                        "jpserver_extensions": {
                            "realtime_widget": True,
                            "jupyterlab": True,
                            "notebook": True,
                        }
                    },
                    "RealtimeWidgetApp": hub,
                    "LanguageServerManager": {"autodetect": False},
                }
            )
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(self.workdir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for var in ("REALTIME_WIDGET_MODE", "REALTIME_WIDGET_SERVER_URL", "JUPYTER_TOKEN"):
            env.pop(var, None)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.base_url={BASE_URL}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.workdir / 'settings'}",
            "--ServerApp.disable_check_xsrf=False",
        ]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=str(self.root)
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log_path.read_text()[-3000:]}")
            try:
                self.api("GET", "api/status")
                self.api("GET", "realtime/status")
                return self
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not start: {self.log_path.read_text()[-3000:]}")

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        try:
            for s in self.api("GET", "api/sessions"):
                self.api("DELETE", f"api/sessions/{s['id']}")
        except Exception:
            pass

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "log_file", None):
            self.log_file.close()

    def write_notebook(self, name: str, cells: list[str], *, hide_first: bool = True) -> str:
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"c{i}",
                    "metadata": {"jupyter": {"source_hidden": True}}
                    if i == 0 and hide_first
                    else {},
                    "outputs": [],
                    "source": src,
                }
                for i, src in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "name": "python3",
                },
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = f"{name}.ipynb"
        (self.root / path).write_text(json.dumps(nb))
        return path


# ---------------------------------------------------------------------- the browser


class BrowserSession:
    """One chromium (fake microphone reading ``mic_wav``) for a test module."""

    def __init__(self, workdir: Path, *, fake_mic: bool = True):
        from playwright.sync_api import sync_playwright

        self.mic_wav = workdir / "mic.wav"
        write_wav(self.mic_wav, np.zeros(2400, np.int16))
        flags = list(CHROMIUM_FLAGS)
        if fake_mic:
            flags += [
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={self.mic_wav}%noloop",
            ]
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        self.contexts: list[Any] = []

    def new_page(self, *, init_script: str | None = None) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        if init_script:
            context.add_init_script(init_script)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.console_messages_seen = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.console_messages_seen.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.console_messages_seen.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
        return page

    def set_mic(self, samples: np.ndarray) -> float:
        """What the fake microphone says the next time it is opened; returns seconds."""
        write_wav(self.mic_wav, samples)
        return len(samples) / 24000

    def close(self) -> None:
        for c in self.contexts:
            try:
                c.close()
            except Exception:
                pass
        self.browser.close()
        self._pw.stop()


@contextmanager
def jupyter_server(
    name: str, *, hub_options: dict[str, Any] | None = None, workdir: Path | None = None
) -> Iterator[JupyterServer]:
    """A fresh server (its log is kept in test-artifacts/<name>-jupyter.log)."""
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"rtw-{name}-"))
    server = JupyterServer(workdir, hub_options=hub_options).start()
    try:
        yield server
    finally:
        server.shutdown_kernels()
        server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            shutil.copy(server.log_path, ARTIFACTS / f"{name}-jupyter.log")
        except OSError:
            pass
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def jupyter_and_browser(
    name: str, *, fake_mic: bool = True, hub_options: dict[str, Any] | None = None
) -> Iterator[tuple[JupyterServer, BrowserSession]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"rtw-{name}-"))
    try:
        with jupyter_server(name, hub_options=hub_options, workdir=workdir) as server:
            browser = BrowserSession(workdir, fake_mic=fake_mic)
            try:
                yield server, browser
            finally:
                browser.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------- notebook pages


WIDGET_SETUP = """\
import json
from realtime_widget import RealtimeWidget

def report(w, *types):
    s = w.session
    out = {"session_id": s.id, "mode": s.mode, "events": {}}
    for t in types:
        try:
            out["events"][t] = s.wait_for(t, since=0, timeout=30)
        except TimeoutError:
            out["events"][t] = None
    traits = ("connected", "listening", "user_speaking", "response_active", "mic_available",
              "mic_message", "events_received", "last_error", "mode")
    out["traits"] = {k: getattr(w, k) for k in traits}
    out["items"] = [{"id": i.id, "type": i.type, "role": getattr(i, "role", None),
                     "text": i.text if i.type == "message" else None,
                     "truncated": i.truncated, "audio_end_ms": i.audio_end_ms}
                    for i in s.conversation.items]
    print("REPORT" + json.dumps(out))
print("SETUP-OK")
"""


class Notebook:
    """A notebook opened in JupyterLab (``ui="lab"``) or Notebook 7 (``ui="notebook"``)."""

    def __init__(
        self, server: JupyterServer, page: Any, name: str, cells: list[str], *, ui: str = "lab"
    ):
        self.server = server
        self.page = page
        self.ui = ui
        path = server.write_notebook(name, [WIDGET_SETUP, *cells])
        if ui == "lab":
            url = f"{server.url}lab/workspaces/{name}/tree/{path}?reset&token={server.token}"
        else:
            url = f"{server.url}notebooks/{path}?token={server.token}"
        page.goto(url)
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
        self.panel.locator(".jp-Cell").first.wait_for()
        self.wait_kernel_ready()
        self.run(0)
        self.wait_output(0, "SETUP-OK")

    def wait_kernel_ready(self) -> None:
        # the execution indicator says idle too early: the debugger button is enabled
        # once the kernel is really connected
        self.page.locator('.jp-DebuggerBugButton[aria-disabled="false"]').first.wait_for(
            timeout=WAIT_MS
        )

    def cell(self, index: int) -> Any:
        return self.panel.locator(".jp-Cell").nth(index)

    def run(self, index: int) -> None:
        cell = self.cell(index)
        cell.locator(
            ".jp-InputPrompt"
        ).first.click()  # selects the cell (also when its input is hidden)
        self.page.keyboard.press("Control+Enter")

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").inner_text()

    def wait_output(self, index: int, text: str) -> str:
        self.cell(index).locator(".jp-OutputArea-output", has_text=text).first.wait_for(
            timeout=WAIT_MS
        )
        return self.output_text(index)

    def report(self, index: int) -> dict[str, Any]:
        self.run(index)
        out = self.wait_output(index, "REPORT")
        line = next(x for x in out.splitlines() if x.startswith("REPORT"))
        return json.loads(line[len("REPORT") :])

    def widget(self, index: int) -> Any:
        root = self.cell(index).locator(".rtw-root")
        root.wait_for(timeout=WAIT_MS)
        return root


def stats(page: Any) -> dict[str, Any]:
    """The counters of the last rendered widget view (played samples, latencies, ...)."""
    return page.evaluate(
        """() => {
        const reg = globalThis.__realtime_widget;
        const v = reg && reg.views[reg.views.length - 1];
        if (!v) return null;
        const log = v.log.map(e => ({type: e.type, item_id: e.item_id, live: e.live,
                                     audio_end_ms: e.audio_end_ms, transcript: e.transcript}));
        return JSON.parse(JSON.stringify({...v.stats, live: v.live, transport: v.transport,
                                          worker: !!v.worker, micOn: v.audio.micOn, log}));
    }"""
    )


def wait_until(
    page: Any, predicate: Any, what: str, timeout_s: float = WAIT_MS / 1000
) -> dict[str, Any]:
    """Poll the widget's counters until ``predicate(stats)``; returns them."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = stats(page)
        if last is not None and predicate(last):
            return last
        page.wait_for_timeout(100)
    summary = {k: v for k, v in (last or {}).items() if k != "log"}
    types = [e["type"] for e in (last or {}).get("log", [])][-40:]
    raise AssertionError(
        f"timed out waiting for {what}; widget stats: {json.dumps(summary)[:3000]}; last events: "
        f"{types}; console: {getattr(page, 'console_messages_seen', [])[-20:]}"
    )


def played_ms(s: dict[str, Any], item_id: str) -> float:
    it = (s.get("itemsPlayback") or {}).get(item_id)
    return 0.0 if not it else it["played"] * 1000.0 / it["rate"]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def assert_heard(transcript: str, reference: str, *must: str) -> None:
    """The transcript is the spoken sentence: every word of ``must``, and at most a
    third of the words wrong. ASR of synthetic speech after the browser's capture path
    (echo cancellation, Web Audio's input FIFO under CPU load) is not bit-exact from
    run to run: "jumps" is often heard as "jumped", "the piano" now and then as "at the end"."""
    from speech_fixtures import word_errors

    from realtime_widget.replay.wer import normalize_words

    errors, n = word_errors(reference, transcript)
    heard = normalize_words(transcript)
    missing = [w for w in must if w not in heard]
    assert not missing and errors <= max(2, n // 3), (
        f"heard {transcript!r} for {reference!r} ({errors} word errors, missing {missing})"
    )
