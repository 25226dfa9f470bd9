"""The HTML pages. Each is a template and a script that talks to the JSON API."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, send_from_directory

from web.auth import require_role

bp = Blueprint("pages", __name__)


@bp.get("/")
def search() -> str:
    require_role("viewer")
    return render_template("search.html")


@bp.get("/photos/<photo_id>")
def photo(photo_id: str) -> str:
    require_role("viewer")
    return render_template("photo.html", photo_id=photo_id)


@bp.get("/duplicates")
def duplicates() -> str:
    require_role("viewer")
    return render_template("duplicates.html")


@bp.get("/upload")
def upload() -> str:
    require_role("admin")
    settings = current_app.extensions["pixseek"].settings  # a request's limits, for the page
    return render_template(
        "upload.html", max_files=settings.upload_max_files, max_bytes=settings.upload_max_bytes
    )


@bp.get("/admin")
def admin() -> str:
    require_role("admin")
    return render_template("admin.html")


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for on their own, on every page and error page: no 404 in logs."""
    return send_from_directory(
        current_app.static_folder or "static", "favicon.ico", mimetype="image/vnd.microsoft.icon",
        max_age=7 * 24 * 3600,
    )  # fmt: skip
