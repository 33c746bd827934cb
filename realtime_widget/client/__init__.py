"""The kernel-side client: :class:`Session` attaches to the Jupyter server's session hub,
or runs the same hub core inside the kernel ("direct mode") where no hub is reachable.

* :mod:`.session` - ``Session``, ``Reply``, ``list_sessions``
* :mod:`.discovery` - finding the kernel's Jupyter server
* :mod:`.tools` - Python callables as function tools
"""

from .discovery import ServerInfo, find_server
from .session import Reply, Session, SessionClosed, list_sessions
from .tools import Tool, tool_from_callable

__all__ = [
    "Reply",
    "ServerInfo",
    "Session",
    "SessionClosed",
    "Tool",
    "find_server",
    "list_sessions",
    "tool_from_callable",
]
