"""The connection to a Qdrant server: a timeout on every request, and requests that failed on
the way sent again.

Every request pixseek sends is idempotent (points are keyed by content hash, payload writes
replace, collections and payload indexes are made only when missing), so a request whose answer
was lost can be sent twice. The retries live in the HTTP transport under qdrant-client
(RetryingTransport), so the client pixseek holds is a plain, typed QdrantClient; a snapshot
transfer, a stream of its own, is repeated whole (with_retries). Both follow one tenacity
policy: PIXSEEK_QDRANT_RETRIES more tries, 0.5 s doubling to 8 s apart.

These retries ride out a server restarting or busy for seconds. A task that still fails is
retried by Celery later, with its own backoff (workers/tasks.py TASK_OPTIONS): up to
(PIXSEEK_QDRANT_RETRIES + 1) x 9 requests for one call, over minutes, before its job fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

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
    return QdrantClient(
        url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout,
        transport=RetryingTransport(settings.qdrant_retries),  # handed on to httpx.Client
    )  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """A failure of the network or a busy server, not of the request itself."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in RETRY_STATUSES
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUSES
    return isinstance(exc, (ResponseHandlingException, httpx.TransportError, ConnectionError))


def retry_policy(retries: int, what: str, pause: float = FIRST_PAUSE, **more: Any) -> Retrying:
    """The tenacity policy of every request to the server: transient failures are tried again
    `retries` times, the last failure raised as it was (Celery tasks retry on those types)."""
    also = more.pop("retry", None)  # a result worth another try too (a busy answer)
    transient = retry_if_exception(is_transient)
    return Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=pause, max=LONGEST_PAUSE),
        retry=transient | also if also is not None else transient,
        before_sleep=_saying(what, retries),
        reraise=True,
        **more,
    )


def with_retries(call: Callable[[], T], retries: int, what: str, pause: float = FIRST_PAUSE) -> T:
    """call(), again while it fails transiently (a whole snapshot transfer)."""
    return retry_policy(retries, what, pause)(call)


class RetryingTransport(httpx.BaseTransport):
    """httpx's transport, sending a request again when the connection fails, it times out, or
    the server answers 429/502/503/504; after the last try the answer (or failure) is the
    client's as it came."""

    def __init__(self, retries: int, pause: float = FIRST_PAUSE) -> None:
        self._inner = httpx.HTTPTransport()
        self._retries = retries
        self._pause = pause

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        policy = retry_policy(
            self._retries, f"{request.method} {request.url.path}", self._pause,
            retry=retry_if_result(_busy), retry_error_callback=_last_answer,
        )  # fmt: skip
        answer: httpx.Response = policy(self._inner.handle_request, request)
        return answer

    def close(self) -> None:
        self._inner.close()


def _busy(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


def _last_answer(state: RetryCallState) -> Any:
    """Out of tries on a busy answer: hand that answer on (the client raises for it)."""
    assert state.outcome is not None
    return state.outcome.result()


def _saying(what: str, retries: int) -> Callable[[RetryCallState], None]:
    """Before each pause: say what failed, and let go of a busy answer's connection."""

    def say(state: RetryCallState) -> None:
        assert state.outcome is not None
        failure = state.outcome.exception()
        if failure is None:
            busy: httpx.Response = state.outcome.result()
            busy.close()  # its connection goes back to the pool before the next try
            reason = f"HTTP {busy.status_code}"
        else:
            reason = _describe(failure)
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Qdrant request %s failed (%s); trying again in %.1f s (%d of %d)",
            what, reason, wait, state.attempt_number, retries,
        )  # fmt: skip

    return say


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnexpectedResponse):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"[:200]
