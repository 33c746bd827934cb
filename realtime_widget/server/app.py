"""The jupyter-server extension: configuration (traitlets) and wiring of the hub.

Enabled on install by ``jupyter-config/server-config/realtime_widget.json``. Configure
it as ``c.RealtimeWidgetApp.<trait>`` in ``jupyter_server_config.py`` or on the command
line (``--RealtimeWidgetApp.openai_api_key=...``). Keys default to the server's
environment (``OPENAI_API_KEY``, ``AZURE_OPENAI_API_KEY``, ...); they are used only by
the server and never sent to a browser.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from .._version import __version__
from ..hub import Hub, HubConfig
from ..hub.upstreams import DEFAULT_URL_ALLOWLIST, ProviderSettings
from ..settings import PROVIDER_ENV, default_log_dir, env


class RealtimeWidgetApp(ExtensionApp):
    name = "realtime_widget"
    description = "realtime-widget: realtime speech sessions hosted by the Jupyter server"
    load_other_extensions = True
    version = __version__

    # -- storage ---------------------------------------------------------------------
    log_dir = Unicode(
        help="Directory of the session logs (default: <jupyter data dir>/realtime_widget/sessions)."
    ).tag(config=True)
    retention_days = Float(
        30.0, help="Delete closed session logs not written for this many days (0: keep forever)."
    ).tag(config=True)
    max_total_log_bytes = Int(
        8 * 1024**3,
        help="Delete the oldest closed session logs above this total size (0: no limit).",
    ).tag(config=True)
    max_session_log_bytes = Int(
        1024**3,
        help="Stop storing a session's audio above this size (its events are still logged; 0: no "
        "limit).",
    ).tag(config=True)
    log_flush_interval = Float(
        0.2,
        help="Seconds between writes of the logs to the OS (0: after every event-loop iteration). "
        "A crash of the server process loses at most this much; a clean shutdown loses nothing, "
        "and "
        "reads (REST, catch-up) flush first. Each write is 3 system calls per session: at 50 "
        "sessions, "
        "0.05 s costs the hub about 3% more CPU than 0.2 s (benchmarks/README.md).",
    ).tag(config=True)
    export_dir = Unicode(
        help="Directory that POST .../export writes into (default: the server's root_dir). Exports "
        "cannot leave it."
    ).tag(config=True)

    # -- limits ----------------------------------------------------------------------
    max_sessions_per_user = Int(8, help="Live sessions one user may have at once.").tag(config=True)
    max_clients_per_session = Int(16, help="Clients attached to one session at once.").tag(
        config=True
    )
    max_message_bytes = Int(
        24 * 1024**2,
        help="Largest WebSocket frame a client may send (a 15 MiB audio append is ~20 MiB of "
        "base64).",
    ).tag(config=True)
    client_buffer_bytes = Int(
        64 * 1024**2,
        help="Unsent bytes a slow client may hold before it is disconnected (it can reattach and "
        "catch up).",
    ).tag(config=True)
    max_kept_audio_ms = Int(
        30 * 60_000,
        help="Audio (ms) each session's conversation holds in memory; past it the oldest items' "
        "audio is released "
        "(the log keeps it: export it to get it back; 0: no cap).",
    ).tag(config=True)
    max_input_buffer_ms = Int(
        15 * 60_000,
        help="Uncommitted input audio (ms) a session may hold; the local engine refuses "
        "appends beyond it (error input_audio_buffer_full; 0: no cap).",
    ).tag(config=True)
    local_max_item_bytes = Int(
        16 * 1024**2,
        help="Local engine: largest item (text + audio bytes; error item_too_large; 0: no cap).",
    ).tag(config=True)
    local_max_conversation_items = Int(
        4096, help="Local engine: items per conversation (error conversation_too_large; 0: no cap)."
    ).tag(config=True)
    local_max_conversation_bytes = Int(
        64 * 1024**2,
        help="Local engine: text bytes per conversation (error conversation_too_large; 0: no cap).",
    ).tag(config=True)
    local_max_reply_tokens = Int(
        4096, help="Local engine: output tokens per response (error reply_too_long; 0: no cap)."
    ).tag(config=True)
    strict_origin = Bool(
        True,
        help="Refuse a foreign Origin even on token-authenticated requests (requests without an "
        "Origin, e.g. from a kernel, are not affected).",
    ).tag(config=True)

    # -- reconnection ------------------------------------------------------------------
    reconnect_initial_delay = Float(
        0.5, help="First delay before reconnecting a dropped upstream (s); doubles each attempt."
    ).tag(config=True)
    reconnect_max_delay = Float(20.0, help="Longest delay between reconnect attempts (s).").tag(
        config=True
    )
    reconnect_max_attempts = Int(
        10, help="Reconnect attempts before a session is marked failed."
    ).tag(config=True)
    restore_audio = Bool(
        False,
        help="Also replay the user's input audio when restoring a conversation (transcripts are "
        "always replayed).",
    ).tag(config=True)
    reconnect_buffer_bytes = Int(
        16 * 1024**2, help="Client events kept while the upstream reconnects."
    ).tag(config=True)

    # -- providers ----------------------------------------------------------------------
    local_speech = Bool(
        True, help="Load the offline speech models for the local provider (else it is text-only)."
    ).tag(config=True)
    preload_local_engine = Bool(
        help="Start loading the local engine's offline speech models (a few seconds) in a worker "
        "thread when the "
        "server starts, so that the first local session does not wait for them. Default: on when "
        "the [local] extra "
        "is installed and local_speech is on.",
    ).tag(config=True)
    local_model = Unicode("local-realtime", help="Model name the local engine reports.").tag(
        config=True
    )
    openai_api_key = Unicode(
        None, allow_none=True, help="OpenAI API key (default: $OPENAI_API_KEY)."
    ).tag(config=True)
    openai_url = Unicode(
        "wss://api.openai.com/v1/realtime", help="OpenAI realtime endpoint (GA dialect)."
    ).tag(config=True)
    openai_model = Unicode("gpt-realtime", help="Default OpenAI realtime model.").tag(config=True)
    azure_endpoint = Unicode(
        None,
        allow_none=True,
        help="Azure OpenAI resource endpoint, e.g. https://NAME.openai.azure.com (default: "
        "$AZURE_OPENAI_ENDPOINT).",
    ).tag(config=True)
    azure_api_key = Unicode(
        None,
        allow_none=True,
        help="Azure OpenAI key (default: $AZURE_OPENAI_API_KEY); without one, an Entra ID token "
        "(azure-identity).",
    ).tag(config=True)
    azure_deployment = Unicode(
        None,
        allow_none=True,
        help="Default Azure realtime deployment (default: $AZURE_OPENAI_DEPLOYMENT).",
    ).tag(config=True)
    azure_api_version = Unicode(
        None,
        allow_none=True,
        help="Set to use the preview route /openai/realtime?api-version=... (default: the GA "
        "route; $REALTIME_WIDGET_AZURE_API_VERSION).",
    ).tag(config=True)
    azure_auth = Unicode("auto", help="'key', 'entra' or 'auto' (the key when one is set).").tag(
        config=True
    )
    url_allowlist = List(
        Unicode(),
        default_value=list(DEFAULT_URL_ALLOWLIST),
        help="Regular expressions a provider='url' URL must match (default: loopback only).",
    ).tag(config=True)
    url_api_key = Unicode(
        None,
        allow_none=True,
        help="Key sent as a bearer token to provider='url' upstreams under url_api_key_url, and to "
        "no other URL "
        "(default: $REALTIME_WIDGET_URL_API_KEY).",
    ).tag(config=True)
    url_api_key_url = Unicode(
        None,
        allow_none=True,
        help="The URL prefix (scheme://host:port[/path]) url_api_key is for (default: "
        "$REALTIME_WIDGET_URL_API_KEY_URL). "
        "Unset, url_api_key is sent nowhere.",
    ).tag(config=True)
    url_api_keys = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="URL prefix -> bearer key for provider='url' upstreams: a URL gets the key of the "
        "longest prefix it is "
        "under (same scheme, host and port), none otherwise. Example: "
        "{'wss://rt.example.com/v1/realtime': 'sk-...'}.",
    ).tag(config=True)
    url_dialect = Unicode(
        "preview", help="Dialect of provider='url' upstreams: 'preview' or 'ga'."
    ).tag(config=True)

    @default("log_dir")
    def _default_log_dir(self) -> str:
        return str(default_log_dir())

    @default("openai_api_key")
    def _default_openai_key(self) -> str | None:
        return env(PROVIDER_ENV["openai_api_key"])

    @default("azure_endpoint")
    def _default_azure_endpoint(self) -> str | None:
        return env(PROVIDER_ENV["azure_endpoint"])

    @default("azure_api_key")
    def _default_azure_key(self) -> str | None:
        return env(PROVIDER_ENV["azure_api_key"])

    @default("azure_deployment")
    def _default_azure_deployment(self) -> str | None:
        return env(PROVIDER_ENV["azure_deployment"])

    @default("azure_api_version")
    def _default_azure_api_version(self) -> str | None:
        return env(PROVIDER_ENV["azure_api_version"])

    @default("url_api_key")
    def _default_url_key(self) -> str | None:
        return env(PROVIDER_ENV["url_api_key"])

    @default("url_api_key_url")
    def _default_url_key_url(self) -> str | None:
        return env(PROVIDER_ENV["url_api_key_url"])

    @default("preload_local_engine")
    def _default_preload(self) -> bool:
        from ..hub.upstreams import speech_extra_installed

        return speech_extra_installed()

    hub: Hub | None = None
    _preload: Any = None

    def hub_config(self) -> HubConfig:
        providers = ProviderSettings(
            local_speech=self.local_speech,
            local_model=self.local_model,
            local_limits=self.local_limits(),
            openai_api_key=self.openai_api_key or None,
            openai_url=self.openai_url,
            openai_model=self.openai_model,
            azure_endpoint=self.azure_endpoint or None,
            azure_api_key=self.azure_api_key or None,
            azure_deployment=self.azure_deployment or None,
            azure_api_version=self.azure_api_version or None,
            azure_auth=self.azure_auth,
            url_allowlist=list(self.url_allowlist),
            url_api_key=self.url_api_key or None,
            url_api_key_url=self.url_api_key_url or None,
            url_api_keys={k: v for k, v in self.url_api_keys.items() if k and v},
            url_dialect=self.url_dialect,
        )
        return HubConfig(
            log_dir=Path(self.log_dir).expanduser(),
            providers=providers,
            max_sessions_per_user=self.max_sessions_per_user,
            max_clients_per_session=self.max_clients_per_session,
            max_message_bytes=self.max_message_bytes,
            max_session_log_bytes=self.max_session_log_bytes or None,
            max_total_log_bytes=self.max_total_log_bytes or None,
            retention_days=self.retention_days or None,
            reconnect_initial_delay=self.reconnect_initial_delay,
            reconnect_max_delay=self.reconnect_max_delay,
            reconnect_max_attempts=self.reconnect_max_attempts,
            restore_audio=self.restore_audio,
            client_buffer_bytes=self.client_buffer_bytes,
            log_flush_interval=self.log_flush_interval,
            reconnect_buffer_bytes=self.reconnect_buffer_bytes,
            max_kept_audio_ms=self.max_kept_audio_ms or None,
            max_input_buffer_ms=self.max_input_buffer_ms or None,
        )

    def local_limits(self) -> Any:
        """The caps of each local engine session (docs/limits-and-guarantees.md)."""
        from ..engine.limits import SessionLimits

        return SessionLimits(
            max_item_bytes=self.local_max_item_bytes or None,
            max_conversation_items=self.local_max_conversation_items or None,
            max_conversation_bytes=self.local_max_conversation_bytes or None,
            max_input_buffer_ms=self.max_input_buffer_ms or None,
            max_reply_tokens=self.local_max_reply_tokens or None,
        )  # the engine's own audio cap stays at its default: the hub's conversation holds the audio

    def initialize_settings(self) -> None:
        if self.url_api_key and not self.url_api_key_url:
            self.log.warning(
                "realtime-widget: REALTIME_WIDGET_URL_API_KEY (url_api_key) is set but bound to no "
                "URL: it is sent "
                "nowhere. Set REALTIME_WIDGET_URL_API_KEY_URL (url_api_key_url) to the URL it is "
                "for, or use url_api_keys."
            )
        self.hub = Hub(self.hub_config())
        root = self.export_dir or (
            self.serverapp.root_dir if self.serverapp is not None else os.getcwd()
        )
        self.settings.update(
            {
                "realtime_widget_hub": self.hub,
                "realtime_widget_app": self,
                "realtime_widget_export_dir": str(Path(root).expanduser()),
            }
        )

    def initialize_handlers(self) -> None:
        from .handlers import handlers

        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.preload_local_engine and self.local_speech:
            from ..hub.upstreams import shared_speech_stack

            # in the default executor: the event loop keeps serving while the models load
            self._preload = asyncio.ensure_future(shared_speech_stack())
        if self.hub is not None:
            try:
                await self.hub.start()
            except Exception:
                self.log.exception("realtime-widget: starting the session hub failed")

    async def stop_extension(self) -> None:
        if self.hub is not None:
            await self.hub.shutdown()
