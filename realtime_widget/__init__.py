"""realtime-widget: speech-to-speech realtime AI inside Jupyter."""

from ._version import __version__

__all__ = ["Session", "__version__"]


def __getattr__(name: str):  # lazy: ``import realtime_widget`` stays light
    if name == "Session":
        from .client import Session

        return Session
    raise AttributeError(f"module 'realtime_widget' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict]:
    """The jupyter-server extension (session hub), enabled on install by
    ``jupyter-config/server-config/realtime_widget.json``."""
    from .server.app import RealtimeWidgetApp

    return [{"module": "realtime_widget", "app": RealtimeWidgetApp}]
