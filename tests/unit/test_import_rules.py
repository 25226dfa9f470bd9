"""The import rules of pyproject.toml's [tool.importlinter], checked on the whole tree: the
composition root (cli) -> web, workers -> pixseek -> embed, no Flask or Celery in the core, and
no circles between the core's rooms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_rule_is_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    answer = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "0 broken" in answer.stdout
