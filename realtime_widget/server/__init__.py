"""The jupyter-server extension of realtime-widget: session hub, relays and event log.

* :mod:`.hub` - sessions, attached clients, reconnection (no Jupyter dependency)
* :mod:`.providers` - the upstreams: local engine, OpenAI, Azure, any realtime URL
* :mod:`.eventlog` - the append-only per-session log (JSONL + raw audio files)
* :mod:`.app` / :mod:`.handlers` - the extension (traitlets config, REST + WebSocket)

The HTTP API is documented in ``docs/architecture.md`` ("The hub API").
"""

__all__ = ["RealtimeWidgetApp"]


def __getattr__(name: str):  # lazy: importing the package must not import jupyter_server
    if name == "RealtimeWidgetApp":
        from .app import RealtimeWidgetApp

        return RealtimeWidgetApp
    raise AttributeError(name)
