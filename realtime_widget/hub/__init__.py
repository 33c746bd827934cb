"""The session hub: realtime sessions that outlive the clients attached to them.

No Jupyter code lives here: the jupyter-server extension (:mod:`realtime_widget.server`)
and the kernel's direct mode (:mod:`realtime_widget.client`) both run it. See
docs/architecture.md for what each module owns.
"""

from .clients import AttachedClient, ClientSink
from .hub import Hub
from .hub_config import HubConfig
from .hub_session import HubSession
from .upstreams import HubError

__all__ = ["AttachedClient", "ClientSink", "Hub", "HubConfig", "HubError", "HubSession"]
