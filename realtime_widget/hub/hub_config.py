"""What a hub may do: its limits and policies (the extension fills it from its traitlets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .upstreams import ProviderSettings

__all__ = ["HubConfig", "IDLE_CHECK_S", "SOURCES"]

SOURCES = ("widget", "kernel", "other")  # who may attach a client
IDLE_CHECK_S = 1.0  # how often sessions with an idle_timeout are looked at


@dataclass
class HubConfig:
    """Limits and policies of a hub (the extension fills it from its traitlets)."""

    log_dir: Path
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    max_sessions_per_user: int = 8
    max_clients_per_session: int = 16
    max_message_bytes: int = 24 * 1024 * 1024
    max_session_log_bytes: int | None = 1024 * 1024 * 1024
    max_total_log_bytes: int | None = 8 * 1024 * 1024 * 1024
    retention_days: float | None = 30.0
    reconnect_initial_delay: float = 0.5
    reconnect_max_delay: float = 20.0
    reconnect_max_attempts: int = 10
    restore_timeout: float = 30.0
    restore_audio: bool = False
    log_flush_interval: float = 0.2  # s; 0: flush at the end of every loop iteration
    client_buffer_bytes: int = 64 * 1024 * 1024
    reconnect_buffer_bytes: int = 16 * 1024 * 1024
    brain_factory: Any = None  # () -> Brain for the local engine (None: the rule brain)
    # Hold the assistant's audio in memory too (direct mode: the kernel's DataFrames read
    # it there); the server's hub only counts it, its log has it.
    keep_output_audio: bool = False
    # Memory caps of each session's conversation (None: none): audio held (the oldest
    # items' audio is released past it; the log keeps everything) and the input buffer mirror.
    max_kept_audio_ms: float | None = 30 * 60_000
    max_input_buffer_ms: float | None = 15 * 60_000
    # Closed sessions kept loaded (the newest); older ones are dropped from memory and
    # reloaded from their log when asked for, as sessions from before a restart are.
    max_closed_sessions_loaded: int = 16
