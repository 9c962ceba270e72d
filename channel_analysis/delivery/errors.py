"""The one error type of the delivery step."""

from __future__ import annotations

from ..errors import ChannelAnalysisError


class DeliveryError(ChannelAnalysisError):
    """Sending cannot start or must stop: no manifest, a send without ``--yes``, another sender
    holding the lock, a refused SMTP login, a missing password. The message says what to do."""
