"""The connection to a Qdrant server: a timeout on every request, and requests that failed on
the way sent again.

Every request pixseek sends is idempotent (points are keyed by content hash, payload writes
replace, collections and payload indexes are made only when missing), so a request whose answer
was lost can be sent twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pixseek.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})  # busy or restarting: worth another try
FIRST_PAUSE = 0.5  # seconds before the first retry; doubled before each next one
LONGEST_PAUSE = 8.0


def connect(settings: Settings) -> QdrantClient:
    """A client for PIXSEEK_QDRANT_URL with the timeout and retries from settings."""
    assert settings.qdrant_url, "connect() is for server mode"
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    client = QdrantClient(url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout)
    return cast(QdrantClient, RetryingClient(client, settings.qdrant_retries))


def is_transient(exc: BaseException) -> bool:
    """A failure of the network or a busy server, not of the request itself."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in RETRY_STATUSES
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUSES
    return isinstance(exc, (ResponseHandlingException, httpx.TransportError, ConnectionError))


def with_retries(call: Callable[[], T], retries: int, what: str, pause: float = FIRST_PAUSE) -> T:
    """call(), again up to `retries` times while it fails transiently; the last failure is
    raised as it was (Celery tasks retry on those types later still)."""
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == retries or not is_transient(exc):
                raise
            wait = min(pause * 2**attempt, LONGEST_PAUSE)
            log.warning(
                "Qdrant request %s failed (%s); trying again in %.1f s (%d of %d)",
                what, _describe(exc), wait, attempt + 1, retries,
            )  # fmt: skip
            time.sleep(wait)
    raise AssertionError("unreachable")


class RetryingClient:
    """A QdrantClient whose method calls go through with_retries; anything else passes."""

    def __init__(self, client: QdrantClient, retries: int, pause: float = FIRST_PAUSE) -> None:
        self._client = client
        self._retries = retries
        self._pause = pause

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return with_retries(
                lambda: attribute(*args, **kwargs), self._retries, name, self._pause
            )

        return retried


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnexpectedResponse):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"[:200]
