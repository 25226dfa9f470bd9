"""One `pixseek eval` from start to end: the eval set, the models, the comparison, the duplicate
figures of a copy set. The library is opened to read only (its photos for copies, its vectors
as distractors); everything the eval writes goes into its own folder."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pixseek.errors import QueryError
from pixseek.library import Library
from pixseek.quality.copies import make_copy_set, pick_originals
from pixseek.quality.duplicates import DEFAULT_THRESHOLDS
from pixseek.quality.evalset import EvalSet, labelled_folder, queries_file
from pixseek.quality.evaluate import (
    Configuration,
    Evaluator,
    Plan,
    Progress,
    Report,
    VectorModel,
)
from pixseek.quality.pairs import measure_pairs
from pixseek.quality.transforms import TRANSFORMS
from pixseek.search.rerank import thumbnail_loader
from pixseek.settings import Settings
from pixseek.store.modelstate import model_id

if TYPE_CHECKING:
    from embed.model import Embedder


@dataclass(frozen=True)
class EvalRequest:
    """What to measure against (one of folder, queries, copies) and how."""

    folder: Path | None = None
    queries: Path | None = None
    corpus: tuple[Path, ...] = ()
    copies: int = 0
    seed: int = 0
    transforms: tuple[str, ...] = tuple(TRANSFORMS)
    distractors: int = 0
    out: Path | None = None  # the eval's own folder; None: DATA_DIR/eval
    models: tuple[str, ...] = ()  # model specs; none: every model with vectors in the index
    plan: Plan = field(default_factory=Plan)


def eval_folder(settings: Settings, request: EvalRequest) -> Path:
    return (request.out or settings.data_dir / "eval").expanduser().resolve()


def run_eval(settings: Settings, request: EvalRequest, progress: Progress | None = None) -> Report:
    """Measure every configuration of the plan; the library's index is only read."""
    with Library(settings) as library:
        return evaluate(library, request, progress)


def evaluate(library: Library, request: EvalRequest, progress: Progress | None = None) -> Report:
    """run_eval on a library already open (the worker's, in a `pixseek serve`)."""
    settings = library.settings
    say = progress or (lambda message: None)
    folder = eval_folder(settings, request)
    _refuse_library_folder(folder, library, settings)
    evalset = _evalset(request, library, folder)
    models = _models(library, request, settings)
    work = Path(tempfile.mkdtemp(prefix="indexes-", dir=_mkdir(folder)))
    try:
        evaluator = Evaluator(
            evalset, models, request.plan, work, library.index,
            thumbnail_loader(settings.thumbs_dir), say,
        )  # fmt: skip
        report = evaluator.run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if request.copies:
        first = next(iter(evaluator.embedded.values()))
        report.extra["duplicates"] = measure_pairs(
            evalset, first.vectors, first.hashes, DEFAULT_THRESHOLDS
        )
    report.details["folder"] = str(folder)
    return report


def _evalset(request: EvalRequest, library: Library, folder: Path) -> EvalSet:
    chosen = [bool(request.folder), bool(request.queries), bool(request.copies)]
    if sum(chosen) != 1:
        raise QueryError("give one of a labelled folder, --queries FILE or --copies N")
    if request.folder:
        evalset = labelled_folder(request.folder)
    elif request.queries:
        evalset = queries_file(request.queries, request.corpus)
    else:
        originals = pick_originals(library.index, request.copies, request.seed)
        evalset = make_copy_set(
            originals, folder / f"copies-{request.copies}-{request.seed}", request.seed,
            request.transforms,
        )  # fmt: skip
    evalset.distractors = request.distractors
    return evalset


def _models(
    library: Library, request: EvalRequest, settings: Settings
) -> dict[str, dict[str, VectorModel]]:
    """model id -> precision -> embedder, for the models asked for or, by default, every model
    with vectors in the index whose spec the library knows (the active one, a switch's)."""
    models: dict[str, dict[str, VectorModel]] = {}
    for spec in _specs(library, request, settings):
        models[model_id(spec)] = {
            precision: _embedder(spec, settings, precision)
            for precision in _precisions(request.plan.precisions, settings)
        }
    return models


def planned_configurations(library: Library, request: EvalRequest) -> list[Configuration]:
    """What a run of this request measures, in the order it measures them."""
    settings = library.settings
    precisions = _precisions(request.plan.precisions, settings)
    return [
        configuration
        for spec in _specs(library, request, settings)
        for configuration in request.plan.configurations(model_id(spec))
        if configuration.precision in precisions
    ]


def _specs(library: Library, request: EvalRequest, settings: Settings) -> list[str]:
    return list(request.models) or _indexed_specs(library) or [settings.model]


def _indexed_specs(library: Library) -> list[str]:
    state = library.model_state()
    held = set(library.index.vector_names())
    known = [s for s in (state.active, state.target, state.retired) if s]
    return [s for s in dict.fromkeys(known) if model_id(s) in held]


def _precisions(asked: Sequence[str], settings: Settings) -> list[str]:
    from embed.device import choose_device

    cpu = choose_device(settings.device) == "cpu"
    return ["fp32", *(p for p in asked if p != "fp32" and (p != "int8" or cpu))]


def _embedder(spec: str, settings: Settings, precision: str) -> Embedder:
    from embed import parse_model_spec
    from embed.model import Embedder  # torch loads here, only when the eval embeds

    cache = str(settings.model_cache_dir) if settings.model_cache_dir else None
    return Embedder(parse_model_spec(spec), settings.device, precision, cache)


def _refuse_library_folder(folder: Path, library: Library, settings: Settings) -> None:
    """The eval's own folder must not lie in a library folder (its copies would be indexed),
    unless inside the data directory, which scans skip."""
    if folder.is_relative_to(settings.data_dir):
        return
    for root in library.catalog.roots():
        if folder.is_relative_to(Path(root)):
            raise QueryError(f"{folder} lies in the library folder {root}: choose another --out")


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
