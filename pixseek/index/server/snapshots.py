"""Qdrant collection snapshots carried between the server and this machine, streamed (a
snapshot is as large as the collection) and checked against the server's sha256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from pixseek.errors import IndexBackendError
from pixseek.index.server.client import RETRY_STATUSES, with_retries
from pixseek.settings import Settings

CHUNK = 1 << 20
TRANSFER_READ_TIMEOUT = 3600.0  # the server recovers an uploaded snapshot before it answers


@dataclass(frozen=True)
class SnapshotTransfer:
    """Where the server's REST API is, and how to talk to it."""

    url: str
    api_key: str | None
    timeout: float
    retries: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapshotTransfer:
        assert settings.qdrant_url, "snapshots are for server mode"
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return cls(
            settings.qdrant_url.rstrip("/"), key, settings.qdrant_timeout, settings.qdrant_retries
        )

    def download(self, collection: str, snapshot: str, target: Path, checksum: str | None) -> None:
        """Write a snapshot the server holds to target, checking its sha256."""
        url = f"{self._collection_url(collection)}/snapshots/{quote(snapshot, safe='')}"

        def fetch() -> None:
            digest = hashlib.sha256()
            with self._client() as client, client.stream("GET", url) as response:
                _check(response, f"download of snapshot {snapshot} of {collection}")
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            if checksum and digest.hexdigest() != checksum:
                raise IndexBackendError(
                    f"snapshot {snapshot} of {collection} arrived damaged (sha256 "
                    f"{digest.hexdigest()}, the server says {checksum})"
                )

        with_retries(fetch, self.retries, f"download of snapshot {snapshot}")

    def upload(self, collection: str, source: Path, checksum: str | None) -> None:
        """Recover a collection (made, or replaced whole) from a snapshot file."""
        url = f"{self._collection_url(collection)}/snapshots/upload"
        params = {"wait": "true", "priority": "snapshot"}
        if checksum:
            params["checksum"] = checksum

        def send() -> None:
            with self._client() as client, source.open("rb") as snapshot:
                files = {"snapshot": (source.name, snapshot, "application/octet-stream")}
                response = client.post(url, params=params, files=files)
            _check(response, f"recovery of {collection} from {source.name}")

        with_retries(send, self.retries, f"upload of {source.name}")

    def _collection_url(self, collection: str) -> str:
        return f"{self.url}/collections/{quote(collection, safe='')}"

    def _client(self) -> httpx.Client:
        headers = {"api-key": self.api_key} if self.api_key else {}
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, TRANSFER_READ_TIMEOUT))
        return httpx.Client(headers=headers, timeout=timeout)


def _check(response: httpx.Response, what: str) -> None:
    """A busy server raises what with_retries retries; any other error says what failed."""
    if response.status_code in RETRY_STATUSES:
        response.raise_for_status()
    if response.is_error:
        response.read()
        raise IndexBackendError(
            f"the Qdrant server refused the {what}: HTTP {response.status_code} "
            f"{response.text[:500]}"
        )
