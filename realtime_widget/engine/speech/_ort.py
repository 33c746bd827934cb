"""Shared onnxruntime helpers for the offline speech models.

``onnxruntime`` is imported lazily so that ``import realtime_widget.engine.speech``
works without the ``local`` extra; only loading a model needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "ShrinkingSession",
    "SpeechModelsUnavailable",
    "default_threads",
    "make_session",
    "release_free_memory",
    "require",
]

_INSTALL_HINT = "the offline speech stack is not installed: pip install 'realtime-widget[local]'"


class SpeechModelsUnavailable(ImportError):
    """A package (or the model file it ships) that the offline speech stack needs is missing."""


def require(module: str) -> Any:
    """Import ``module`` or raise :class:`SpeechModelsUnavailable` with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SpeechModelsUnavailable(f"{_INSTALL_HINT} (cannot import {module!r}: {exc})") from exc


def default_threads() -> int:
    """Intra-op threads per onnxruntime session.

    Defaults to 1: the speech sessions are small, mostly sequential graphs (an RNN,
    an autoregressive decoder, a vocoder) that gain little from a thread pool, and on a
    2-core machine one thread per session lets VAD, ASR and TTS of different sessions
    proceed side by side. Override with ``REALTIME_WIDGET_SPEECH_THREADS``.
    """
    raw = os.environ.get("REALTIME_WIDGET_SPEECH_THREADS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    return 1


def make_session(path: str | Path, *, threads: int | None = None) -> Any:
    """Create a CPU ``onnxruntime.InferenceSession`` tuned for this project.

    * ``intra_op_num_threads = threads`` (default :func:`default_threads`), one inter-op
      thread, sequential execution, and no spin-waiting (spinning threads would burn the
      second core that another session needs);
    * ``enable_mem_pattern = False``: with dynamic input lengths the memory-pattern planner
      keeps one arena plan per shape and grows resident memory (Moonshine: ~440 MB with it
      off, much more with it on).

    ``InferenceSession.run`` is thread-safe, so one session is shared by every caller.
    """
    if not Path(path).is_file():
        raise SpeechModelsUnavailable(f"model file not found: {path}")
    ort = require("onnxruntime")
    n = default_threads() if threads is None else max(1, int(threads))
    so = ort.SessionOptions()
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.enable_mem_pattern = False
    so.enable_cpu_mem_arena = arena_enabled()
    so.log_severity_level = 3  # errors only
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def arena_enabled() -> bool:
    """ONNX Runtime's CPU memory arena is on unless ``REALTIME_WIDGET_ORT_ARENA=0`` (for
    measuring: without it every tensor goes to malloc, ~9% slower synthesis)."""
    return os.environ.get("REALTIME_WIDGET_ORT_ARENA", "1") != "0"


class ShrinkingSession:
    """An ``InferenceSession`` whose every ``run`` hands the CPU arena's unused memory back
    at its end (``memory.enable_memory_arena_shrinkage``).

    For the models with big, input-sized activations (Piper, Moonshine's encoder): the
    arena otherwise stays at the largest run ever seen (+330 MB after a few long TTS
    clauses, kept after every session closed). Paired runs measured no cost for a TTS
    clause, while turning the arena off made it ~9% slower (benchmarks/README.md, "Memory")."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._options = None
        if arena_enabled():  # (shrinking a session without an arena is an error)
            self._options = require("onnxruntime").RunOptions()
            self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS after a big one-off load (glibc only; no-op
    elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass
