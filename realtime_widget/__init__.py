"""realtime-widget: speech-to-speech realtime AI inside Jupyter."""

from . import replay as _replay_package
from ._version import __version__

# The functions, not the package of the same name (a light import: the work is lazy).
replay = _replay_package.replay
replay_many = _replay_package.replay_many

__all__ = [
    "RealtimeWidget",
    "Session",
    "__version__",
    "compare",
    "expect",
    "replay",
    "replay_many",
]


def __getattr__(name: str):  # lazy: ``import realtime_widget`` stays light
    if name == "Session":
        from .client import Session

        return Session
    if name == "RealtimeWidget":
        from .widget import RealtimeWidget

        return RealtimeWidget
    if name in ("compare", "expect"):
        import importlib

        # the package, by its module path: the name ``replay`` here is the function
        return getattr(importlib.import_module(".replay", __name__), name)
    raise AttributeError(f"module 'realtime_widget' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext realtime_widget``: the ``%%realtime`` magics (see :mod:`.magics`)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict]:
    """The jupyter-server extension (session hub), enabled on install by
    ``jupyter-config/server-config/realtime_widget.json``."""
    from .server.app import RealtimeWidgetApp

    return [{"module": "realtime_widget", "app": RealtimeWidgetApp}]
