"""Settings read from the environment, in one place: where session logs live, and the
variables that configure the providers. The server extension (as its traitlets'
defaults), direct mode and the DataFrames all read them here."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROVIDER_ENV", "default_log_dir", "env", "log_dir", "log_dirs", "provider_env"]

# ProviderSettings field -> the environment variable that sets it.
PROVIDER_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "azure_endpoint": "AZURE_OPENAI_ENDPOINT",
    "azure_api_key": "AZURE_OPENAI_API_KEY",
    "azure_deployment": "AZURE_OPENAI_DEPLOYMENT",
    "azure_api_version": "REALTIME_WIDGET_AZURE_API_VERSION",
    "url_api_key": "REALTIME_WIDGET_URL_API_KEY",
    "url_api_key_url": "REALTIME_WIDGET_URL_API_KEY_URL",
}
LOG_DIR_ENV = "REALTIME_WIDGET_LOG_DIR"


def env(name: str) -> str | None:
    """An environment variable; unset and empty are both None."""
    return os.environ.get(name) or None


def provider_env() -> dict[str, str | None]:
    """The provider settings the environment gives, as it is now (a notebook may set a
    key after its first session)."""
    return {field: env(name) for field, name in PROVIDER_ENV.items()}


def default_log_dir() -> Path:
    """The default directory of the session logs: the Jupyter data directory's
    ``realtime_widget/sessions`` (the server extension's and direct mode's alike)."""
    try:
        from jupyter_core.paths import jupyter_data_dir
    except ImportError:  # pragma: no cover - jupyter_core comes with every Jupyter
        return Path.home() / ".local" / "share" / "realtime_widget" / "sessions"
    return Path(jupyter_data_dir()) / "realtime_widget" / "sessions"


def log_dir() -> Path:
    """Where this process writes session logs: ``REALTIME_WIDGET_LOG_DIR``, else the default."""
    configured = env(LOG_DIR_ENV)
    return Path(configured).expanduser() if configured else default_log_dir()


def log_dirs() -> list[Path]:
    """Where stored session logs are looked for, in order: ``REALTIME_WIDGET_LOG_DIR``,
    then the default directory."""
    dirs = [log_dir(), default_log_dir()]
    return dirs[:1] if dirs[0] == dirs[1] else dirs
