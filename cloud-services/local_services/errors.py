"""The one exception type the CLI turns into a clear message and exit code 1."""

from __future__ import annotations


class ServiceError(RuntimeError):
    """Something a user can act on: missing Java, a busy port, a failed download,
    a service that did not become ready. The message says what and what to do."""
