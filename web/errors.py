"""ApiError: an answer other than success, raised anywhere in the web app and turned into the
API's error shape (or a page) by the handlers in web/app.py."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than success: status, a message a person can act on, and field details."""

    def __init__(
        self, status: int, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}
