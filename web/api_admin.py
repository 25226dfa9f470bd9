"""The rest of the JSON API: uploads, jobs, admin actions, tokens, health, the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.datastructures import FileStorage

from embed import ModelSpecError
from pixseek import __version__
from pixseek.backup import KIND as BACKUP_KIND
from pixseek.backup import list_backups, unfinished_backup_jobs
from pixseek.catalog import Catalog
from pixseek.errors import NotFoundError
from pixseek.jobs import Job
from pixseek.modelstate import model_id
from pixseek.modelswitch import KIND as MODEL_SWITCH
from pixseek.modelswitch import request_switch
from pixseek.photos import point_id
from pixseek.uploads import UploadError, store_upload
from web import auth
from web.api_search import services
from web.validation import ApiError, endpoint, openapi_document

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")
# task names; the web never imports the tasks
SCAN, REINDEX, SWITCH = "pixseek.scan", "pixseek.reindex", "pixseek.model_switch"
BACKUP = "pixseek.backup"


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReindexBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["missing", "all"] = Field(
        description="missing: photos this model has not embedded; all: every photo again"
    )


class ModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(
        min_length=1,
        max_length=1000,
        description="the model to switch to, as PIXSEEK_MODEL takes it "
        "(e.g. ViT-B-32:laion2b_s34b_b79k, local-dir:/models/mine)",
    )


class JobsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "admin"] = "viewer"


@endpoint(bp, "/health", role=None)
def health() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


@endpoint(bp, "/ready", role=None)
def ready() -> tuple[Response, int]:
    """Whether this process can serve searches: index, job store and model."""
    found = services()
    checks = {
        "index": _check(lambda: found.library.index.count()),
        "jobs": _check(lambda: found.jobs.list(1)),
        "model": "ok" if found.library.embedder.loaded else "loading",
    }
    is_ready = all(value == "ok" for value in checks.values())
    return jsonify({"ready": is_ready, "checks": checks}), 200 if is_ready else 503


def _check(probe: Any) -> str:
    try:
        probe()
    except Exception as exc:  # a readiness probe reports every failure, whatever it is
        return f"error: {exc}"
    return "ok"


@endpoint(bp, "/openapi.json", role=None)
def openapi() -> Response:
    """This document."""
    return jsonify(openapi_document("pixseek", __version__))


@endpoint(bp, "/me", role="viewer")
def me() -> Response:
    """Who is asking, with which role."""
    user = auth.require_role("viewer")
    return jsonify({"user": user.name, "role": user.role, "auth": auth.enabled()})


@endpoint(bp, "/uploads", "POST", role="admin", status=202)
def upload() -> tuple[Response, int]:
    """Add photos (multipart field `files`): stored by content, then indexed by a job."""
    files = request.files.getlist("files")
    limit = services().settings.upload_max_files
    if not files:
        raise ApiError(422, "send one or more files in the multipart field 'files'",
                       [{"field": "files", "message": "no file"}])  # fmt: skip
    if len(files) > limit:
        raise ApiError(413, f"at most {limit} files per request (PIXSEEK_UPLOAD_MAX_FILES)")
    outcomes = [_store(file) for file in files]
    queued = [o.pop("_path") for o in outcomes if o["status"] == "queued"]
    job = _index_job(queued, "upload") if queued else None
    body = {"job": job.as_dict() if job else None, "files": outcomes}
    return jsonify(body), 202


def _store(file: FileStorage) -> dict[str, Any]:
    settings, catalog = services().settings, services().library.catalog
    outcome: dict[str, Any] = {"filename": file.filename or "", "status": "failed", "id": None,
                               "sha256": None, "duplicate_of": None, "reason": None}  # fmt: skip
    try:
        stored = store_upload(
            file.stream, settings.uploads_dir, settings.upload_max_bytes, settings.max_image_pixels
        )
    except UploadError as exc:
        return outcome | {"reason": str(exc)}
    outcome |= {"id": point_id(stored.sha256), "sha256": stored.sha256}
    duplicate_of = _known_copy(catalog, stored.sha256)
    if duplicate_of is not None:
        if stored.created:
            stored.path.unlink(missing_ok=True)  # the library has it: keep no second copy
        return outcome | {"status": "duplicate", "duplicate_of": duplicate_of}
    return outcome | {"status": "queued", "_path": str(stored.path)}


def _known_copy(catalog: Catalog, sha256: str) -> str | None:
    """A file the library already holds (indexed or queued) with this content, if any."""
    paths = catalog.paths_for(sha256)
    return paths[0] if paths else None


def _index_job(paths: list[str], kind: str) -> Job:
    job = services().jobs.create(kind, {"paths": paths})
    services().send_task(SCAN, [job.id, paths])
    return job


@endpoint(bp, "/jobs", query=JobsQuery)
def jobs(query: JobsQuery) -> Response:
    """Recent jobs, newest first, with progress, images/s and ETA."""
    return jsonify({"jobs": [job.as_dict() for job in services().jobs.list(query.limit)]})


@endpoint(bp, "/jobs/<job_id>")
def job(job_id: str) -> Response:
    """One job, with each failed file and its reason."""
    return jsonify(_job(job_id).as_dict())


@endpoint(bp, "/jobs/<job_id>/cancel", "POST", role="admin")
def cancel_job(job_id: str) -> Response:
    """Stop a job after the file in hand; 409 when it had ended."""
    found = _job(job_id)
    if not services().jobs.request_cancel(job_id):
        raise ApiError(409, f"job {job_id} has ended already ({found.state})")
    if found.kind == MODEL_SWITCH:  # a step sees the flag and abandons, even if none was due
        services().send_task(SWITCH, [job_id])
    return jsonify(_job(job_id).as_dict())


def _job(job_id: str) -> Job:
    found = services().jobs.get(job_id)
    if found is None:
        raise NotFoundError(f"no job with id {job_id}")
    return found


@endpoint(bp, "/admin/reindex", "POST", role="admin", body=ReindexBody, status=202)
def reindex(body: ReindexBody) -> tuple[Response, int]:
    """Embed again every photo (all) or those the current model has not embedded (missing)."""
    job = services().jobs.create("reindex", {"scope": body.scope})
    services().send_task(REINDEX, [job.id, body.scope == "all"])
    return jsonify({"job": job.as_dict()}), 202


@endpoint(bp, "/admin/model", role="admin")
def model() -> Response:
    """The model searches use, and the model switch in progress with its job."""
    return jsonify(_model_answer())


@endpoint(bp, "/admin/model", "POST", role="admin", body=ModelBody, status=202)
def switch_model(body: ModelBody) -> tuple[Response, int]:
    """Switch to another model without a search outage: the new model's vectors are filled
    by a job while searches use the current one; 409 while a switch runs."""
    found = services()
    try:
        job = request_switch(found.library, found.jobs, body.model)
    except ModelSpecError as exc:
        details = [{"field": "model", "message": str(exc)}]
        raise ApiError(422, f"invalid request: model: {exc}", details) from None
    found.send_task(SWITCH, [job.id])
    return jsonify(_model_answer() | {"job": job.as_dict()}), 202


def _model_answer() -> dict[str, Any]:
    state = services().library.model_state()
    job = services().jobs.get(state.job_id) if state.job_id else None
    return {
        "active": state.active,
        "active_id": model_id(state.active),
        "target": state.target,
        "retired": state.retired,
        "job": job.as_dict() if job else None,
    }


@endpoint(bp, "/admin/backups", role="admin")
def backups() -> Response:
    """The finished backups in PIXSEEK_BACKUP_DIR, newest first."""
    settings = services().settings
    found = list_backups(settings.backups_dir)
    return jsonify(
        {
            "directory": str(settings.backups_dir),
            "keep": settings.backup_keep,
            "backups": [b.as_dict() for b in found],
        }
    )


@endpoint(bp, "/admin/backups", "POST", role="admin", body=Empty, status=202)
def start_backup(body: Empty) -> tuple[Response, int]:
    """Back up the catalog, users, uploads and index into a new folder in PIXSEEK_BACKUP_DIR
    (a job); 409 while another backup or a model switch runs."""
    found = services()
    running = unfinished_backup_jobs(found.jobs)
    if running:
        raise ApiError(409, f"a backup is being made already (job {running[0]})")
    found.library.model_state().refuse_while_switching("back up")  # 409 now, not a failed job
    job = found.jobs.create(BACKUP_KIND, {"directory": str(found.settings.backups_dir)})
    found.send_task(BACKUP, [job.id])
    return jsonify({"job": job.as_dict()}), 202


@endpoint(bp, "/admin/rescan", "POST", role="admin", body=Empty, status=202)
def rescan(body: Empty) -> tuple[Response, int]:
    """Look for new, changed and deleted files in every library folder and in the uploads."""
    found = services()
    roots = found.library.catalog.roots()
    if found.settings.uploads_dir.is_dir():
        roots.append(str(found.settings.uploads_dir))
    if not roots:
        raise ApiError(422, "no library folder is known yet: start `pixseek serve FOLDER`")
    return jsonify({"job": _index_job(roots, "index").as_dict()}), 202


@endpoint(bp, "/admin/status", role="admin")
def status() -> Response:
    """Mode, index statistics, queue depth, workers and library folders."""
    found = services()
    stats = found.library.stats()
    return jsonify(
        {
            "mode": found.mode,
            "stats": stats,
            "queue": {"pending": stats["files_queued"]},
            "workers": found.worker_status(),
            "roots": found.library.catalog.roots(),
        }
    )


@endpoint(bp, "/tokens", role="admin")
def tokens() -> Response:
    """API tokens (never their secrets)."""
    return jsonify({"tokens": [t.as_dict() for t in services().users.tokens()]})


@endpoint(bp, "/tokens", "POST", role="admin", body=TokenBody, status=201)
def create_token(body: TokenBody) -> tuple[Response, int]:
    """A new API token; its secret is in this answer only. Only where login is on."""
    user = auth.require_role("admin")
    if not auth.enabled():
        raise ApiError(
            409,
            "login is off (PIXSEEK_AUTH=off on localhost), so every local request is already an "
            "admin and a token would add nothing; turn login on to make tokens",
        )
    info, secret = services().users.create_token(user, body.name, body.role)
    return jsonify(info.as_dict() | {"token": secret}), 201


@endpoint(bp, "/tokens/<token_id>", "DELETE", role="admin", status=204)
def delete_token(token_id: str) -> tuple[str, int]:
    """Revoke a token."""
    services().users.delete_token(token_id)
    return "", 204
