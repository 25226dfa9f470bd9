"""Shared fixtures: isolated settings in a temporary data directory and the tiny real model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embed import Embedder, parse_model_spec
from pixseek.settings import Settings, load_settings

TINY_MODEL = "pixseek-tiny"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PIXSEEK_ setting of the developer's leaks into a test; no test touches the network."""
    for name in list(os.environ):
        if name.startswith("PIXSEEK_") and not name.startswith("PIXSEEK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_embedder() -> Embedder:
    """The project's tiny OpenCLIP model (random weights, fixed seed), loaded once."""
    embedder = Embedder(parse_model_spec(TINY_MODEL), device="cpu")
    embedder.load()
    return embedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", model=TINY_MODEL, device="cpu")
