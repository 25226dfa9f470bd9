"""`pixseek migrate-index`: an embedded library's index copied to a Qdrant collection (here
qdrant-client's local mode; the same class drives a server) answers searches as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from embed import Embedder
from pixseek.errors import ConflictError
from pixseek.index.base import SearchFilters
from pixseek.index.server.collection import QdrantServerIndex
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.library import Library
from pixseek.ops.migrate import copy_index
from pixseek.settings import Settings
from tests.imagegen import textured_rgb, write_image
from tests.integration.test_cli import pixseek


@pytest.fixture
def library(settings: Settings, tiny_embedder: Embedder, tmp_path: Path) -> Library:
    opened = Library(settings).open()
    opened.use_embedder(tiny_embedder)
    for seed in range(40):
        write_image(tmp_path / "lib" / f"{seed}.png", textured_rgb(seed))
    indexer = Indexer(Ingester.of(opened))
    assert indexer.run([str(tmp_path / "lib")]).embedded == 40
    return opened


def test_the_copy_answers_every_search_as_the_embedded_index(
    library: Library, tmp_path: Path
) -> None:
    target = QdrantServerIndex(QdrantClient(path=str(tmp_path / "server")), "pixseek")
    report = copy_index(library.catalog, library.model_state(), library.index, target)
    vector = library.embedder.model_id
    assert (report.vector, report.copied, report.missing, report.target_points) == (
        vector, 40, 0, 40
    )  # fmt: skip
    png = SearchFilters(formats=("png",))
    for seed in (0, 17, 39):
        query = library.embedder.embed_images([textured_rgb(seed)])[0]
        expected = library.index.search(vector, query, png, limit=10)
        copied = target.search(vector, query, png, limit=10)
        assert [h.id for h in copied] == [h.id for h in expected]
        assert copied[0].payload == expected[0].payload
        assert copied[0].score == pytest.approx(expected[0].score, abs=1e-3)
    again = copy_index(library.catalog, library.model_state(), library.index, target)
    assert again.target_points == 40  # a second run changes nothing
    library.close()
    target.close()


def test_no_copy_during_a_model_switch(library: Library, tmp_path: Path) -> None:
    state = library.model_store.begin("pixseek-tiny-b", "job-1")
    target = QdrantServerIndex(QdrantClient(path=str(tmp_path / "server")), "pixseek")
    with pytest.raises(ConflictError, match="model switch"):
        copy_index(library.catalog, state, library.index, target)
    library.close()
    target.close()


def test_the_command_says_when_the_server_does_not_answer(tmp_path: Path) -> None:
    empty = pixseek(tmp_path / "data", "migrate-index", "http://127.0.0.1:9")
    assert empty.returncode == 1 and "nothing to copy" in empty.stderr
    write_image(tmp_path / "lib" / "one.png", textured_rgb(1))
    assert pixseek(tmp_path / "data", "index", str(tmp_path / "lib")).returncode == 0
    refused = pixseek(
        tmp_path / "data", "migrate-index", "http://127.0.0.1:9",
        env={"PIXSEEK_QDRANT_RETRIES": "0"},
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "error: the Qdrant server did not answer" in refused.stderr
    refused = pixseek(
        tmp_path / "data", "migrate-index", "http://127.0.0.1:9",
        env={"PIXSEEK_QDRANT_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert refused.returncode == 2 and "without PIXSEEK_QDRANT_URL" in refused.stderr
