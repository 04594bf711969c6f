"""The one error type of the artifact store."""

from __future__ import annotations

from pro.errors import UserError


class StoreError(UserError):
    """An expected store failure; the message says what to fix and never contains a secret."""
