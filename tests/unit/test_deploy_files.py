"""The deployment files: the compose files against the Compose specification's JSON schema,
`.env.example` against what the compose files interpolate and what the settings read, and what
`docker compose up --scale worker=N` needs.

The schema is vendored (tests/unit/data/, with its source in README.md there): tests reach no
network. CI also runs `docker compose config` on the same files
(.github/workflows/server-tests.yml), which resolves the ${...} variables as Docker does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pixseek.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
COMPOSE = ROOT / "docker-compose.yml"
# docker-compose.yml and the files layered over it (deploy/**/docker-compose*.yml).
COMPOSE_FILES = [COMPOSE, *sorted((ROOT / "deploy").glob("**/docker-compose*.yml"))]
ENV_EXAMPLE = ROOT / ".env.example"
# ${NAME}, ${NAME:-default}, ${NAME:?error} and $NAME; $$ is a literal dollar sign.
INTERPOLATED = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# A variable named in .env.example, set or left commented out at its default.
NAMED = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
# The Qdrant image with its tag (empty when it has none).
QDRANT_IMAGE = re.compile(r"qdrant/qdrant(?![\w/-])(?::([\w.-]+))?")


def load(path: Path) -> dict[str, Any]:
    # PyYAML resolves the <<: merge keys the compose files use, as Compose does.
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path.name}: not a mapping"
    return document


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def compose_validator() -> Any:
    try:
        import jsonschema
    except ImportError:
        pytest.fail(
            "the package jsonschema is missing: it belongs in pyproject.toml's test extra "
            "(pip install -e '.[test]')"
        )
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator: Any, document: dict[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    return [f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in errors]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_compose_files_follow_the_compose_specification(compose_validator: Any, path: Path) -> None:
    assert schema_errors(compose_validator, load(path)) == []


def test_the_schema_check_catches_a_misspelt_key(compose_validator: Any) -> None:
    document = load(COMPOSE)
    document["services"]["worker"]["comand"] = ["worker"]
    assert any("comand" in error for error in schema_errors(compose_validator, document))


def env_example_names() -> set[str]:
    return set(NAMED.findall(ENV_EXAMPLE.read_text()))


def interpolated(path: Path) -> set[str]:
    return {braced or bare for braced, bare in INTERPOLATED.findall(path.read_text())}


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_env_example_names_every_variable_the_compose_files_use(path: Path) -> None:
    assert interpolated(path) - env_example_names() == set()


def test_env_example_names_every_setting_and_only_settings() -> None:
    settings = {f"PIXSEEK_{name.upper()}" for name in Settings.model_fields}
    named = {name for name in env_example_names() if name.startswith("PIXSEEK_")}
    assert settings - named == set(), "settings missing from .env.example"
    assert named - settings == set(), ".env.example names PIXSEEK_ variables no setting reads"


def test_env_example_leaves_the_secrets_blank() -> None:
    text = ENV_EXAMPLE.read_text()
    for name in ("PIXSEEK_SECRET_KEY", "PIXSEEK_ADMIN_PASSWORD"):
        assert re.search(rf"^{name}=$", text, re.MULTILINE), f"{name} should be set and empty"


def services(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from load(path).get("services", {}).items()


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_workers_can_be_scaled(path: Path) -> None:
    # A container name, a host port or a hostname can be held by one container only; the
    # hostname would also give every worker the same Celery name, and so the same claims.
    worker = dict(services(path)).get("worker", {})
    assert {"container_name", "ports", "hostname"} & worker.keys() == set()


def test_web_and_worker_see_the_same_files_at_the_same_paths() -> None:
    # The catalog and the index store absolute paths: a worker reads a file, the web app
    # serves it, by the same path.
    found = dict(services(COMPOSE))
    targets = {name: [v["target"] for v in found[name]["volumes"]] for name in ("web", "worker")}
    assert targets["web"] == targets["worker"]
    assert found["web"]["environment"]["PIXSEEK_DATA_DIR"] in targets["web"]


def test_the_app_waits_for_healthy_services() -> None:
    found = dict(services(COMPOSE))
    for name in ("web", "worker"):
        assert found[name]["env_file"] == ".env"
        for service, condition in found[name]["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in found[service], f"{service} has no healthcheck"
    assert {"qdrant", "redis"} <= found["web"]["depends_on"].keys()
    assert "--appendonly" in found["redis"]["command"]


def deployment_texts() -> Iterator[tuple[Path, str]]:
    paths = [*COMPOSE_FILES, *sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))]
    paths.append(ROOT / ".github" / "workflows" / "server-tests.yml")
    for path in paths:
        yield path, path.read_text()


def test_one_pinned_qdrant_version_everywhere() -> None:
    tags = {rel(path): QDRANT_IMAGE.findall(text) for path, text in deployment_texts()}
    found = {tag for in_file in tags.values() for tag in in_file}
    assert len(found) == 1, tags
    assert re.fullmatch(r"v\d+\.\d+\.\d+", found.pop()), "pin a release, not a moving tag"


def test_the_distributed_example_joins_every_peer_to_the_first() -> None:
    path = ROOT / "deploy" / "qdrant-distributed" / "docker-compose.yml"
    peers = {name: s for name, s in services(path) if name.startswith("qdrant")}
    assert len(peers) == 3
    first = peers.pop("qdrant")
    assert first["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
    assert "--bootstrap" not in first["command"]
    uri = first["command"][first["command"].index("--uri") + 1]
    for peer in peers.values():
        assert peer["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert peer["command"][peer["command"].index("--bootstrap") + 1] == uri


def test_the_kubernetes_example_is_complete() -> None:
    folder = ROOT / "deploy" / "k8s"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        documents = [d for d in yaml.safe_load_all((folder / resource).read_text()) if d]
        assert documents and all({"apiVersion", "kind"} <= d.keys() for d in documents), resource
