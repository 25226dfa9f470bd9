from __future__ import annotations

from pathlib import Path

import pytest

from pixseek.errors import SettingsError
from pixseek.settings import default_data_dir, load_settings


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIXSEEK_DATA_DIR", str(tmp_path / "lib"))
    monkeypatch.setenv("PIXSEEK_MODEL", "pixseek-tiny")
    monkeypatch.setenv("PIXSEEK_BATCH_SIZE", "64")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "lib"
    assert settings.model_spec.model_id == "pixseek-tiny--none"
    assert settings.batch_size == 64
    assert settings.index_dir == tmp_path / "lib" / "index"


def test_explicit_values_beat_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIXSEEK_MODEL", "pixseek-tiny")
    settings = load_settings(model="ViT-B-32:laion2b_s34b_b79k", data_dir=None)
    assert settings.model == "ViT-B-32:laion2b_s34b_b79k"


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "pixseek"
    assert load_settings().data_dir == tmp_path / "pixseek"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PIXSEEK_BATCH_SIZE", "0", "PIXSEEK_BATCH_SIZE"),
        ("PIXSEEK_BATCH_SIZE", "many", "PIXSEEK_BATCH_SIZE"),
        ("PIXSEEK_PRECISION", "int3", "PIXSEEK_PRECISION"),
        ("PIXSEEK_MODEL", "ViT-B-32", "does not say which weights"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
