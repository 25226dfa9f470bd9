"""Text in pictures (PIXSEEK_OCR=on): Tesseract on rendered text, at ingest and as a job for
photos indexed before, on real files, the real Edge index and the tiny real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embed import Embedder
from pixseek.errors import ConflictError
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.photos import ocr
from pixseek.photos.identity import file_sha256, point_id
from pixseek.photos.ocr import MAX_OCR_CHARS, OcrUnavailable, normalise_text, read_text
from pixseek.settings import Settings, load_settings
from pixseek.switch.ocrfill import abandon_ocr_jobs, run_ocr, start_ocr
from tests.conftest import TINY_MODEL
from tests.imagegen import text_rgb, textured_rgb, write_image

pytestmark = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract is not installed (scripts/test installs tesseract-ocr tesseract-ocr-eng)",
)


def open_library(settings: Settings, embedder: Embedder) -> Library:
    library = Library(settings)
    library.use_embedder(embedder)
    return library


@pytest.fixture
def ocr_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", model=TINY_MODEL, device="cpu", ocr="on")


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "lib"
    return {
        "sign": write_image(folder / "sign.png", text_rgb("HARBOUR 2041")),
        "plain": write_image(folder / "plain.jpg", textured_rgb(7, (320, 240))),
    }


def ocr_text_of(library: Library, path: Path) -> str | None:
    payload = library.index.retrieve([point_id(file_sha256(path))])[0].payload
    return payload.get("ocr_text")


def test_tesseract_reads_a_rendered_word() -> None:
    assert read_text(text_rgb("Invoice 2041")).lower() == "invoice 2041"
    assert read_text(textured_rgb(3, (320, 240))) == ""  # texture is not read as words


def test_text_is_whitespace_normalised_and_bounded() -> None:
    assert normalise_text("  two\n\nlines\t here ") == "two lines here"
    long = normalise_text("word " * 1000)
    assert len(long) <= MAX_OCR_CHARS and long.endswith("word")


def test_ingest_with_ocr_on_stores_the_text(
    ocr_settings: Settings, tiny_embedder: Embedder, photos: dict[str, Path]
) -> None:
    with open_library(ocr_settings, tiny_embedder) as library:
        report = Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        assert report.indexed == 2 and not report.failed
        assert ocr_text_of(library, photos["sign"]) == "HARBOUR 2041"
        assert ocr_text_of(library, photos["plain"]) == ""


def test_ingest_with_ocr_off_reads_nothing(
    settings: Settings, tiny_embedder: Embedder, photos: dict[str, Path]
) -> None:
    with open_library(settings, tiny_embedder) as library:
        Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        assert ocr_text_of(library, photos["sign"]) is None


def test_the_job_reads_photos_indexed_without_ocr_and_goes_on_where_it_stopped(
    settings: Settings, tiny_embedder: Embedder, photos: dict[str, Path]
) -> None:
    with open_library(settings, tiny_embedder) as library:
        Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        jobs = open_job_store(settings, library.database)
        first = start_ocr(library, jobs)
        with pytest.raises(ConflictError, match="running already"):
            start_ocr(library, jobs)
        run_ocr(library, jobs, first.id, claim=1, on_step=lambda: None)  # a step per photo
        done = jobs.get(first.id)
        assert done is not None and (done.state, done.done, done.total) == ("done", 2, 2)
        assert ocr_text_of(library, photos["sign"]) == "HARBOUR 2041"
        assert ocr_text_of(library, photos["plain"]) == ""

        library.index.set_payload(point_id(file_sha256(photos["sign"])), {"ocr_text": "kept"})
        again = start_ocr(library, jobs)  # only photos without text are read: none now
        run_ocr(library, jobs, again.id, claim=10, on_step=lambda: None)
        assert ocr_text_of(library, photos["sign"]) == "kept"


def test_a_cancelled_or_abandoned_job_ends(
    settings: Settings, tiny_embedder: Embedder, photos: dict[str, Path]
) -> None:
    with open_library(settings, tiny_embedder) as library:
        Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        jobs = open_job_store(settings, library.database)
        cancelled = start_ocr(library, jobs)
        jobs.request_cancel(cancelled.id)
        run_ocr(library, jobs, cancelled.id, claim=10, on_step=lambda: None)
        assert jobs.get(cancelled.id).state == "cancelled"  # type: ignore[union-attr]
        assert ocr_text_of(library, photos["sign"]) is None

        left = start_ocr(library, jobs)  # a restart of the embedded mode ends it
        assert abandon_ocr_jobs(jobs) == [left.id]
        assert jobs.get(left.id).state == "failed"  # type: ignore[union-attr]


def test_ocr_on_without_tesseract_says_how_to_install_it_once(
    ocr_settings: Settings,
    tiny_embedder: Embedder,
    photos: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ocr, "engine_path", lambda: None)  # as on a machine without it
    with open_library(ocr_settings, tiny_embedder) as library:
        with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr"):
            Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        assert library.index.count() == 0  # not a failure of every file


def test_an_engine_that_crashes_stores_no_text_and_the_next_job_reads_it(
    ocr_settings: Settings,
    tiny_embedder: Embedder,
    photos: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    crashing = tmp_path / "tesseract"
    crashing.write_text("#!/bin/sh\nkill -SEGV $$\n")  # as Tesseract dies on a bad picture
    crashing.chmod(0o755)
    monkeypatch.setattr(ocr, "engine_path", lambda: str(crashing))
    with open_library(ocr_settings, tiny_embedder) as library:
        report = Indexer(Ingester.of(library)).run([str(photos["sign"].parent)])
        assert report.indexed == 2 and not report.failed  # the photos are in, without text
        assert ocr_text_of(library, photos["sign"]) is None
        jobs = open_job_store(ocr_settings, library.database)
        failing = start_ocr(library, jobs)
        run_ocr(library, jobs, failing.id, claim=10, on_step=lambda: None)
        done = jobs.get(failing.id)
        assert done is not None and done.failed == 2
        assert "Tesseract failed (exit -11)" in done.failures[0][1]
        assert ocr_text_of(library, photos["sign"]) is None  # unknown, not "no text"

        monkeypatch.undo()  # the real engine again
        again = start_ocr(library, jobs)
        run_ocr(library, jobs, again.id, claim=10, on_step=lambda: None)
        assert ocr_text_of(library, photos["sign"]) == "HARBOUR 2041"
