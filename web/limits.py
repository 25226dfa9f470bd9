"""How large a request body may be, by route and caller, decided before any of it is read.

The server hands the body over unread (web/server.py), so a request whose Content-Length is
over its limit is answered 413 at once and its connection closed: nobody can make pixseek
receive a gigabyte to be told they are not logged in. A body sent without a Content-Length
(chunked) is cut off at the same limit as it is read.

- JSON and forms, and any request of a caller not known to be someone (no session, no token):
  SMALL_BODY;
- a search, which may carry query images as base64: SEARCH_BODY;
- an upload, for an admin only: PIXSEEK_UPLOAD_MAX_FILES x PIXSEEK_UPLOAD_MAX_BYTES and the
  multipart framing; each file is also held to PIXSEEK_UPLOAD_MAX_BYTES as it arrives.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from pixseek.settings import Settings
from web.auth import current_user
from web.errors import ApiError

KIB = 1024
MIB = 1024 * KIB
SMALL_BODY = 1 * MIB
# Eight query images of a phone camera's size (the page scales large ones down before it
# sends them), base64 in JSON.
SEARCH_BODY = 48 * MIB
FORM_FIELDS = 128 * KIB
MULTIPART_PART_OVERHEAD = 4 * KIB  # boundary and part headers, generously
SEARCH_ENDPOINT = "search_api.search_photos"
UPLOAD_ENDPOINT = "admin_api.upload"


def init_app(app: Flask, settings: Settings) -> None:
    """Refuse oversized bodies on every request; run it after the caller is identified."""
    # what is read before this check runs (the CSRF check's form field) is held to the least
    app.config["MAX_CONTENT_LENGTH"] = SMALL_BODY
    # a form's text fields; werkzeug reads multipart bodies 64 KiB at a time and holds each
    # read to this too, so it cannot be less
    app.config["MAX_FORM_MEMORY_SIZE"] = FORM_FIELDS
    # an upload's parts: each file and its `modified` time, and a few other fields
    app.config["MAX_FORM_PARTS"] = 2 * settings.upload_max_files + 16
    app.extensions["pixseek_upload_body"] = settings.upload_max_files * (
        settings.upload_max_bytes + 2 * MULTIPART_PART_OVERHEAD
    )
    app.before_request(refuse_oversized_body)


def body_limit() -> int:
    """The most bytes this request's body may have, for its route and its caller."""
    user = current_user()
    if user is None:
        return SMALL_BODY
    if request.endpoint == UPLOAD_ENDPOINT and user.is_admin:
        limit: int = current_app.extensions["pixseek_upload_body"]
        return limit
    if request.endpoint == SEARCH_ENDPOINT:
        return SEARCH_BODY
    return SMALL_BODY


def refuse_oversized_body() -> None:
    limit = body_limit()
    request.max_content_length = limit  # a chunked body is cut off here as it is read
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, _too_large_message(length, limit))


def _too_large_message(length: int, limit: int) -> str:
    message = f"the request body ({length:,} bytes) is larger than this request allows ({limit:,})"
    if current_user() is None:
        return message + "; log in first, or send an API token"
    if request.endpoint == UPLOAD_ENDPOINT:
        return message + " (PIXSEEK_UPLOAD_MAX_FILES x PIXSEEK_UPLOAD_MAX_BYTES)"
    return message
