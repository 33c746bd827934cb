"""Where the server looks for provider credentials (for error messages and ``%realtime_config``).

Keys are read by the Jupyter server (hub mode) or, in direct mode, by the kernel's own
process: from the environment or from the server's traitlets configuration. Never from
a notebook cell, never sent to a browser.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CREDENTIALS", "credentials_help", "provider_status"]

# provider -> [(what, environment variable, traitlet)]
CREDENTIALS: dict[str, list[tuple[str, str, str]]] = {
    "local": [],
    "openai": [
        ("API key", "OPENAI_API_KEY", "c.RealtimeWidgetApp.openai_api_key"),
        (
            "endpoint (optional)",
            "OPENAI_REALTIME_URL (direct mode only)",
            "c.RealtimeWidgetApp.openai_url",
        ),
        ("default model (optional)", "-", "c.RealtimeWidgetApp.openai_model"),
    ],
    "azure": [
        ("endpoint", "AZURE_OPENAI_ENDPOINT", "c.RealtimeWidgetApp.azure_endpoint"),
        (
            "API key (or Entra ID with azure-identity)",
            "AZURE_OPENAI_API_KEY",
            "c.RealtimeWidgetApp.azure_api_key",
        ),
        (
            "deployment (or --model)",
            "AZURE_OPENAI_DEPLOYMENT",
            "c.RealtimeWidgetApp.azure_deployment",
        ),
        (
            "preview API version (optional)",
            "REALTIME_WIDGET_AZURE_API_VERSION",
            "c.RealtimeWidgetApp.azure_api_version",
        ),
        ("auth: key, entra or auto (optional)", "-", "c.RealtimeWidgetApp.azure_auth"),
    ],
    "url": [
        ("bearer key (optional)", "REALTIME_WIDGET_URL_API_KEY", "c.RealtimeWidgetApp.url_api_key"),
        (
            "the URL prefix that key is for",
            "REALTIME_WIDGET_URL_API_KEY_URL",
            "c.RealtimeWidgetApp.url_api_key_url",
        ),
        ("keys per URL prefix (optional)", "-", "c.RealtimeWidgetApp.url_api_keys"),
        ("allowed URLs (regexes)", "-", "c.RealtimeWidgetApp.url_allowlist"),
    ],
}


def credentials_help(provider: str, mode: str | None = None) -> str:
    """How to configure ``provider``, in words."""
    rows = CREDENTIALS.get(provider) or []
    if not rows:
        return f"provider {provider!r} needs no credentials."
    lines = [f"The {provider} credentials are read by the Jupyter server, never from the notebook:"]
    for what, env, trait in rows:
        env_part = f"environment variable {env}" if env != "-" else ""
        lines.append(
            f"  - {what}: {env_part + ' or ' if env_part else ''}"
            f"{trait} in jupyter_server_config.py"
        )
    lines.append(
        "Set them where `jupyter lab` starts (its environment or config file) and restart it."
    )
    lines.append(
        "With no Jupyter server extension (direct mode: VS Code, Colab, plain IPython) the kernel"
    )
    lines.append("process reads the same environment variables: set them before the kernel starts.")
    if mode:
        lines.append(f"(this kernel's sessions run in {mode} mode)")
    return "\n".join(lines)


def provider_status(session: Any = None) -> dict[str, dict[str, Any]]:
    """What the server says about each provider (``available``, default model; never a
    key): from the hub's ``/realtime/status`` in hub mode, else direct mode's settings."""
    server = getattr(session, "server", None) if session is not None else None
    if server is None and session is None:
        try:
            from ..client.discovery import find_server

            server = find_server()
        except Exception:
            server = None
    if server is not None:
        try:
            import json

            from ..client.rest import fetch_blocking

            status = json.loads(fetch_blocking(server, "GET", "realtime", "status", timeout=10))
            return dict(status.get("providers") or {})
        except Exception:
            pass
    from ..client.transports import direct_hub_config

    return direct_hub_config().providers.available()
