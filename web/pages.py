"""The HTML pages. Each is a template and a script that talks to the JSON API."""

from __future__ import annotations

from flask import Blueprint, render_template

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
    return render_template("upload.html")


@bp.get("/admin")
def admin() -> str:
    require_role("admin")
    return render_template("admin.html")
