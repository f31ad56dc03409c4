"""The two ways a sink's send() can fail; the runner decides what happens next."""

from __future__ import annotations


class SinkError(Exception):
    """Base class: a send that did not deliver its records."""


class RetryableError(SinkError):
    """Transient: the runner retries with backoff. retry_after (seconds) is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(SinkError):
    """Final: retrying cannot help (bad request, auth refused). The records are counted dropped."""
