"""The app's one near-duplicate grouping and one spatial re-ranker, made on first use: both
keep what they worked out (groups, local features) for every later request."""

from __future__ import annotations

from flask import current_app

from pixseek.quality.duplicates import Duplicates
from pixseek.quality.marks import DistinctMarks
from pixseek.search.rerank import FeatureFiles, Reranker, thumbnail_loader
from web.services import WebServices


def _services() -> WebServices:
    found: WebServices = current_app.extensions["pixseek"]
    return found


def duplicates() -> Duplicates:
    """Groups worked out once, again when the index or the marks change; the "not duplicates"
    marks live in the store."""
    found: Duplicates | None = current_app.extensions.get("pixseek_duplicates")
    if found is None:
        services = _services()
        marks = DistinctMarks(services.library.database)
        found = Duplicates(services.library.index, marks, services.settings.thumbs_dir)
        current_app.extensions["pixseek_duplicates"] = found
    return found


def reranker() -> Reranker:
    """Re-ranks image queries with the candidates' features kept beside their thumbnails (or
    described from the grid thumbnail once); caches them in memory too."""
    found: Reranker | None = current_app.extensions.get("pixseek_reranker")
    if found is None:
        thumbs = _services().settings.thumbs_dir
        found = Reranker(thumbnail_loader(thumbs), files=FeatureFiles(thumbs))
        current_app.extensions["pixseek_reranker"] = found
    return found
