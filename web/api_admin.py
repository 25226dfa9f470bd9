"""The rest of the JSON API: uploads, jobs, admin actions, tokens, health, the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.datastructures import FileStorage
from werkzeug.formparser import parse_form_data

from embed import ModelSpecError
from pixseek import __version__
from pixseek.errors import NotFoundError
from pixseek.indexing.precision import describe_precision
from pixseek.jobs.job import Job
from pixseek.jobs.names import (  # the web never imports the tasks
    BACKUP,
    OCR,
    REINDEX,
    SCAN,
    SWITCH,
)
from pixseek.jobs.runner import FILE_JOB_KINDS, cancel_file_job
from pixseek.ops.backup import KIND as BACKUP_KIND
from pixseek.ops.backup import list_backups, unfinished_backup_jobs
from pixseek.photos.identity import point_id
from pixseek.photos.uploads import UploadError, UploadReceiver, place_upload
from pixseek.store.catalog import Catalog
from pixseek.store.modelstate import model_id
from pixseek.switch.modelswitch import KIND as MODEL_SWITCH
from pixseek.switch.modelswitch import request_switch
from pixseek.switch.ocrfill import KIND as OCR_KIND
from pixseek.switch.ocrfill import start_ocr
from web import answers, auth
from web.api_search import services
from web.errors import ApiError
from web.validation import Answer, Name, Text, endpoint, openapi_document

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")
MAX_MODIFIED_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z: past it, no file time is real
FileTime = Annotated[int, Field(ge=0, le=MAX_MODIFIED_MS)]  # milliseconds since the epoch


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReindexBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["missing", "all"] = Field(
        description="missing: photos this model has not embedded; all: every photo again"
    )


class ModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Text = Field(
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
    name: Name = Field(min_length=1, max_length=100)
    role: Literal["viewer", "admin"] = "viewer"


class UploadForm(BaseModel):
    """The multipart body of an upload (read by the view as it streams, not validated here)."""

    files: list[bytes] = Field(
        min_length=1, description="image files (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIF, AVIF)"
    )
    modified: list[FileTime] | FileTime = Field(
        default_factory=list,
        description="per file, in order: when it was last modified, in milliseconds since the "
        "epoch (a browser's File.lastModified); the date of a photo without a capture date. "
        "More times than files answer 422.",
    )


@endpoint(bp, "/health", role=None, response=answers.Health)
def health() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


@endpoint(
    bp, "/ready", role=None, response=answers.Ready,
    answers={503: Answer("not ready: a check is not ok", answers.Ready)},
)  # fmt: skip
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


@endpoint(bp, "/openapi.json", role=None, response=answers.OpenApiDocument)
def openapi() -> Response:
    """This document."""
    session_cookie = current_app.config["SESSION_COOKIE_NAME"]
    document = openapi_document("pixseek", __version__, session_cookie, auth.CSRF_HEADER)
    form = document["components"]["schemas"][UploadForm.__name__]["properties"]
    form["files"]["maxItems"] = services().settings.upload_max_files  # a setting: more, 413
    form["modified"]["anyOf"][0]["maxItems"] = services().settings.upload_max_files
    return jsonify(document)


@endpoint(bp, "/me", role="viewer", response=answers.Me)
def me() -> Response:
    """Who is asking, with which role."""
    user = auth.require_role("viewer")
    return jsonify({"user": user.name, "role": user.role, "auth": auth.enabled()})


@endpoint(
    bp, "/uploads", "POST", role="admin", form=UploadForm, status=202,
    response=answers.UploadAnswer,
    answers={
        400: "a body that is not a readable multipart form",
        413: "more files (PIXSEEK_UPLOAD_MAX_FILES) or bytes (PIXSEEK_UPLOAD_MAX_BYTES) "
        "than this server accepts",
        422: "no file in the multipart field `files`",
    },
)  # fmt: skip
def upload() -> tuple[Response, int]:
    """Add photos (multipart field `files`): stored by content, then indexed by a job. The
    files are written into the store as they arrive; one over PIXSEEK_UPLOAD_MAX_BYTES ends
    the request with 413 and nothing of it is kept."""
    settings = services().settings
    receiver = UploadReceiver(settings.uploads_dir, settings.upload_max_bytes)
    try:
        files, modified = _received_files(receiver)
        outcomes = [_store(file, when) for file, when in zip(files, modified, strict=True)]
    finally:
        receiver.close()  # the temporary names; what was placed has its own
    queued = [o.pop("_path") for o in outcomes if o["status"] == "queued"]
    job = _index_job(queued, "upload") if queued else None
    body = {"job": job.as_dict() if job else None, "files": outcomes}
    return jsonify(body), 202


def _received_files(receiver: UploadReceiver) -> tuple[list[FileStorage], list[float | None]]:
    """The multipart body's `files`, each streamed into the store by the receiver, and the
    time each was last modified (seconds since the epoch) where the body gives one."""
    limit = services().settings.upload_max_files

    def into_store(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> Any:  # werkzeug's stream factory: a writable, seekable file
        return receiver.open(filename)

    try:
        _, form, parts = parse_form_data(
            request.environ, stream_factory=into_store, silent=False,
            max_content_length=request.max_content_length,
            max_form_memory_size=current_app.config["MAX_FORM_MEMORY_SIZE"],
            max_form_parts=current_app.config["MAX_FORM_PARTS"],
        )  # fmt: skip
    except ValueError as exc:  # werkzeug: a body that is not multipart/form-data as it says
        raise ApiError(400, f"the body is not a readable multipart form: {exc}") from None
    files = parts.getlist("files")
    if not files:
        raise ApiError(422, "send one or more files in the multipart field 'files'",
                       [{"field": "files", "message": "no file"}])  # fmt: skip
    if len(files) > limit:
        raise ApiError(413, f"at most {limit} files per request (PIXSEEK_UPLOAD_MAX_FILES)")
    return files, _modified_times(form.getlist("modified"), len(files))


def _modified_times(values: list[str], count: int) -> list[float | None]:
    """The field `modified` (milliseconds since the epoch, one per file) in seconds; None for
    a file it does not cover."""
    if len(values) > count:
        detail = {"field": "modified", "message": f"{len(values)} values for {count} files"}
        raise ApiError(422, "more values in 'modified' than files", [detail])
    times: list[float | None] = []
    for position, value in enumerate(values):
        if not value.isdigit() or int(value) > MAX_MODIFIED_MS:
            detail = {"field": f"modified.{position}", "message": f"not a time: {value[:40]!r}"}
            raise ApiError(422, "'modified' takes milliseconds since the epoch", [detail])
        times.append(int(value) / 1000)
    return times + [None] * (count - len(times))


def _store(file: FileStorage, modified: float | None = None) -> dict[str, Any]:
    settings, catalog = services().settings, services().library.catalog
    outcome: dict[str, Any] = {"filename": file.filename or "", "status": "failed", "id": None,
                               "sha256": None, "duplicate_of": None, "reason": None}  # fmt: skip
    try:
        stored = place_upload(file.stream, settings.max_image_pixels, modified)  # type: ignore[arg-type]
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


@endpoint(bp, "/jobs", query=JobsQuery, response=answers.JobList)
def jobs(query: JobsQuery) -> Response:
    """Recent jobs, newest first, with progress, images/s and ETA."""
    return jsonify({"jobs": [job.as_dict() for job in services().jobs.list(query.limit)]})


@endpoint(bp, "/jobs/<job_id>", response=answers.Job, answers={404: "no job with this id"})
def job(job_id: str) -> Response:
    """One job, with each failed file and its reason."""
    return jsonify(_job(job_id).as_dict())


@endpoint(
    bp, "/jobs/<job_id>/cancel", "POST", role="admin", response=answers.Job,
    answers={404: "no job with this id", 409: "the job had ended already"},
)  # fmt: skip
def cancel_job(job_id: str) -> Response:
    """Stop a job within the model batch in hand: its unprocessed files go back to where they
    were, and a job no worker is processing ends at once; 409 when it had ended."""
    found, store = _job(job_id), services().jobs
    if found.kind in FILE_JOB_KINDS:
        cancelled = cancel_file_job(store, services().library.catalog, job_id)
    else:
        cancelled = store.request_cancel(job_id)
    if not cancelled:
        raise ApiError(409, f"job {job_id} has ended already ({found.state})")
    if found.kind == MODEL_SWITCH:  # a step sees the flag and abandons, even if none was due
        services().send_task(SWITCH, [job_id])
    elif found.kind == OCR_KIND:  # a step sees the flag and ends the job
        services().send_task(OCR, [job_id])
    return jsonify(_job(job_id).as_dict())


def _job(job_id: str) -> Job:
    found = services().jobs.get(job_id)
    if found is None:
        raise NotFoundError(f"no job with id {job_id}")
    return found


@endpoint(
    bp, "/admin/reindex", "POST", role="admin", body=ReindexBody, status=202,
    response=answers.JobStarted,
)  # fmt: skip
def reindex(body: ReindexBody) -> tuple[Response, int]:
    """Embed again every photo (all) or those the current model has not embedded (missing)."""
    job = services().jobs.create("reindex", {"scope": body.scope})
    services().send_task(REINDEX, [job.id, body.scope == "all"])
    return jsonify({"job": job.as_dict()}), 202


@endpoint(
    bp, "/admin/ocr", "POST", role="admin", body=Empty, status=202,
    response=answers.JobStarted,
    answers={409: "an OCR job is running, or Tesseract is not installed"},
)  # fmt: skip
def start_ocr_job(body: Empty) -> tuple[Response, int]:
    """Read the text in every indexed photo that has none read yet (a job: photos indexed
    before PIXSEEK_OCR=on); 409 while another OCR job runs or without Tesseract."""
    found = services()
    job = start_ocr(found.library, found.jobs)
    found.send_task(OCR, [job.id])
    return jsonify({"job": job.as_dict()}), 202


@endpoint(bp, "/admin/model", role="admin", response=answers.ModelAnswer)
def model() -> Response:
    """The model searches use, and the model switch in progress with its job."""
    return jsonify(_model_answer())


@endpoint(
    bp, "/admin/model", "POST", role="admin", body=ModelBody, status=202,
    response=answers.ModelAnswer,
    answers={
        409: "a model switch is running, or this is the active model",
        422: "invalid, or a model that cannot load here (details: model)",
    },
)  # fmt: skip
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


@endpoint(bp, "/admin/backups", role="admin", response=answers.BackupList)
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


@endpoint(
    bp, "/admin/backups", "POST", role="admin", body=Empty, status=202,
    response=answers.JobStarted, answers={409: "a backup or a model switch is running"},
)  # fmt: skip
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


@endpoint(
    bp, "/admin/rescan", "POST", role="admin", body=Empty, status=202,
    response=answers.JobStarted,
    answers={422: "no library folder is known yet (start `pixseek serve FOLDER`)"},
)  # fmt: skip
def rescan(body: Empty) -> tuple[Response, int]:
    """Look for new, changed and deleted files in every library folder and in the uploads."""
    found = services()
    roots = found.library.catalog.roots()
    if found.settings.uploads_dir.is_dir():
        roots.append(str(found.settings.uploads_dir))
    if not roots:
        raise ApiError(422, "no library folder is known yet: start `pixseek serve FOLDER`")
    return jsonify({"job": _index_job(roots, "index").as_dict()}), 202


@endpoint(
    bp, "/admin/status", role="admin", response=answers.Status,
    answers={503: "the index does not answer"},
)  # fmt: skip
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
            "precision": describe_precision(found.settings, stats["model_id"]),
        }
    )


@endpoint(bp, "/tokens", role="admin", response=answers.TokenList)
def tokens() -> Response:
    """API tokens (never their secrets)."""
    return jsonify({"tokens": [t.as_dict() for t in services().users.tokens()]})


@endpoint(
    bp, "/tokens", "POST", role="admin", body=TokenBody, status=201, response=answers.NewToken,
    answers={409: "login is off here, so there are no tokens"},
)  # fmt: skip
def create_token(body: TokenBody) -> tuple[Response, int]:
    """A new API token; its secret is in this answer only. Only where login is on."""
    user = auth.require_role("admin")
    if not auth.enabled():
        raise ApiError(
            409,
            f"login is off ({auth.login_off_reason()}), so every local request is already an "
            "admin and a token would add nothing; turn login on to make tokens",
        )
    info, secret = services().users.create_token(user, body.name, body.role)
    return jsonify(info.as_dict() | {"token": secret}), 201


@endpoint(
    bp, "/tokens/<token_id>", "DELETE", role="admin", status=204, response=None,
    answers={404: "no token with this id"},
)  # fmt: skip
def delete_token(token_id: str) -> tuple[str, int]:
    """Revoke a token."""
    services().users.delete_token(token_id)
    return "", 204
