"""realtime-widget: speech-to-speech realtime AI inside Jupyter."""

from ._version import __version__

__all__ = ["__version__"]
