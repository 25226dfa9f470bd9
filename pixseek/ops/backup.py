"""Backups of a library, and restoring one: the catalog, the users, the uploaded originals and
the index, taken together so they agree.

A backup is a folder `pixseek-backup-<UTC time>` of plain files (good for rsync, restic or
borg): data/ (SQLite copies made with SQLite's online backup, the session key, uploads/),
index/ (the Edge shard's files, or a Qdrant snapshot of the server collection) and
manifest.json, written last, with every file's size and sha256. It is written under a hidden
`.partial` name and renamed when complete, so a folder with that name is always whole; restore
checks every file before it touches the library. Thumbnails are left out: they are made again
when first shown.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pixseek import __version__
from pixseek.errors import BackupError, ConflictError, PixseekError
from pixseek.index import backend_name, open_index
from pixseek.jobs.job import JobStore
from pixseek.library import Library
from pixseek.photos.identity import file_sha256
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog
from pixseek.store.db import copy_sqlite
from pixseek.store.lock import DataDirLock
from pixseek.store.modelstate import model_id
from pixseek.store.schema import open_database, open_url
from pixseek.store.transfer import copy_tables, dump_tables, load_tables

log = logging.getLogger(__name__)

KIND = "backup"  # the job's kind
FORMAT = 1
PREFIX = "pixseek-backup-"
MANIFEST = "manifest.json"
DATABASES = ("catalog.sqlite3", "users.sqlite3")  # users.sqlite3: before the one store
STORE_ROWS = "store"  # a database server's rows, a JSON Lines file per table
SECRET_KEY = "secret_key"
UPLOADS = "uploads"
STALE_PARTIAL = 24 * 3600  # seconds after which an unfinished backup folder is left-over
CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupSummary:
    """One finished backup, as its manifest describes it."""

    name: str
    path: str
    created_at: str
    backend: str
    model: str
    photos: int
    points: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestoreReport:
    source: str
    photos: int
    points: int
    model: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def back_up(library: Library, destination: Path, keep: int | None = None) -> BackupSummary:
    """Write a backup of an open library into a new folder under destination; then keep the
    newest `keep` backups there. The catalog is copied before the index, so a photo indexed
    meanwhile is at worst in the index only (a rescan after a restore embeds it again), never
    claimed by the catalog and missing from the index."""
    state = library.model_state()
    state.refuse_while_switching("back up")
    destination.mkdir(parents=True, exist_ok=True)
    name = _new_name(destination)
    staging = destination / f".{name}.partial"
    try:
        _copy_data(library, staging / "data")
        index = library.index.save_to(staging / "index")
        manifest = {
            "format": FORMAT,
            "pixseek": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "backend": index["backend"],
            "model": state.active,
            "model_id": model_id(state.active),
            "photos": library.catalog.status_counts().get("indexed", 0),
            "points": library.index.count(),
            "index": index,
            "files": _describe_files(staging),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _sync_tree(staging)
        os.replace(staging, destination / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if keep is not None:
        prune(destination, keep)
    return _summary(destination / name, manifest)


def run_backup_job(
    library: Library, jobs: JobStore, job_id: str, destination: Path, keep: int
) -> BackupSummary | None:
    """A backup as a job of one step: failed, with the reason, when it cannot be made."""
    jobs.start(job_id)
    jobs.add_total(job_id, 1, planned=True)
    try:
        made = back_up(library, destination, keep)
    except (PixseekError, OSError) as exc:
        jobs.finish(job_id, "failed", f"the backup failed: {exc}")
        return None
    jobs.record(job_id, 1)
    jobs.finish(job_id, "done")
    return made


def unfinished_backup_jobs(jobs: JobStore) -> list[str]:
    return [j.id for j in jobs.list() if j.kind == KIND and not j.finished]


def abandon_backup_jobs(jobs: JobStore) -> list[str]:
    """After a restart of the only process (the embedded mode): backups it was making will not
    end; say so, so that a new one can start."""
    abandoned = unfinished_backup_jobs(jobs)
    for job_id in abandoned:
        jobs.finish(job_id, "failed", "pixseek stopped before the backup was complete")
    return abandoned


def list_backups(destination: Path) -> list[BackupSummary]:
    """The finished backups in a folder, newest first (unreadable ones are left out)."""
    found = []
    if destination.is_dir():
        for path in sorted(destination.glob(f"{PREFIX}*"), reverse=True):
            try:
                found.append(_summary(path, read_manifest(path)))
            except BackupError as exc:
                log.warning("skipping %s: %s", path, exc)
    return found


def prune(destination: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` finished backups, and unfinished ones a day old."""
    finished = [p for p in sorted(destination.glob(f"{PREFIX}*")) if (p / MANIFEST).is_file()]
    doomed = finished[: max(len(finished) - keep, 0)]
    now = time.time()
    doomed += [
        p
        for p in destination.glob(f".{PREFIX}*.partial")
        if now - p.stat().st_mtime > STALE_PARTIAL
    ]
    for path in doomed:
        shutil.rmtree(path)
    return [p.name for p in doomed]


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a pixseek backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {source / MANIFEST}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{source} has backup format {manifest.get('format')!r}; this pixseek reads {FORMAT}"
        )
    return manifest


def verify(source: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is there with its size and sha256."""
    manifest = read_manifest(source)
    problems = []
    for relative, expected in manifest["files"].items():
        path = source / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
        elif path.stat().st_size != expected["size"]:
            problems.append(f"{relative}: {path.stat().st_size} bytes, not {expected['size']}")
        elif file_sha256(path) != expected["sha256"]:
            problems.append(f"{relative}: its content changed (sha256 differs)")
    if problems:
        shown = "; ".join(problems[:10])
        if len(problems) > 10:
            shown += f"; and {len(problems) - 10} more"
        raise BackupError(f"the backup {source} is damaged, nothing was restored: {shown}")
    return manifest


def restore(settings: Settings, source: Path, force: bool = False) -> RestoreReport:
    """Make the library what the backup holds. Nothing else may use the library meanwhile:
    the embedded mode's lock enforces it; in server mode stop the web app and the workers."""
    started = time.monotonic()
    manifest = verify(source)
    backend = backend_name(settings)
    if manifest["backend"] != backend:
        raise BackupError(
            f"the backup holds a {manifest['backend']} index and this library uses {backend}: "
            "restore it with the settings it was made with (then `pixseek migrate-index` moves "
            "an embedded index to a server)"
        )
    lock: AbstractContextManager[Any] = (
        DataDirLock(settings.data_dir) if settings.index_is_exclusive else nullcontext()
    )
    with lock:
        index = open_index(settings)
        try:
            _refuse_to_overwrite(settings, index.count(), force)
            index.restore_from(source / "index", manifest["index"], manifest["model_id"])
            points = index.count()
        finally:
            index.close()
        _put_data(source / "data", settings)
    return RestoreReport(
        str(source), manifest["photos"], points, manifest["model"], time.monotonic() - started
    )


def _refuse_to_overwrite(settings: Settings, points: int, force: bool) -> None:
    database = open_database(settings)
    try:
        photos = Catalog(database).status_counts().get("indexed", 0)
    finally:
        database.close()
    if (photos or points) and not force:
        raise ConflictError(
            f"this library holds {photos} indexed photos and {points} index points; restoring "
            "replaces them with the backup's (add --force to do so)"
        )


def _copy_data(library: Library, target: Path) -> None:
    """The store (SQLite: a copy of its file; a database server: its rows as JSON Lines),
    the session key and the uploads."""
    settings = library.settings
    target.mkdir(parents=True)
    if library.database.is_sqlite:
        for name in DATABASES:  # users.sqlite3: a library not yet upgraded (it merges later)
            if (settings.data_dir / name).exists():
                copy_sqlite(settings.data_dir / name, target / name)
    else:
        dump_tables(library.database, target / STORE_ROWS)
    if (settings.data_dir / SECRET_KEY).exists():
        shutil.copy2(settings.data_dir / SECRET_KEY, target / SECRET_KEY)
    if settings.uploads_dir.is_dir():
        shutil.copytree(settings.uploads_dir, target / UPLOADS, ignore=_unfinished_uploads)


def _put_data(saved: Path, settings: Settings) -> None:
    """The backup's store and session key replace the library's; uploads are added to what
    is there (a file's name is its content hash). A SQLite backup restores as files into a
    SQLite library, its rows into a database server; rows restore into either."""
    if settings.database_url or (saved / STORE_ROWS).is_dir():
        _load_rows(saved, settings)
    else:
        for name in DATABASES:
            if (saved / name).exists():
                _replace_database(saved / name, settings.data_dir / name)
    if (saved / SECRET_KEY).exists():
        shutil.copy2(saved / SECRET_KEY, settings.data_dir / SECRET_KEY)
    if (saved / UPLOADS).is_dir():
        shutil.copytree(saved / UPLOADS, settings.uploads_dir, dirs_exist_ok=True)
    database = open_database(settings)  # a backup from an older release is upgraded here
    try:
        Catalog(database).release_claims()  # no worker runs during a restore: all are stale
    finally:
        database.close()


def _load_rows(saved: Path, settings: Settings) -> None:
    database = open_database(settings)
    try:
        if (saved / STORE_ROWS).is_dir():
            load_tables(database, saved / STORE_ROWS)
            return
        with tempfile.TemporaryDirectory() as scratch:  # the backup's SQLite, upgraded aside
            for name in DATABASES:
                if (saved / name).exists():
                    shutil.copy2(saved / name, Path(scratch) / name)
            source = open_url(f"sqlite:///{Path(scratch) / DATABASES[0]}")
            try:
                copy_tables(source, database)
            finally:
                source.close()
    finally:
        database.close()


def _replace_database(saved: Path, live: Path) -> None:
    incoming = live.with_name(f"{live.name}.restoring")
    shutil.copy2(saved, incoming)
    for leftover in (live.with_name(f"{live.name}-wal"), live.with_name(f"{live.name}-shm")):
        leftover.unlink(missing_ok=True)  # the old database's journal must not meet the new one
    os.replace(incoming, live)


def _unfinished_uploads(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(".upload-")]


def _describe_files(root: Path) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(root).as_posix(): {
            "size": path.stat().st_size,
            "sha256": file_sha256(path),
        }
        for path in sorted(_files(root))
    }


def _files(root: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


def _sync_tree(root: Path) -> None:
    """Flush every file to disk before the rename says the backup is complete."""
    for path in _files(root):
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def _new_name(destination: Path) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name, count = f"{PREFIX}{stamp}", 1
    while (destination / name).exists() or (destination / f".{name}.partial").exists():
        count += 1
        name = f"{PREFIX}{stamp}-{count}"
    return name


def _summary(path: Path, manifest: dict[str, Any]) -> BackupSummary:
    return BackupSummary(
        name=path.name,
        path=str(path),
        created_at=manifest["created_at"],
        backend=manifest["backend"],
        model=manifest["model"],
        photos=manifest["photos"],
        points=manifest["points"],
        bytes=sum(entry["size"] for entry in manifest["files"].values()),
    )
