"""Indexing library folders: scan, skip what is unchanged, decode, embed in batches, upsert.

Order matters for crash safety: the index is written before the catalog, and point ids come from
content hashes, so a run that dies halfway is finished by the next one without duplicates.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from embed import ImageDecodeError
from embed.decode import decode_rgb, open_image
from pixseek.index.base import IndexPoint, VectorIndex
from pixseek.indexing import precision
from pixseek.indexing.textfill import catch_up
from pixseek.photos.identity import (
    build_payload,
    file_sha256,
    path_fields,
    perceptual_hashes,
    point_id,
)
from pixseek.photos.metadata import PhotoMetadata, read_metadata
from pixseek.photos.ocr import OCR_SIDE, OcrFailed, check_engine, read_text
from pixseek.photos.pipeline import bounded_map, shrink_for_model
from pixseek.photos.scan import resolve_roots, scan
from pixseek.photos.thumbnails import GRID_SIZE, decode_side_for, grid_thumbnail
from pixseek.search.rerank import store_features
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog, FileRecord, FileState

if TYPE_CHECKING:
    from embed.model import Embedder
    from pixseek.library import Library

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
EmbeddersFn = Callable[[], "Sequence[Embedder]"]  # the models to embed with, the active one first


@dataclass
class IndexReport:
    """What an indexing run did. failed holds (path, reason) pairs."""

    indexed: int = 0
    embedded: int = 0
    duplicates: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # not images: (path, why)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "embedded": self.embedded,
            "duplicates": self.duplicates,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": path, "reason": reason} for path, reason in self.failed],
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.embedded / self.seconds, 2) if self.seconds else 0.0,
        }


@dataclass(frozen=True)
class Prepared:
    """A decoded image, ready for the model."""

    state: FileState
    sha256: str
    meta: PhotoMetadata
    image: Image.Image
    hashes: dict[str, str]  # perceptual hashes, for near-duplicates (pixseek/quality)
    ocr_text: str | None = None  # the text read in it (PIXSEEK_OCR=on), else None


@dataclass(frozen=True)
class Known:
    """A file whose content already has a point: only its path needs recording."""

    state: FileState
    sha256: str


@dataclass(frozen=True)
class Failed:
    state: FileState
    sha256: str | None
    reason: str


# Whether to stop; fresh=True asks the source now rather than trusting a recent answer
StopFn = Callable[[bool], bool]
BatchFn = Callable[[list[str], list[tuple[str, str]]], None]  # paths done, (path, reason) failed


@dataclass(frozen=True)
class Plan:
    """What a scan found: files to process, files gone from disk, how many are current, and
    the files passed over for their type."""

    todo: list[FileState]
    gone: list[str]
    unchanged: int
    records: dict[str, FileRecord]
    skipped: list[tuple[str, str]]


def plan_scan(settings: Settings, catalog: Catalog, model_id: str, paths: Iterable[str]) -> Plan:
    """Compare the files under paths with the catalog."""
    roots = resolve_roots(paths)
    scanned = scan(roots, skip=settings.data_dir)
    states = scanned.images
    records = catalog.records_under(roots)
    present = {state.path for state in states}
    todo = [s for s in states if not _current(records.get(s.path), s, model_id)]
    gone = sorted(path for path in records if path not in present)
    return Plan(todo, gone, len(states) - len(todo), records, scanned.skipped)


def _current(record: FileRecord | None, state: FileState, model_id: str) -> bool:
    return record is not None and record.is_current(state, model_id)


def _read_text(rgb: Image.Image, path: str) -> str | None:
    """The picture's text; None (no ocr_text: an OCR job reads it later) when the engine fails
    on it, which does not stop the photo from being indexed."""
    try:
        return read_text(rgb)
    except OcrFailed as exc:
        log.warning("no text read from %s: %s", path, exc)
        return None


class Ingester:
    """Turns files into points: hash, decode once, metadata, thumbnails, embed, upsert.

    Used by the synchronous `pixseek index` and by the worker tasks alike. embedders says
    which models to embed with, the active one first (during a model switch: the active one
    and the new one); it is asked again for every batch, so a switch that starts or cuts over
    meanwhile is followed within a batch.
    """

    def __init__(
        self, settings: Settings, index: VectorIndex, catalog: Catalog, embedders: EmbeddersFn
    ) -> None:
        self.settings = settings
        self.index = index
        self.catalog = catalog
        self.embedders = embedders

    @classmethod
    def of(cls, library: Library) -> Ingester:
        """The library's ingester: it embeds with Library.writing_embedders."""
        return cls(library.settings, library.index, library.catalog, library.writing_embedders)

    @property
    def model_id(self) -> str:
        """The active model: files count as indexed once it has embedded them."""
        return self.embedders()[0].model_id

    def ingest(
        self,
        files: Sequence[FileState],
        records: Mapping[str, FileRecord],
        progress: ProgressFn | None = None,
        on_batch: BatchFn | None = None,
        should_stop: StopFn | None = None,
    ) -> IndexReport:
        """Index files; records: what the catalog knew of them before (old content hashes).

        on_batch(done_paths, failures) is told after each step that wrote to the index;
        should_stop is asked between files and (fresh) before each model batch; a True ends the
        run early with what was written: decoded files not embedded yet are left unprocessed.
        """
        report = IndexReport()
        if not files:
            return report
        if self.settings.ocr == "on":
            check_engine()  # said once, not as a failure of every file
        models = self._models(set())
        run = _Run(
            report,
            progress or (lambda done, total: None),
            on_batch,
            should_stop,
            records,
            self.catalog.shas_indexed_with(models[0].model_id),
            {m.model_id for m in models},
            max(m.image_size for m in models),
        )
        self._process(files, run)
        for model in self.embedders():  # a small library still gets its precision check
            precision.note_embedded(model, [], self.settings, final=True)
        return report

    def _models(self, ensured: set[str]) -> list[Embedder]:
        """The models to embed with now; a vector space is made for any new one."""
        models = list(self.embedders())
        for model in models:
            precision.follow_library(model, self.settings)
            if model.model_id not in ensured:
                self.index.ensure_vector(model.model_id, model.dim)
                ensured.add(model.model_id)
        return models

    def remove(self, gone: Sequence[str], records: Mapping[str, FileRecord]) -> int:
        """Let go of files no longer on disk: their paths leave their points (and points with
        no path left are deleted), then their catalog rows go."""
        by_sha: dict[str, set[str]] = defaultdict(set)
        for path in gone:
            if sha := records[path].sha256:  # indexed, or queued with its old content's hash
                by_sha[sha].add(path)
        for sha, paths in by_sha.items():
            self._set_paths(sha, [p for p in self.catalog.paths_for(sha) if p not in paths])
        self.catalog.remove(gone)
        return len(gone)

    def _process(self, files: Sequence[FileState], run: _Run) -> None:
        batch: list[Prepared] = []
        with ThreadPoolExecutor(self.settings.decode_threads, "pixseek-decode") as pool:
            window = 2 * self.settings.batch_size
            prepare = functools.partial(self._prepare, known_shas=run.known_shas, side=run.side)
            for done, item in enumerate(bounded_map(pool, prepare, files, window), 1):
                if isinstance(item, Prepared):
                    batch.append(item)
                    if len(batch) >= self.settings.batch_size:
                        if run.stopping(fresh=True):
                            break
                        self._embed(batch, run)
                        batch = []
                elif isinstance(item, Known):
                    self._attach(item, run)
                else:
                    self._fail(item, run)
                run.progress(done, len(files))
                if run.stopping(fresh=False):
                    break
            else:
                if not run.stopping(fresh=True):
                    self._embed(batch, run)
            pool.shutdown(wait=True, cancel_futures=True)

    def _prepare(
        self, state: FileState, known_shas: set[str], side: int
    ) -> Prepared | Known | Failed:
        """Runs in a decode thread: hash, then decode only content not indexed yet."""
        try:
            sha = file_sha256(state.path)
        except OSError as exc:
            return Failed(state, None, f"cannot read file: {exc.strerror or exc}")
        if sha in known_shas:
            return Known(state, sha)
        try:
            reading = self.settings.ocr == "on"
            with open_image(state.path, self.settings.max_image_pixels) as image:
                meta = read_metadata(image, state.mtime_ns / 1e9)
                # OCR wants the text's pixels: a long side of OCR_SIDE rather than the grid's
                largest = OCR_SIDE if reading else GRID_SIZE
                min_side = decode_side_for(meta.width, meta.height, side, largest)
                rgb = decode_rgb(image, min_side=min_side)
            ocr_text = _read_text(rgb, state.path) if reading else None
            # the hashes and the re-ranking features are taken of the grid thumbnail's pixels
            # (320 px, before its WebP encode): no second reduction of the decode
            grid = grid_thumbnail(rgb, sha, self.settings.thumbs_dir)
            hashes = perceptual_hashes(grid)
            store_features(grid, sha, self.settings.thumbs_dir)  # for spatial re-ranking
            rgb = shrink_for_model(rgb, side)
        except ImageDecodeError as exc:
            return Failed(state, sha, str(exc))
        except Exception as exc:  # a bad file must never stop the run; keep the reason
            log.exception("unexpected error decoding %s", state.path)
            return Failed(state, sha, f"unexpected error: {type(exc).__name__}: {exc}")
        return Prepared(state, sha, meta, rgb, hashes, ocr_text)

    def _embed(self, batch: list[Prepared], run: _Run) -> None:
        if not batch:
            return
        models = self._models(run.ensured)
        images = [item.image for item in batch]
        vectors = {model.model_id: model.embed_images(images) for model in models}
        for model in models:  # the precision check's sample: the library's own photos
            precision.note_embedded(model, images, self.settings, final=False)
        by_sha: dict[str, list[int]] = defaultdict(list)
        for position, item in enumerate(batch):
            by_sha[item.sha256].append(position)
        points = [
            self._point(sha, [batch[i] for i in rows], {n: v[rows[0]] for n, v in vectors.items()})
            for sha, rows in by_sha.items()
        ]
        for item in batch:
            self._detach_old_content(run, item.state.path, item.sha256)
        self.index.upsert(points)
        indexed = [(item.state, item.sha256) for item in batch]
        self.catalog.mark_indexed(indexed, models[0].model_id)
        run.known_shas.update(by_sha)
        run.report.embedded += len(batch)
        run.report.indexed += len(batch)
        run.told([item.state.path for item in batch], [])

    def _point(self, sha: str, items: list[Prepared], vectors: dict[str, Any]) -> IndexPoint:
        paths = sorted(set(self.catalog.paths_for(sha)) | {item.state.path for item in items})
        first = items[0]
        source = self._source(paths)
        payload = build_payload(sha, paths, first.state.size, first.meta, source, first.hashes)
        payload["model"] = next(iter(vectors))  # the active model when it was embedded
        if first.ocr_text is not None:
            payload["ocr_text"] = first.ocr_text
        return IndexPoint(point_id(sha), vectors, payload)

    def _source(self, paths: Sequence[str]) -> str:
        """The payload source: upload for content held only in the uploads store, else library."""
        uploads = self.settings.uploads_dir
        return "upload" if all(Path(p).is_relative_to(uploads) for p in paths) else "library"

    def _attach(self, item: Known, run: _Run) -> None:
        previous = run.records.get(item.state.path)
        self._detach_old_content(run, item.state.path, item.sha256)
        paths = sorted(set(self.catalog.paths_for(item.sha256)) | {item.state.path})
        self.index.set_payload(point_id(item.sha256), path_fields(paths))
        self.catalog.mark_indexed([(item.state, item.sha256)], self.model_id)
        if previous is not None and previous.sha256 == item.sha256:
            run.report.unchanged += 1  # touched, same content
        else:
            run.report.duplicates += 1
            run.report.indexed += 1
        run.told([item.state.path], [])

    def _fail(self, item: Failed, run: _Run) -> None:
        log.info("failed: %s: %s", item.state.path, item.reason)
        self._detach_old_content(run, item.state.path, None)
        self.catalog.mark_failed(item.state, item.sha256, item.reason)
        run.report.failed.append((item.state.path, item.reason))
        run.told([], [(item.state.path, item.reason)])

    def _detach_old_content(self, run: _Run, path: str, new_sha: str | None) -> None:
        """A file whose content changed no longer belongs to its old point."""
        record = run.records.get(path)
        if record is None or not record.sha256:
            return  # paths_for() only lists indexed paths, so a failed file's hash is harmless
        if record.sha256 != new_sha:
            remaining = [p for p in self.catalog.paths_for(record.sha256) if p != path]
            self._set_paths(record.sha256, remaining)

    def _set_paths(self, sha: str, paths: list[str]) -> None:
        if paths:
            self.index.set_payload(point_id(sha), path_fields(paths))
        else:
            self.index.delete([point_id(sha)])


@dataclass
class _Run:
    """One ingest call's state: an Ingester is shared by a worker's concurrent tasks, so
    nothing of one call may live on it."""

    report: IndexReport
    progress: ProgressFn
    on_batch: BatchFn | None
    should_stop: StopFn | None
    records: Mapping[str, FileRecord]  # what the catalog knew of the files before
    known_shas: set[str]  # contents this model has embedded: only their paths need recording
    ensured: set[str]  # models whose vector space this run has made sure of
    side: int  # the largest input side of the models: decoding keeps that much

    def stopping(self, fresh: bool) -> bool:
        return self.should_stop is not None and self.should_stop(fresh)

    def told(self, done: list[str], failures: list[tuple[str, str]]) -> None:
        if self.on_batch is not None:
            self.on_batch(done, failures)


class Indexer:
    """The synchronous `pixseek index`: scan, let go of deleted files, ingest the rest."""

    def __init__(self, ingester: Ingester) -> None:
        self.ingester = ingester
        self.settings = ingester.settings
        self.catalog = ingester.catalog
        self.index = ingester.index

    def run(self, paths: Iterable[str], progress: ProgressFn | None = None) -> IndexReport:
        """Bring the index in line with the image files under paths."""
        started = time.monotonic()
        plan = plan_scan(self.settings, self.catalog, self.ingester.model_id, paths)
        removed = self.ingester.remove(plan.gone, plan.records)
        catch_up(self.index)  # places and words for points of an earlier release
        report = self.ingester.ingest(plan.todo, plan.records, progress)
        report.unchanged += plan.unchanged
        report.removed = removed
        report.skipped = plan.skipped
        self.index.flush()
        if report.embedded:
            self.index.optimize()
        report.seconds = time.monotonic() - started
        return report
