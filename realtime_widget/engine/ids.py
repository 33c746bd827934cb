"""Identifiers shaped like the hosted service's (``event_…``, ``item_…``, ``resp_…``)."""

from __future__ import annotations

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_id(prefix: str, length: int = 20) -> str:
    """``prefix_`` + random base62; 20 chars like the service (the spec caps item ids at 32)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
