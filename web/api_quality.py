"""Near-duplicates in the JSON API: the groups, and "not duplicates" marks."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from pixseek.quality.duplicates import Group
from pixseek.quality.marks import MAX_MARKED
from pixseek.store.modelstate import model_id
from web import answers
from web.api_search import photo_json, services
from web.quality import duplicates
from web.validation import Text, endpoint

bp = Blueprint("quality_api", __name__, url_prefix="/api/v1")
PhotoId = Annotated[Text, Field(min_length=1, max_length=100)]


class DistinctBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[PhotoId] = Field(
        min_length=2,
        max_length=MAX_MARKED,
        description="photos that are not duplicates of one another: every pair is marked",
    )


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


def _group_json(group: Group) -> dict[str, Any]:
    ordered = [group.keep, *(i for i in group.ids if i != group.keep)]
    return {
        "id": group.id,
        "keep": group.keep,
        "photos": [_photo(i, group.payloads[i]) for i in ordered],
    }


def _photo(point_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return photo_json(point_id, payload) | {"bytes": payload.get("bytes")}
