"""Request validation at the edge: one pydantic model per endpoint, answering 422 with what was
wrong, and the record of every endpoint from which the OpenAPI document is written."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    """An answer other than success: status, a message a person can act on, and field details."""

    def __init__(
        self, status: int, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass(frozen=True)
class Endpoint:
    """What the OpenAPI document says of one route."""

    rule: str
    method: str
    summary: str
    role: str | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    response: str  # "json", or a media type such as "image/webp"


ENDPOINTS: list[Endpoint] = []


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str = "GET",
    *,
    role: str | None = "viewer",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    status: int = 200,
    response: str = "json",
) -> Callable[[F], F]:
    """Route a view on bp; validate its JSON body and query string into `body=` and `query=`
    arguments, check the caller's role, and record it for the OpenAPI document."""
    from web.auth import require_role  # auth uses ApiError from here

    def decorate(view: F) -> F:
        ENDPOINTS.append(
            Endpoint(
                (bp.url_prefix or "") + rule, method, (view.__doc__ or "").strip(), role,
                body, query, status, response,
            )
        )  # fmt: skip

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if role is not None:
                require_role(role)
            if body is not None:
                kwargs["body"] = validated(body, _json_body())
            if query is not None:
                kwargs["query"] = validated(query, request.args.to_dict())
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view_func=wrapper, methods=[method])
        return wrapper  # type: ignore[return-value]

    return decorate


def validated(model: type[BaseModel], data: Any) -> Any:
    """The model built from data, or ApiError 422 naming each field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ApiError(422, f"invalid request: {summary}", details) from None


def _json_body() -> Any:
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the request body is not JSON (send Content-Type: application/json)")
    return data


def openapi_document(title: str, version: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document of every recorded endpoint."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for spec in ENDPOINTS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", spec.rule)
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


def _operation(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": spec.summary.splitlines()[0] if spec.summary else ""}
    if spec.summary:
        operation["description"] = spec.summary
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:\w+:)?(\w+)>", spec.rule)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            required = name in schema.get("required", [])
            params.append({"name": name, "in": "query", "required": required, "schema": prop})
    if params:
        operation["parameters"] = params
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(spec.body, schemas)}},
        }
    operation["responses"] = _responses(spec)
    if spec.role is not None:
        operation["security"] = [{"bearer": []}, {"session": []}]
        operation["x-role"] = spec.role
    return operation


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(spec: Endpoint) -> dict[str, Any]:
    media = "application/json" if spec.response == "json" else spec.response
    content: dict[str, Any] = {} if spec.status == 204 else {"content": {media: {}}}
    responses: dict[str, Any] = {str(spec.status): {"description": "success", **content}}
    error: dict[str, Any] = {"content": {"application/json": {}}}
    if spec.role is not None:
        responses["401"] = {"description": "not logged in, or an unknown token", **error}
        responses["403"] = {"description": f"needs the role {spec.role}", **error}
    if spec.body is not None or spec.query is not None:
        responses["422"] = {
            "description": "the request is invalid; details name each field",
            **error,
        }
    return responses
