"""Retrieval quality in the JSON API: near-duplicate groups, "not duplicates" marks, and the
eval run as a job (the admin page's Quality panel)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, get_args

from flask import Blueprint, Response, jsonify, send_file, url_for
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from pixseek.errors import NotFoundError
from pixseek.jobs.names import EVAL  # the web never imports the tasks
from pixseek.quality.duplicates import Group
from pixseek.quality.evaljob import (
    current_step,
    last_plot,
    last_report,
    latest_eval_job,
    start_eval,
)
from pixseek.quality.marks import MAX_MARKED
from pixseek.store.modelstate import model_id
from web import answers
from web.api_search import photo_json, services
from web.errors import ApiError
from web.quality import duplicates
from web.validation import Text, endpoint

bp = Blueprint("quality_api", __name__, url_prefix="/api/v1")
PhotoId = Annotated[Text, Field(min_length=1, max_length=100)]
T = TypeVar("T")


def _unique(values: Sequence[T]) -> Sequence[T]:
    if len(set(values)) != len(values):
        raise ValueError("names a value twice")
    return values


Unique = AfterValidator(_unique)
UNIQUE_ITEMS: JsonDict = {"uniqueItems": True}
# pixseek.quality.transforms.TRANSFORMS, spelled out for the document (a test checks they agree)
Transform = Literal[
    "downscale", "jpeg", "crop", "rotate90", "rotate10", "flip", "perspective", "colour",
    "overlay", "border",
]  # fmt: skip
Quantization = Literal["none", "int8", "binary", "pq"]
Precision = Literal["fp32", "int8"]
Ef = Annotated[int, Field(ge=1, le=4096)]


class DistinctBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[PhotoId] = Field(
        min_length=2,
        max_length=MAX_MARKED,
        description="photos that are not duplicates of one another: every pair is marked",
    )


class EvalBody(BaseModel):
    """A copy-detection eval (`pixseek eval --copies N`) and the configurations it compares."""

    # strict: "4" is not a number of copies, nor 0 a false (the document says integer, boolean)
    model_config = ConfigDict(extra="forbid", strict=True)
    copies: int = Field(
        ge=1, le=10_000, description="library photos to copy, each edited by every transform"
    )
    distractors: int = Field(
        0, ge=0, le=1_000_000, description="other library photos searched among, by their vectors"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="which photos are picked")
    transforms: Annotated[list[Transform], Unique] = Field(
        default_factory=lambda: list(get_args(Transform)),
        min_length=1, json_schema_extra=UNIQUE_ITEMS,
    )  # fmt: skip
    ef: Annotated[list[Ef], Unique] = Field(
        default_factory=lambda: [16, 64, 256], max_length=8, json_schema_extra=UNIQUE_ITEMS,
        description="hnsw_ef values compared with exact search",
    )  # fmt: skip
    quantizations: Annotated[list[Quantization], Unique] = Field(
        default_factory=lambda: list(get_args(Quantization)), json_schema_extra=UNIQUE_ITEMS,
        description="quantized ones search at PIXSEEK_HNSW_EF",
    )  # fmt: skip
    precisions: Annotated[list[Precision], Unique] = Field(
        default_factory=lambda: list(get_args(Precision)), json_schema_extra=UNIQUE_ITEMS,
        description="of the embeddings (fp32 always; int8 on a CPU)",
    )  # fmt: skip
    rerank: bool = Field(True, description="also measure spatial re-ranking")


def active_model() -> str:
    return model_id(services().library.model_state().active)


@endpoint(
    bp, "/duplicates", response=answers.DuplicateList,
    answers={503: "the index does not answer"},
)  # fmt: skip
def duplicate_groups() -> Response:
    """Groups of near-duplicate photos (largest first), the suggested one to keep first."""
    found = duplicates()
    groups = found.groups(active_model())
    return jsonify(
        {
            "groups": [_group_json(g) for g in groups],
            "photos": sum(len(g.ids) for g in groups),
            "seconds": round(found.seconds, 3),
            "thresholds": found.calibrated.__dict__,
        }
    )


@endpoint(
    bp, "/duplicates/distinct", "POST", role="admin", body=DistinctBody,
    response=answers.DistinctMarked,
    answers={422: "invalid: fewer than two ids, or more than the most one mark names"},
)  # fmt: skip
def mark_distinct(body: DistinctBody) -> Response:
    """Mark photos "not duplicates": no pair of them is proposed again (ids that name no
    photo are ignored)."""
    marked = duplicates().mark_distinct(body.ids)
    return jsonify({"marked": marked})


@endpoint(
    bp, "/eval", "POST", role="admin", body=EvalBody, status=202, response=answers.JobStarted,
    answers={
        409: "an eval is running already, or a model switch is",
        422: "invalid, or more copies than the library holds photos (details: copies)",
    },
)  # fmt: skip
def start_eval_job(body: EvalBody) -> tuple[Response, int]:
    """Measure search quality on copies of library photos (a job): Recall@K, mAP, MRR, nDCG
    and latency of each configuration; GET /api/v1/eval answers the report once it ends."""
    found = services()
    held = found.library.index.count()
    if body.copies > held:
        message = f"the library holds {held} photos: copy at most that many"
        raise ApiError(422, f"invalid request: copies: {message}",
                       [{"field": "copies", "message": message}])  # fmt: skip
    job = start_eval(found.library, found.jobs, body.model_dump())
    found.send_task(EVAL, [job.id])
    return jsonify({"job": job.as_dict()}), 202


@endpoint(bp, "/eval", role="admin", response=answers.EvalAnswer)
def eval_status() -> Response:
    """The newest eval job and what it is doing, and the last report (as `pixseek eval
    --json` prints it) with a link to its Recall@K curves."""
    settings = services().settings
    job = latest_eval_job(settings, services().jobs)
    kept = last_report(settings)
    plot_url = url_for(".eval_plot", v=int(kept[1])) if kept and last_plot(settings) else None
    return jsonify(
        {
            "job": job.as_dict() if job else None,
            "step": current_step(settings) if job and not job.finished else None,
            "report": kept[0] if kept else None,
            "report_at": kept[1] if kept else None,
            "plot_url": plot_url,
        }
    )


@endpoint(
    bp, "/eval/plot.png", role="admin", response=("image/png",),
    answers={404: "no eval has ended well yet"},
)  # fmt: skip
def eval_plot() -> Response:
    """The last report's Recall@K curves, one line per configuration."""
    path = last_plot(services().settings)
    if path is None:
        raise NotFoundError("no eval has ended well yet: start one with POST /api/v1/eval")
    return send_file(path, mimetype="image/png", max_age=0)


def _group_json(group: Group) -> dict[str, Any]:
    ordered = [group.keep, *(i for i in group.ids if i != group.keep)]
    return {
        "id": group.id,
        "keep": group.keep,
        "photos": [_photo(i, group.payloads[i]) for i in ordered],
    }


def _photo(point_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return photo_json(point_id, payload) | {"bytes": payload.get("bytes")}
