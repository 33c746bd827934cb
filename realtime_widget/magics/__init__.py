"""IPython magics for realtime sessions: ``%load_ext realtime_widget``.

* ``%%realtime [-s NAME] [--provider P] [--voice V] [--modalities text,audio]
  [--instructions TEXT] [--tools f,g] [--no-audio]``: the cell body is the message;
  ``%realtime MESSAGE`` on one line
* ``%realtime_events [NAME] [--type PATTERN] [--last N]`` -> an events DataFrame
* ``%realtime_sessions`` -> the sessions this kernel can see
* ``%realtime_compare A B [--names a,b] [--prices VAR]`` -> sessions side by side, per turn
* ``%realtime_config [NAME]`` -> configuration, providers and where credentials are read
* ``%realtime_replay SOURCE [--instructions T] [--voice V] ...`` -> a new session replaying
  SOURCE's user side (``realtime_widget.replay``)
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from .commands import RealtimeMagics, session_html

    magics = RealtimeMagics(ipython)
    ipython.register_magics(magics)
    html = ipython.display_formatter.formatters.get("text/html")
    if html is not None:
        html.for_type_by_name("realtime_widget.client.session", "Session", session_html)


def unload_ipython_extension(ipython: Any) -> None:
    html = ipython.display_formatter.formatters.get("text/html")
    if html is not None:
        try:
            html.pop("realtime_widget.client.session.Session")
        except (KeyError, Exception):
            pass
