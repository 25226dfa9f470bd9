"""Schemathesis over the real app: every operation of the OpenAPI document, every check.

The app is a real `pixseek serve` of its own (embedded mode, tiny model, a library of real
JPEGs, login on), so the reindexes, rescans, backups, uploads, token deletions and cancels the
run sends leave the other tests' site alone, and a second Celery app never shares this
process with the site's. (Not through schemathesis's WSGI transport: its ignored_auth probe
passes requests-only arguments to werkzeug there and errors on every operation, in 4.32.)

Every phase runs (examples, coverage, fuzzing, stateful) with a fixed seed, derandomized, and
a bounded number of examples per operation: PIXSEEK_TEST_SCHEMATHESIS_EXAMPLES (default 100,
schemathesis's own default; about a minute on two cores)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic

from pixseek.store.users import UserStore
from tests.conftest import sqlite_store
from tests.integration.services import (
    indexed_rows,
    pixseek_env,
    served_url,
    start_pixseek,
    stop,
    wait_for,
)
from tests.web.conftest import (
    ADMIN_PASSWORD,
    LIBRARY_PHOTOS,
    PICTURE_SIZE,
    SECRET_KEY,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_FILES,
    Site,
    Visitor,
    assert_error,
    make_token,
)
from tests.web.photos import write_jpegs

SEED = 20240611
MAX_EXAMPLES = int(os.environ.get("PIXSEEK_TEST_SCHEMATHESIS_EXAMPLES", "75"))
# Valid by the schema, yet refused for what no schema can say: a query image that does not
# decode, a query term weighted 0, a model name that loads nothing here, more photos to copy
# for an eval than the library holds, a timeline cursor no page gave (any text fits the
# schema), a filter date that is no date (facets). 422 is right for these.
SEMANTIC_422 = [
    "/api/v1/search", "/api/v1/admin/model", "/api/v1/eval", "/api/v1/timeline", "/api/v1/facets"
]  # fmt: skip
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# More files than PIXSEEK_UPLOAD_MAX_FILES (the document's maxItems) is a request too large: 413.
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"]


@dataclass
class Run:
    """What a run did and found, counted as the schemathesis CLI counts it."""

    statistic: Statistic = field(default_factory=Statistic)
    requests: int = 0
    by_phase: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.statistic.unique_failures_map)

    def summary(self) -> str:
        return (
            f"{self.requests} requests ({self.statistic.total_cases} cases), "
            f"{self.server_errors} server errors, {self.failures} distinct failures, "
            f"{len(self.errors)} errors; requests by phase: {dict(self.by_phase)}"
        )

    def report(self) -> str:
        lines = [self.summary()]
        for label, groups in sorted(self.statistic.failures.items()):
            for group in groups.values():
                status = group.response.status_code if group.response else None
                lines += [f"- {label} [{status}] {f.title}: {f.message}" for f in group.failures]
                lines.append(f"    {(group.code_sample or '')[:800]}")
        return "\n".join(lines + [f"! {error}" for error in self.errors])


def config(token: str, max_examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "continue-on-failure": True,
            "generation": {"max-examples": max_examples, "deterministic": True},
            "checks": {"enabled": True},
            "headers": {"Authorization": f"Bearer {token}"},
            "operations": [
                {
                    "include-path": path,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*POSITIVE_STATUSES, "422"]
                        }
                    },
                }
                for path in SEMANTIC_422
            ]
            + [
                {
                    "include-path": "/api/v1/uploads",
                    "checks": {
                        "negative_data_rejection": {
                            "expected-statuses": [*NEGATIVE_STATUSES, "413"]
                        },
                        # more `modified` times than files: a count no schema can tie together
                        "positive_data_acceptance": {
                            "expected-statuses": [*POSITIVE_STATUSES, "422"]
                        },
                    },
                }
            ],
        }
    )


def run_schemathesis(url: str, token: str, max_examples: int) -> Run:
    schema = schemathesis.openapi.from_url(
        url + "api/v1/openapi.json", config=config(token, max_examples)
    )
    return execute(schema)


def execute(schema: Any) -> Run:
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.statistic.on_scenario_finished(event.recorder)
            responses = [i.response for i in event.recorder.interactions.values()]
            run.requests += len(responses)
            run.by_phase[event.phase.value] += len(responses)
            run.server_errors += sum(r is not None and r.status_code >= 500 for r in responses)
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.format()}"[:3000])
        elif isinstance(event, events.FatalError):
            raise event.exception
    return run


@dataclass(frozen=True)
class Served:
    url: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real `pixseek serve` of its own (login on, a library of real JPEGs, indexed): the
    reindexes, rescans, backups, uploads, token deletions and cancels of the run stay there."""
    root = tmp_path_factory.mktemp("schemathesis")
    write_jpegs(root / "library", range(LIBRARY_PHOTOS), PICTURE_SIZE)
    database = sqlite_store(root / "data")
    users = UserStore(database)
    admin = users.set_user("admin", ADMIN_PASSWORD, "admin")
    token = users.create_token(admin, "schemathesis", "admin")[1]
    database.close()
    env = pixseek_env(
        auth="on", secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD,
        upload_max_bytes=str(UPLOAD_MAX_BYTES), upload_max_files=str(UPLOAD_MAX_FILES),
    )  # fmt: skip
    log = root / "serve.log"
    serve = start_pixseek(root / "data", "serve", str(root / "library"), env=env, log=log)
    try:
        url = wait_for(lambda: served_url(log), 120, "serve to listen")
        wait_for(lambda: indexed_rows(root / "data") == LIBRARY_PHOTOS, 120, "the library indexed")
        yield Served(url, token)
    finally:
        stop(serve)


def test_schemathesis_finds_no_failure_with_every_check(served: Served) -> None:
    run = run_schemathesis(served.url, served.token, MAX_EXAMPLES)
    print(run.report())
    assert run.requests > 1000, run.summary()  # every operation was exercised, not skipped
    assert run.failures == 0 and not run.errors, run.report()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_answer_of_every_operation_has_its_schema(site: Site, nobody: Visitor) -> None:
    document = nobody.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    for method, path, operation in operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            where = f"{method} {path} {status}"
            if status in {"204", "304"}:
                assert "content" not in response, where
                continue
            assert response["content"], where
            for media, content in response["content"].items():
                if media == "application/json":
                    name = content["schema"]["$ref"].rsplit("/", 1)[1]
                    assert name in schemas, where
                    if int(status) >= 400 and path != "/api/v1/ready":
                        assert name == "Error", where
                else:
                    files = ("application/octet-stream", "text/csv")  # CSV: a job's failures
                    assert media.startswith("image/") or media in files, where
        if "security" in operation:
            assert {"401", "403"} <= set(responses), f"{method} {path}"
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True
            assert "422" in responses, f"{method} {path}"
        assert "413" in responses, f"{method} {path}: any body is held to its route's limit"


def test_the_document_names_the_real_cookie_and_the_multipart_upload(
    site: Site, nobody: Visitor
) -> None:
    document = nobody.get("/api/v1/openapi.json").json
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == schemes["session"] | {"in": "cookie", "name": "pixseek_session"}
    assert site.app.config["SESSION_COOKIE_NAME"] == "pixseek_session"
    assert schemes["csrf"] == schemes["csrf"] | {"in": "header", "name": "X-CSRF-Token"}
    search = document["paths"]["/api/v1/search"]["post"]
    assert search["security"] == [{"bearer": []}, {"session": [], "csrf": []}]
    upload = document["paths"]["/api/v1/uploads"]["post"]
    assert set(upload["responses"]) == {"202", "400", "401", "403", "413", "422"}
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    files = document["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]["files"]
    assert files["items"] == {"type": "string", "format": "binary"}
    assert files["maxItems"] == site.settings.upload_max_files


@pytest.mark.parametrize(
    "path", ["/api/v1/admin/rescan", "/api/v1/admin/backups", "/api/v1/admin/reindex",
             "/api/v1/admin/model", "/api/v1/admin/ocr", "/api/v1/tokens", "/api/v1/search"],
)  # fmt: skip
def test_a_post_without_its_required_body_answers_400(site: Site, path: str) -> None:
    """A rescan or a backup with no body at all answered 202 (the document marks it required)."""
    admin = Visitor(site.app.test_client(), token=make_token(site, "no body", "admin"))
    jobs_before = len(site.services.jobs.list(500))
    assert_error(admin.post(path), 400)
    assert len(site.services.jobs.list(500)) == jobs_before, "nothing was started"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/api/v1/search", {"POST"}), ("DELETE", "/api/v1/jobs/abc", {"GET", "HEAD"}),
     ("GET", "/api/v1/tokens/abc", {"DELETE"}), ("TRACE", "/api/v1/health", {"GET", "HEAD"})],
)  # fmt: skip
def test_a_method_a_route_does_not_take_answers_405_with_allow(
    nobody: Visitor, method: str, path: str, allowed: set[str]
) -> None:
    answer = nobody.client.open(path, method=method)
    assert_error(answer, 405)
    assert set(answer.headers["Allow"].split(", ")) - {"OPTIONS"} == allowed
