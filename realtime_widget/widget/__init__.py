"""The notebook widget (anywidget); its front end is built from ``js/`` into ``static/``."""

from .widget import RealtimeWidget

__all__ = ["RealtimeWidget"]
