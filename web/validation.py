"""Request validation at the edge: one pydantic model per endpoint, answering 400/415/422 with
what was wrong, and the record of every endpoint from which the OpenAPI document is written."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from flask import Blueprint, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from web.auth import UNSAFE_METHODS, require_role
from web.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])
JSON = "application/json"
MULTIPART = "multipart/form-data"


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(description="where: a dotted path such as filters.folders.0, or (body)")
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: int
    message: str = Field(description="what was wrong, in words a person can act on")
    details: list[FieldError] = Field(
        default_factory=list, description="validation errors only: each field that is wrong"
    )


class Error(BaseModel):
    """Every API error: the status again, a message, and for validation errors the fields."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


# Strings a request carries may reach the filesystem (folders), SQLite (token names) or the
# index (cameras, formats, ids); a NUL byte is refused in every one of them, by the same rule
# the document states as a pattern. (pydantic refuses unpaired surrogates itself.)
NO_NUL = r"^[^\x00]*$"
# What str.strip() removes, spelled out: regex engines disagree on what \s covers.
_BLANKS = "".join(f"\\u{code:04x}" for code in range(0x3001) if chr(code).isspace())
NOT_BLANK = rf"^[^\x00]*[^\x00{_BLANKS}][^\x00]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL})]
Name = Annotated[
    str,
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"pattern": NOT_BLANK}),
]


@dataclass(frozen=True)
class Answer:
    """One more status a route answers with: its description, and the model of its JSON body
    (None: the error shape for 4xx/5xx, the success body for 2xx, no body for 304)."""

    description: str
    model: type[BaseModel] | None = None


@dataclass(frozen=True)
class Endpoint:
    """What the OpenAPI document says of one route."""

    rule: str
    method: str
    summary: str
    role: str | None
    body: type[BaseModel] | None  # a JSON body, validated into the view's `body=` argument
    form: type[BaseModel] | None  # a multipart body the view reads itself; documented only
    query: type[BaseModel] | None
    status: int
    response: type[BaseModel] | tuple[str, ...] | None  # a JSON model, file media types, or none
    answers: Mapping[int, Answer] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)  # of the success answer


ENDPOINTS: list[Endpoint] = []


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str = "GET",
    *,
    response: type[BaseModel] | tuple[str, ...] | None,
    role: str | None = "viewer",
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    status: int = 200,
    answers: Mapping[int, str | Answer] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Route a view on bp; validate its JSON body and query string into `body=` and `query=`
    arguments, check the caller's role, and record it for the OpenAPI document.

    `answers` are the statuses the view itself answers with besides success (404 for an unknown
    id, 409, 503...); those of the role check, the body and the query are added here."""

    extra = {code: a if isinstance(a, Answer) else Answer(a) for code, a in (answers or {}).items()}

    def decorate(view: F) -> F:
        ENDPOINTS.append(
            Endpoint(
                (bp.url_prefix or "") + rule, method, (view.__doc__ or "").strip(), role,
                body, form, query, status, response, extra, headers or {},
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
    """The request's JSON document. 400 when there is none or it does not parse (the request
    cannot be read), 415 when it is sent as another type; 422 is for a document that is wrong."""
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, "this needs a JSON body (send {} when there is nothing to say)")
    if not request.is_json:
        raise ApiError(415, "send the body as JSON, with Content-Type: application/json")
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise ApiError(400, "the request body is not valid JSON") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity; JSON not


def openapi_document(
    title: str, version: str, session_cookie: str, csrf_header: str
) -> dict[str, Any]:
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
            "securitySchemes": _security_schemes(session_cookie, csrf_header),
        },
    }


def _security_schemes(session_cookie: str, csrf_header: str) -> dict[str, Any]:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token, made on the admin page or by POST /api/v1/tokens",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": session_cookie,
            "description": "the browser's session, from logging in on /login",
        },
        "csrf": {
            "type": "apiKey",
            "in": "header",
            "name": csrf_header,
            "description": "the session's CSRF token (the csrf-token meta tag of every page); "
            "a session needs it on POST, PUT, PATCH and DELETE, a bearer token never",
        },
    }


def _operation(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:

    operation: dict[str, Any] = {"summary": spec.summary.splitlines()[0] if spec.summary else ""}
    if spec.summary:
        operation["description"] = spec.summary
    params = _parameters(spec)
    if params:
        operation["parameters"] = params
    if spec.body is not None:
        content = {JSON: {"schema": _schema_ref(spec.body, schemas)}}
        operation["requestBody"] = {"required": True, "content": content}
    elif spec.form is not None:
        content = {MULTIPART: {"schema": _schema_ref(spec.form, schemas)}}
        operation["requestBody"] = {"required": True, "content": content}
    operation["responses"] = _responses(spec, schemas)
    if spec.role is not None:
        session: dict[str, list[str]] = {"session": []}
        if spec.method in UNSAFE_METHODS:  # a session changes something only with its CSRF token
            session["csrf"] = []
        operation["security"] = [{"bearer": []}, session]
        operation["x-role"] = spec.role
    return operation


# A path segment as the router matches it: not empty, no slash.
PATH_SEGMENT = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def _parameters(spec: Endpoint) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": PATH_SEGMENT}
        for name in re.findall(r"<(?:\w+:)?(\w+)>", spec.rule)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            required = name in schema.get("required", [])
            params.append({"name": name, "in": "query", "required": required, "schema": prop})
    return params


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        if schemas.setdefault(name, definition) != definition:
            raise RuntimeError(f"two different models are named {name} in the API document")
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# The statuses every route of a kind answers with, whatever the view does. Any request's body is
# held to its route's limit by its Content-Length before it is read (web/limits.py).
BODY_LIMIT_ANSWER = {413: Answer("a request body over this route's limit (refused unread)")}
# Any request naming a host this server does not answer to, or a post from another site's page
# (web/origins.py).
SITE_ANSWER = {403: Answer("a Host this server does not answer to, or another site's page")}
ROLE_ANSWERS = {
    401: Answer("not logged in, or an unknown or revoked API token"),
    403: Answer(
        "a role too low for this, (with a session cookie) a missing or wrong CSRF token, a Host "
        "this server does not answer to, or another site's page"
    ),
}
JSON_BODY_ANSWERS = {
    400: Answer("no body, or a body that is not valid JSON"),
    415: Answer("the body is not sent as application/json"),
    422: Answer("the request is invalid; details name each field that is wrong"),
}
QUERY_ANSWERS = {422: JSON_BODY_ANSWERS[422]}


def _responses(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    answers: dict[int, Answer] = {spec.status: Answer("success")} | BODY_LIMIT_ANSWER | SITE_ANSWER
    if spec.role is not None:
        answers |= ROLE_ANSWERS
    if spec.body is not None:
        answers |= JSON_BODY_ANSWERS
    if spec.query is not None:
        answers |= QUERY_ANSWERS
    answers |= spec.answers
    responses = {}
    for code, answer in sorted(answers.items()):
        responses[str(code)] = {"description": answer.description} | _content(
            spec, code, answer, schemas
        )
    responses[str(spec.status)] |= _headers(spec.headers)
    return responses


def _content(spec: Endpoint, code: int, answer: Answer, schemas: dict[str, Any]) -> dict[str, Any]:
    if answer.model is not None:
        return {"content": {JSON: {"schema": _schema_ref(answer.model, schemas)}}}
    if code >= 400:
        return {"content": {JSON: {"schema": _schema_ref(Error, schemas)}}}
    if code in (204, 304) or spec.response is None:
        return {}
    if isinstance(spec.response, tuple):  # a file: its bytes, in one of these media types
        return {"content": {media: {} for media in spec.response}}
    return {"content": {JSON: {"schema": _schema_ref(spec.response, schemas)}}}


def _headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    if not headers:
        return {}
    return {"headers": {name: {"required": True, "schema": s} for name, s in headers.items()}}
